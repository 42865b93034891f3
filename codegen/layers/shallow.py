"""Shallow networks (``network`` objects of feedforwardnet, fitnet, patternnet,
cascadeforwardnet, newrb, trainAutoencoder, ...) → IR, one function at a time.

The importer (``codegen.importers.shallow``) reads the network and hands each piece to
the converter registered under ``network.<kind>.<MATLAB function>``:

* ``network.processFcns.<f>``: one input processing step, or the reverse of one output
  processing step (record field ``reverse``), from its ``processSettings`` struct;
* ``network.weightFcn.<f>``: a weight that is not folded into its layer's ``nn.Linear``;
* ``network.transferFcn.<f>`` and ``network.netInputFcn.<f>``: a layer, i.e. its net input
  (weighted inputs and bias combined) and its transfer function, on one forward line.

Arrays stay in double precision, as MATLAB computed with them; PyTorch loads them into
the module's dtype. Every function's formula is the toolbox's documented one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import FEATURE, Node, TensorInfo
from codegen.layers.record import LayerRecord
from codegen.layers.registry import UNVERSIONED, register

# The toolbox's transfer functions that a static sim computes elementwise or per sample.
TRANSFER_FCNS = (
    "compet",
    "elliot2sig",
    "elliotsig",
    "hardlim",
    "hardlims",
    "logsig",
    "netinv",
    "poslin",
    "purelin",
    "radbas",
    "radbasn",
    "satlin",
    "satlins",
    "softmax",
    "tansig",
    "tribas",
)
NET_INPUT_FCNS = ("netprod", "netsum")
DISTANCE_FCNS = ("dist", "mandist", "negdist")

# How each transfer function is written in forward, as documented by MATLAB.
TRANSFER_NOTES = {
    "tansig": "tansig(n) = 2/(1+exp(-2n))-1 = tanh(n)",
    "logsig": "logsig(n) = 1/(1+exp(-n))",
    "poslin": "poslin(n) = max(0, n)",
    "satlin": "satlin: n clipped to [0, 1]",
    "satlins": "satlins: n clipped to [-1, 1]",
    "radbas": "radbas(n) = exp(-n^2)",
    "radbasn": "radbasn: exp(-n^2) normalised to sum 1 over each sample's neurons, "
    "i.e. softmax(-n^2)",
    "tribas": "tribas(n) = max(0, 1 - |n|)",
    "elliotsig": "elliotsig(n) = n / (1 + |n|), PyTorch's softsign",
    "netinv": "netinv(n) = 1/n",
    "softmax": "softmax over each sample's neurons",
}


def f64(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.float64))


def _vector(record: LayerRecord, key: str, rows: int | None = None) -> np.ndarray:
    value = record.array(key)
    if value is None:
        raise record.error(f"has no '{key}' in its settings; save the network again.")
    vector = f64(value).reshape(-1)
    if rows is not None and vector.size != rows:
        raise record.error(f"has {vector.size} '{key}' values for {rows} rows.")
    return vector


def _scalar(record: LayerRecord, key: str) -> float:
    value = record.num(key)
    if value is None:
        raise record.error(f"has no '{key}' in its settings; save the network again.")
    return float(value)


def _indices(record: LayerRecord, key: str) -> np.ndarray:
    value = record.array(key)
    if value is None:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(value, dtype=np.float64).reshape(-1).round().astype(np.int64) - 1


# --------------------------------------------------------------------------- processing


@register(
    "network.processFcns.mapminmax",
    "network.processFcns.mapstd",
    ops=("shallow_affine",),
    versions=UNVERSIONED,
)
def affine(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """mapminmax: y = (x - xoffset) .* gain + ymin; mapstd: the same with ymean."""
    fcn = record.short_class
    rows = inputs[0].channels
    reverse = record.flag("reverse")
    level = "ymin" if fcn == "mapminmax" else "ymean"
    gain = _vector(record, "gain", rows)
    xoffset = _vector(record, "xoffset", rows)
    target = _scalar(record, level)
    if reverse:
        comment = f"{fcn} of the MATLAB outputs, undone: (y - {level}) / gain + xoffset"
    else:
        comment = (
            f"{fcn} of the MATLAB inputs (processFcns): (x - xoffset) * gain + {level}"
        )
    return Node(
        name=record.name,
        op="shallow_affine",
        matlab_class=record.classname,
        attrs={"reverse": reverse, "level": target, "function": fcn},
        buffers={"xoffset": xoffset, "gain": gain},
        out=inputs[0],
        comment=comment,
    )


@register(
    "network.processFcns.removeconstantrows",
    ops=("shallow_rows",),
    versions=UNVERSIONED,
)
def remove_constant_rows(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """Apply keeps rows ``keep``; reverse puts them back and the removed rows' constants
    at ``remove`` (1-based in the file)."""
    xrows = round(_scalar(record, "xrows"))
    keep = _indices(record, "keep")
    remove = _indices(record, "remove")
    if sorted(np.concatenate([keep, remove]).tolist()) != list(range(xrows)):
        raise record.error(
            f"has 'keep' and 'remove' rows that do not split its {xrows} rows; save the network again."
        )
    reverse = record.flag("reverse")
    if not reverse:
        return Node(
            name=record.name,
            op="shallow_rows",
            matlab_class=record.classname,
            attrs={"reverse": False},
            buffers={"keep": keep},
            out=TensorInfo(FEATURE, (len(keep),)),
            comment=f"removeconstantrows: MATLAB drops the {len(remove)} input rows that were "
            "constant in training (0-based indices of the rows kept)",
        )
    constants = record.array("constants")
    if constants is None:
        constants = record.array("value")
    if constants is None or np.asarray(constants).size != len(remove):
        raise record.error(
            f"stores no value for each of its {len(remove)} removed rows; save the network again."
        )
    # Appending the constants after the kept rows, then one index puts every row in place.
    order = np.argsort(np.concatenate([keep, remove]), kind="stable").astype(np.int64)
    return Node(
        name=record.name,
        op="shallow_rows",
        matlab_class=record.classname,
        attrs={"reverse": True},
        buffers={"constants": f64(constants).reshape(-1), "order": order},
        out=TensorInfo(FEATURE, (xrows,)),
        comment=f"removeconstantrows undone: MATLAB re-inserts the {len(remove)} output rows "
        "that were constant in training",
    )


@register("network.processFcns.removerows", ops=("shallow_rows",), versions=UNVERSIONED)
def remove_rows(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """Apply keeps rows ``keep_ind``; reverse puts them back and NaN at ``remove_ind``."""
    xrows = round(_scalar(record, "xrows"))
    keep, remove = _indices(record, "keep_ind"), _indices(record, "remove_ind")
    if sorted(np.concatenate([keep, remove]).tolist()) != list(range(xrows)):
        raise record.error(
            f"has 'keep_ind' and 'remove_ind' rows that do not split its {xrows} rows; "
            "save the network again."
        )
    if not record.flag("reverse"):
        return Node(
            name=record.name,
            op="shallow_rows",
            matlab_class=record.classname,
            attrs={"reverse": False},
            buffers={"keep": keep},
            out=TensorInfo(FEATURE, (len(keep),)),
            comment=f"removerows: MATLAB drops input rows {(remove + 1).tolist()} (0-based "
            "indices of the rows kept)",
        )
    order = np.argsort(np.concatenate([keep, remove]), kind="stable").astype(np.int64)
    return Node(
        name=record.name,
        op="shallow_rows",
        matlab_class=record.classname,
        attrs={"reverse": True, "fill": len(remove)},
        buffers={"order": order},
        out=TensorInfo(FEATURE, (xrows,)),
        comment=f"removerows undone: MATLAB puts NaN in the {len(remove)} removed output rows",
    )


@register(
    "network.processFcns.processpca", ops=("shallow_project",), versions=UNVERSIONED
)
def process_pca(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """Apply: y = transform * x; reverse: x = inverseTransform * y."""
    reverse = record.flag("reverse")
    key = "inverseTransform" if reverse else "transform"
    matrix = record.array(key)
    if matrix is None or matrix.ndim != 2:
        raise record.error(
            f"has no '{key}' matrix in its settings; save the network again."
        )
    if inputs[0].channels is not None and matrix.shape[1] != inputs[0].channels:
        raise record.error(
            f"has a {matrix.shape[0]}×{matrix.shape[1]} '{key}' for {inputs[0].channels} rows."
        )
    return Node(
        name=record.name,
        op="shallow_project",
        matlab_class=record.classname,
        buffers={"matrix": f64(matrix)},
        out=TensorInfo(FEATURE, (matrix.shape[0],)),
        comment=f"processpca{' undone' if reverse else ''}: rows mapped by MATLAB's "
        f"settings.{key}",
    )


@register(
    "network.processFcns.fixunknowns",
    ops=("shallow_fixunknowns",),
    versions=UNVERSIONED,
)
def fix_unknowns(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """NaN in the rows that had unknowns in training becomes the row's training mean, and
    a row flagging known values (1) follows each such row."""
    if record.flag("reverse"):
        raise record.error(
            "is an output processing function; MATLAB never reverses it for outputs, so "
            "mat2torch cannot either: remove it from net.outputs{i}.processFcns and retrain."
        )
    xrows = round(_scalar(record, "xrows"))
    unknown = _indices(record, "unknown")
    shift = np.asarray(_vector(record, "shift", xrows)).round().astype(np.int64)
    xmeans = _vector(record, "xmeans", xrows)
    # y(shiftInd) = x with NaN replaced, y(flagInd) = ~isnan(x(unknown)), 1-based in MATLAB.
    rows = np.arange(xrows) + shift
    flags = unknown + shift[unknown] + 1
    positions = np.concatenate([rows, flags])
    if sorted(positions.tolist()) != list(range(xrows + len(unknown))):
        raise record.error(
            "has 'shift' and 'unknown' settings that do not fit together."
        )
    return Node(
        name=record.name,
        op="shallow_fixunknowns",
        matlab_class=record.classname,
        buffers={
            "xmeans": xmeans,
            "unknown": unknown,
            "order": np.argsort(positions, kind="stable").astype(np.int64),
        },
        out=TensorInfo(FEATURE, (xrows + len(unknown),)),
        comment="fixunknowns: NaN becomes the row's training mean, and a 1/0 row saying "
        "whether the value was known follows each row that had unknowns in training",
    )


# --------------------------------------------------------------------------- weights


@register("network.weightFcn.dotprod", ops=("shallow_dotprod",), versions=UNVERSIONED)
def dotprod(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """W * p: an nn.Linear without bias (the layer's bias sits in another weight or alone)."""
    weight = _matrix(record, inputs[0])
    return Node(
        name=record.name,
        op="shallow_dotprod",
        matlab_class=record.classname,
        attrs={"in_features": weight.shape[1], "out_features": weight.shape[0]},
        params={"weight": weight},
        out=TensorInfo(FEATURE, (weight.shape[0],)),
        comment=record.text("comment") or "",
    )


@register(
    *(f"network.weightFcn.{f}" for f in DISTANCE_FCNS),
    ops=("shallow_distance",),
    versions=UNVERSIONED,
)
def distance(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """dist: Euclidean distance from each input to each row of W; negdist: its negative;
    mandist: the Manhattan distance."""
    weight = _matrix(record, inputs[0])
    fcn = record.short_class
    return Node(
        name=record.name,
        op="shallow_distance",
        matlab_class=record.classname,
        attrs={"p": 1.0 if fcn == "mandist" else 2.0, "negate": fcn == "negdist"},
        params={"weight": weight},
        out=TensorInfo(FEATURE, (weight.shape[0],)),
        comment=" ".join(
            part
            for part in (
                record.text("comment") or "",
                f"({fcn}: {'Manhattan' if fcn == 'mandist' else 'Euclidean'} distance "
                f"{'negated ' if fcn == 'negdist' else ''}from each sample to each weight row)",
            )
            if part
        ),
    )


def _matrix(record: LayerRecord, info: TensorInfo) -> np.ndarray:
    weight = record.array("weight")
    if weight is None or weight.ndim != 2:
        raise record.error("has no weight matrix; save the trained network again.")
    if info.channels is not None and weight.shape[1] != info.channels:
        raise record.error(
            f"has a {weight.shape[0]}×{weight.shape[1]} weight for {info.channels} inputs."
        )
    return f64(weight)


# --------------------------------------------------------------------------- layers


@register(
    *(f"network.transferFcn.{f}" for f in TRANSFER_FCNS),
    *(f"network.netInputFcn.{f}" for f in NET_INPUT_FCNS),
    ops=("shallow_layer",),
    versions=UNVERSIONED,
)
def layer(record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """n = netInputFcn(weighted inputs..., b); a = transferFcn(n).

    Record fields: ``transferFcn``, ``netInputFcn``, ``size``, ``b`` (or empty),
    ``weight`` (a dotprod weight folded into this layer's nn.Linear with the bias, or
    empty) and ``parts`` (how many separate weighted inputs follow; the folded weight's
    source is the first input).
    """
    transfer = record.text("transferFcn") or ""
    net_input = record.text("netInputFcn") or ""
    if transfer not in TRANSFER_FCNS:
        raise record.error(
            f"uses transfer function '{transfer}', which mat2torch does not convert."
        )
    if net_input not in NET_INPUT_FCNS:
        raise record.error(
            f"uses net input function '{net_input}', which mat2torch does not convert."
        )
    size = round(record.num("size") or 0)
    bias = record.array("b")
    weight = record.array("weight")
    params: dict[str, np.ndarray | None] = {}
    attrs: dict[str, object] = {
        "transfer": transfer,
        "net_input": net_input,
        "size": size,
        "folded": weight is not None,
        "has_bias": bias is not None,
    }
    if weight is not None:
        matrix = _matrix(record, inputs[0])
        params["weight"] = matrix
        attrs["in_features"] = matrix.shape[1]
    if bias is not None:
        vector = f64(bias).reshape(-1)
        if vector.size != size:
            raise record.error(f"has {vector.size} biases for {size} neurons.")
        params["bias"] = vector
    comment = record.text("comment") or ""
    notes = [TRANSFER_NOTES.get(transfer, "")]
    if net_input == "netprod":
        notes.insert(
            0,
            "netprod: n is the elementwise product of the weighted inputs and the bias",
        )
    return Node(
        name=record.name,
        op="shallow_layer",
        matlab_class=record.classname,
        attrs=attrs,
        params=params,
        out=TensorInfo(FEATURE, (size,)),
        comment=comment,
        forward_comment="; ".join(note for note in notes if note),
    )
