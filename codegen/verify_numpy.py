"""Running the NumPy reference of MATLAB semantics (:mod:`codegen.reference`) on a
network as read from its file, for `mat2torch verify --random`: random MATLAB-layout
inputs, then every layer's output by MATLAB name."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from codegen.ir import FEATURE, IMAGE, SEQUENCE, VOLUME
from codegen.verify_report import VerifyError

# Sequence length of the random inputs (the networks accept any).
RANDOM_STEPS = 7
# Height, width (and depth) of random images where the network accepts any size.
RANDOM_SIZE = 24

Handler = Callable[..., np.ndarray]


def random_input(info: Any, n: int, rng: np.random.Generator, where: str) -> np.ndarray:
    """A MATLAB-layout random array for one input (T = RANDOM_STEPS for sequences)."""
    if info.shape and info.shape[0] is None:
        raise VerifyError(
            f"{where}: the number of input channels is not known ({info.describe()}); "
            "verify with --reference REF.mat holding inputs of the size you use."
        )
    # Spatial sizes the network leaves free (fully convolutional) are taken as RANDOM_SIZE.
    shape = tuple(RANDOM_SIZE if s is None else int(s) for s in info.shape)
    if info.layout == IMAGE:
        c, h, w = shape
        dims: tuple[int, ...] = (h, w, c, n)
    elif info.layout == FEATURE:
        dims = (shape[0], n)
    elif info.layout == SEQUENCE:
        dims = (shape[0], n, RANDOM_STEPS)
    elif info.layout == VOLUME:
        c, d, h, w = shape
        dims = (h, w, d, c, n)
    else:
        c, h, w = shape
        dims = (h, w, c, n, RANDOM_STEPS)
    return rng.standard_normal(dims).astype(np.float32).astype(np.float64)


def reference_activations(
    network: Any,
    kind: str,
    inputs: Mapping[str, np.ndarray],
    custom: Mapping[str, Handler] | None = None,
) -> dict[str, np.ndarray]:
    """Every layer's output from codegen.reference (MATLAB layout), by MATLAB name."""
    from codegen.reference import matlab_numpy as ref

    if kind in ("SimpleNN", "DagNN"):
        return matconvnet_activations(network, kind, inputs)
    if kind not in (
        "SeriesNetwork",
        "DAGNetwork",
        "dlnetwork",
        "LayerGraph",
        "LayerArray",
    ):
        raise VerifyError(
            f"verify --random does not cover {kind} networks; use --reference REF.mat "
            "with MATLAB's outputs."
        )
    if kind == "LayerArray":
        layers = list(np.asarray(network).ravel(order="F"))
        connections = None
    else:
        layers, connections = ref.network_layers(network)
    if connections is None:
        names = [ref.layer_name(layer) for layer in layers]
        connections = list(itertools.pairwise(names))
    return ref.run_graph(layers, connections, inputs, custom)


def _text(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return "".join(value.ravel())
    return value


def _cells(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_text(v) for v in value.ravel(order="F")]
    return []


def _fields(value: Any) -> dict[str, Any]:
    if not (isinstance(value, np.ndarray) and value.dtype.names and value.size):
        return {}
    rec = value.ravel(order="F")[0]
    return {k: _text(rec[k]) for k in value.dtype.names}


def matconvnet_activations(
    network: Any, kind: str, inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The MatConvNet reference (codegen.reference.matconvnet_numpy) on the network's
    stored struct: every SimpleNN layer's output under its name (``layerK`` when unnamed)
    and every DagNN layer's output under the layer's name, the input under ``input``.
    Like vl_simplenn / DagNN.eval (and the generated ``forward``), nothing is
    subtracted: ``meta.normalization`` is the calling code's (``preprocess()``)."""
    from codegen.reference import matconvnet_numpy as mcn

    net = _fields(network)
    (x,) = inputs.values()
    x = np.asarray(x, dtype=np.float64)
    out: dict[str, np.ndarray] = {"input": x}
    if kind == "SimpleNN":
        for index, cell in enumerate(np.asarray(net["layers"]).ravel(order="F")):
            layer = _fields(cell)
            if "weights" in layer:
                layer["weights"] = list(np.asarray(layer["weights"]).ravel(order="F"))
            if str(layer["type"]) in ("loss", "softmaxloss"):
                break
            x = mcn.simplenn_layer(layer, x)
            out[str(layer.get("name") or "") or f"layer{index + 1}"] = x
        return out
    params = {
        _text(p["name"]): p["value"] for p in np.asarray(net["params"]).ravel(order="F")
    }
    records = list(np.asarray(net["layers"]).ravel(order="F"))
    layers = [
        {
            "type": _text(e["type"]),
            "inputs": _cells(e["inputs"]),
            "outputs": _cells(e["outputs"]),
            "params": [params[p] for p in _cells(e["params"])],
            "block": _fields(e["block"]),
        }
        for e in records
    ]
    first = layers[0]["inputs"][0] if layers and layers[0]["inputs"] else "input"
    values = mcn.dagnn_forward(layers, {first: x})
    for e, layer in zip(records, layers, strict=True):
        if layer["outputs"] and layer["outputs"][0] in values:
            out[str(_text(e["name"]))] = values[layer["outputs"][0]]
    return out
