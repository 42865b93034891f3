"""MatConvNet networks (plain structs, v5 or v7.3) → IR.

SimpleNN: ``net.layers`` is a cell of layer structs run in order (vl_simplenn); each
becomes a :class:`LayerRecord` with class ``simplenn.<type>`` and the struct's fields.
``net.meta`` (or the old top-level ``net.normalization``/``net.classes``) may describe the
input: ``normalization.averageImage`` is subtracted in ``forward`` (a buffer, like the
Deep Learning Toolbox's 'zerocenter'); ``imageSize``, ``interpolation`` and the other
preprocessing settings cannot run inside a model and are documented in its docstring.

DagNN (what ``dagnn.DagNN.saveobj`` returns): ``vars`` (the tensors), ``params`` (name,
value), ``layers`` (name, type = the dagnn class, inputs/outputs = var names, params =
param names, block = the layer's properties). Each layer becomes a record with class
``type`` and the ``block`` fields plus ``weights``: its parameter values in order, as a
SimpleNN layer stores them, so one converter serves both forms. The network's inputs are
the vars that no layer produces and some kept layer reads (in ``vars`` order); its
outputs are the vars kept layers produce and no kept layer reads. Loss layers (and any
layer class ending in "Loss" whose outputs feed nothing) are training-only and vanish.

Sizes: a SimpleNN's input has the channels of ``meta.normalization.imageSize`` (or of its
first filters) and that image size if stored; a DagNN's input size is usually unknown —
its channels come from the layers reading it and height/width stay None, which is fine
because MatConvNet stores every padding explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codegen.errors import ConversionError
from codegen.ir import IMAGE, Graph, GraphInput, Node, TensorInfo
from codegen.layers.common import f32
from codegen.layers.record import LayerRecord, is_empty, text_list, to_text
from codegen.layers.registry import Dropped, lookup, registrations

# The dagnn classes MatConvNet itself ships (1.0-beta25); any other class is user code.
BUILTIN_DAGNN = {
    "AffineGridGenerator", "BatchNorm", "BilinearSampler", "Concat", "Conv", "ConvTranspose", "Crop",
    "DropOut", "ElementWise", "Filter", "LRN", "Loss", "NormOffset", "PDist", "Pooling", "ROIPooling",
    "ReLU", "Scale", "Sigmoid", "SoftMax", "SpatialNorm", "Sum", "UniformScalingGridGenerator",
}
# vl_simplenn's own layer types; others are 'custom' layers or types of a fork.
BUILTIN_SIMPLENN = {
    "conv", "convt", "pool", "normalize", "lrn", "softmax", "loss", "softmaxloss", "relu", "sigmoid",
    "noffset", "spnorm", "dropout", "bnorm", "pdist",
}
# Layers that only compute a training objective when nothing reads their output.
SINK_LOSSES = {"dagnn.Loss", "dagnn.PDist", "simplenn.loss", "simplenn.softmaxloss", "simplenn.pdist"}

SIMPLENN_INPUT = "input"  # the name dagnn.DagNN.fromSimpleNN gives a SimpleNN's input


@dataclass
class McnLayer:
    record: LayerRecord
    inputs: list[str] = field(default_factory=list)  # var names
    outputs: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- struct access


def _rec(value: Any) -> Any:
    """The single record of a 1×1 struct (numpy structured array), else None."""
    if isinstance(value, np.ndarray) and value.dtype.names and value.size >= 1:
        return value.ravel(order="F")[0]
    return None


def _get(rec: Any, key: str, default: Any = None) -> Any:
    if rec is not None and key in (rec.dtype.names or ()):
        return rec[key]
    return default


def _struct_fields(value: Any) -> dict[str, Any]:
    """A struct's fields as a dict; an empty struct, [] or None gives {}."""
    rec = _rec(value)
    if rec is None:
        return {}
    return {key: rec[key] for key in rec.dtype.names}


def _elements(value: Any) -> list[Any]:
    """The elements of a cell or struct array in MATLAB (column-major) order."""
    if isinstance(value, np.ndarray) and (value.dtype == object or value.dtype.names):
        return list(value.ravel(order="F"))
    if value is None or is_empty(value):
        return []
    return [value]


def _text(value: Any, default: str = "") -> str:
    text = to_text(value, None)
    if text is None and isinstance(value, np.ndarray) and value.dtype.names is None and value.dtype != object:
        return default
    return default if text is None else text


# --------------------------------------------------------------------------- layers


def _simplenn_layers(value: Any, where: str) -> list[McnLayer]:
    net = _rec(value)
    cells = _get(net, "layers")
    layers: list[McnLayer] = []
    taken: set[str] = set()
    for index, cell in enumerate(_elements(cells)):
        fields = _struct_fields(cell)
        if not fields:
            raise ConversionError(f"{where}: net.layers{{{index + 1}}} is not a layer struct; the SimpleNN is malformed.")
        kind = _text(fields.get("type"), "") or "(no type)"
        name = _text(fields.get("name"), "") or f"layer{index + 1}"
        base, k = name, 1
        while name in taken or name == SIMPLENN_INPUT:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        fields["Name"] = name
        layers.append(McnLayer(LayerRecord(f"simplenn.{kind}", fields, where)))
    prev = SIMPLENN_INPUT
    for layer in layers:
        layer.inputs, layer.outputs = [prev], [layer.record.name]
        prev = layer.record.name
    return layers


def _dagnn_layers(value: Any, where: str) -> tuple[list[McnLayer], list[str]]:
    net = _rec(value)
    params: dict[str, Any] = {}
    for p in _elements(_get(net, "params")):
        params[_text(p["name"])] = p["value"]
    var_names = [_text(v["name"]) for v in _elements(_get(net, "vars"))]
    layers: list[McnLayer] = []
    for index, entry in enumerate(_elements(_get(net, "layers"))):
        name = _text(_get(entry, "name")) or f"layer{index + 1}"
        kind = _text(_get(entry, "type")) or "(no type)"
        fields = _struct_fields(_get(entry, "block"))
        param_names = text_list(_get(entry, "params"))
        missing = [p for p in param_names if p not in params]
        if missing:
            raise ConversionError(f"{where}: layer '{name}' ({kind}) uses parameter '{missing[0]}', which net.params does not hold.")
        values = np.empty(len(param_names), dtype=object)
        for k, p in enumerate(param_names):
            values[k] = params[p]
        fields["weights"] = values
        fields["Name"] = name
        record = LayerRecord(kind, fields, where)
        layers.append(McnLayer(record, text_list(_get(entry, "inputs")), text_list(_get(entry, "outputs"))))
    names = [layer.record.name for layer in layers]
    if len(set(names)) != len(names):
        raise ConversionError(f"{where}: the DagNN has duplicate layer names; rename them in MATLAB.")
    return layers, var_names


def _is_sink_loss(layer: McnLayer, readers: dict[str, list[McnLayer]]) -> bool:
    """A training objective: a loss class whose outputs nothing reads."""
    cls = layer.record.classname
    lossy = cls in SINK_LOSSES or cls.lower().endswith("loss")
    return lossy and not any(readers.get(v) for v in layer.outputs)


def _training_only(layers: list[McnLayer]) -> set[str]:
    """Names of layers that vanish: registered losses, and loss-like sinks (iteratively)."""
    dropped: set[str] = set()
    changed = True
    while changed:
        changed = False
        readers: dict[str, list[McnLayer]] = {}
        for layer in layers:
            if layer.record.name in dropped:
                continue
            for v in layer.inputs:
                readers.setdefault(v, []).append(layer)
        for layer in layers:
            if layer.record.name not in dropped and _is_sink_loss(layer, readers):
                dropped.add(layer.record.name)
                changed = True
    return dropped


def _unsupported_message(where: str, kind: str, layers: list[LayerRecord], dropped: list[LayerRecord]) -> str:
    listed = ", ".join(f"'{r.name}' ({r.classname})" for r in layers)
    user = [r for r in layers if _is_user_defined(r.classname)]
    family = "simplenn." if kind == "SimpleNN" else "dagnn."
    supported = sorted(reg.classname for reg in registrations().values() if reg.classname.startswith(family))
    if user:
        advice = (
            "user-defined MatConvNet layers (custom SimpleNN types, your own dagnn classes) store no code in the "
            ".mat file, so they cannot be converted; replace them with built-in MatConvNet layers (or remove "
            "them) and save the network again"
        )
    else:
        advice = "these MatConvNet layers are not supported yet"
    losses = [r for r in dropped if _is_user_defined(r.classname)]
    if losses:
        names = ", ".join(f"'{r.name}' ({r.classname})" for r in losses)
        advice += f" (the training-only loss {names} needs no change: it is left out)"
    plural = "layer" if len(layers) == 1 else "layers"
    return f"{where}: cannot convert {kind} {plural} {listed}: {advice}; supported: {', '.join(supported)}."


def _is_user_defined(classname: str) -> bool:
    family, _, short = classname.partition(".")
    if family == "dagnn":
        return short not in BUILTIN_DAGNN
    if family == "simplenn":
        return short not in BUILTIN_SIMPLENN
    return True


def _topological(layers: list[McnLayer], where: str) -> list[McnLayer]:
    """Kahn's algorithm over var dependencies, stable in the file's layer order."""
    producer: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for v in layer.outputs:
            if v in producer:
                raise ConversionError(
                    f"{where}: variable '{v}' is written by both '{layers[producer[v]].record.name}' and '{layer.record.name}'."
                )
            producer[v] = i
    indegree = [0] * len(layers)
    succ: list[list[int]] = [[] for _ in layers]
    for i, layer in enumerate(layers):
        for v in layer.inputs:
            j = producer.get(v)
            if j is not None:
                succ[j].append(i)
                indegree[i] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    order: list[int] = []
    while ready:
        ready.sort()
        i = ready.pop(0)
        order.append(i)
        for t in succ[i]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    if len(order) != len(layers):
        raise ConversionError(f"{where}: the DagNN's layers form a cycle.")
    return [layers[i] for i in order]


# --------------------------------------------------------------------------- inputs and meta


def _meta(value: Any, kind: str) -> dict[str, Any]:
    """``meta`` as a dict, with the pre-2015 top-level ``normalization``/``classes`` folded in."""
    net = _rec(value)
    meta = _struct_fields(_get(net, "meta"))
    for key in ("normalization", "classes"):
        if key not in meta and _get(net, key) is not None:
            meta[key] = _get(net, key)
    return meta


def _classes(meta: dict[str, Any]) -> tuple[str, ...] | None:
    classes = _struct_fields(meta.get("classes"))
    for key in ("description", "name"):
        names = text_list(classes.get(key))
        if names:
            return tuple(names)
    return None


# Layers whose output has their input's channels: the input's channels can be read past them.
_SAME_CHANNELS = {
    "simplenn.relu", "simplenn.pool", "simplenn.lrn", "simplenn.normalize", "simplenn.dropout", "simplenn.sigmoid",
    "simplenn.tanh", "simplenn.softmax", "simplenn.spnorm", "dagnn.ReLU", "dagnn.Pooling", "dagnn.LRN",
    "dagnn.DropOut", "dagnn.Sigmoid", "dagnn.Tanh", "dagnn.SoftMax", "dagnn.SpatialNorm",
}


def _first_channels(layers: Sequence[McnLayer], var: str, depth: int = 0) -> int | None:
    """The channel count the first layer reading ``var`` expects, from its filters or size."""
    if depth > 50:
        return None
    for layer in layers:
        if var not in layer.inputs:
            continue
        if layer.record.classname in _SAME_CHANNELS and layer.outputs:
            found = _first_channels(layers, layer.outputs[0], depth + 1)
            if found is not None:
                return found
            continue
        rec = layer.record
        cls = rec.classname
        size = rec.ints("size")
        if cls in ("simplenn.conv", "dagnn.Conv"):
            if size and len(size) == 4:
                return size[2]
            w = _first_weight(rec)
            if w is not None:
                return w.shape[2] if w.ndim >= 3 else 1
        if cls in ("simplenn.convt", "dagnn.ConvTranspose"):
            if size and len(size) == 4:
                return size[3]
            w = _first_weight(rec)
            if w is not None:
                return w.shape[3] if w.ndim >= 4 else 1
        if cls in ("simplenn.bnorm", "dagnn.BatchNorm"):
            w = _first_weight(rec)
            if w is not None:
                return int(w.size)
            n = rec.num("numChannels")
            if n:
                return int(n)
        if cls == "dagnn.Sum":
            for other in layer.inputs:
                if other != var:
                    found = _first_channels([lay for lay in layers if lay is not layer], other, depth + 1)
                    if found is not None:
                        return found
        return None
    return None


def _first_weight(rec: LayerRecord) -> np.ndarray | None:
    raw = rec.raw("weights", None)
    items = _elements(raw) if isinstance(raw, np.ndarray) and raw.dtype == object else []
    if not items and "filters" in rec.fields:
        items = [rec.raw("filters")]
    first = items[0] if items else None
    if isinstance(first, np.ndarray) and first.dtype.kind in "biuf" and first.size:
        return first
    return None


def _input_node(
    name: str,
    channels: int | None,
    meta: dict[str, Any],
    apply_normalization: bool,
    where: str,
) -> tuple[Node, list[str]]:
    """The input node (with averageImage subtraction) and notes for the docstring."""
    notes: list[str] = []
    norm = _struct_fields(meta.get("normalization")) if apply_normalization else {}
    size = _ints(norm.get("imageSize")) or _ints(meta.get("inputSize") if apply_normalization else None)
    h = w = None
    if size and len(size) >= 2:
        h, w = size[0], size[1]
        if len(size) >= 3 and channels is None:
            channels = size[2]
    buffers: dict[str, np.ndarray] = {}
    average = norm.get("averageImage")
    if isinstance(average, np.ndarray) and average.dtype.kind in "biuf" and average.size and np.any(average):
        arr = np.asarray(average, dtype=np.float64)
        c = channels
        if arr.size == 1:
            full = arr.reshape(1, 1, 1)
        elif c is not None and arr.size == c:
            full = arr.reshape((1, 1, c), order="F")
        elif c is not None and h is not None and w is not None and arr.size == h * w * c:
            full = arr.reshape((h, w, c), order="F")
        elif arr.ndim == 3 or (arr.ndim == 2 and c == 1):
            full = arr.reshape(arr.shape[0], arr.shape[1], -1)
            h, w = full.shape[0], full.shape[1]
        else:
            raise ConversionError(
                f"{where}: meta.normalization.averageImage has shape {arr.shape}, which matches neither the input's "
                f"channels ({c}) nor its size; fix net.meta.normalization in MATLAB."
            )
        if full.shape[0] > 1 and (h, w) != (full.shape[0], full.shape[1]):
            h, w = full.shape[0], full.shape[1]
        buffers["mean"] = f32(full.transpose(2, 0, 1))
        if channels is None:
            channels = full.shape[2]
        notes.append(
            "forward subtracts MatConvNet's meta.normalization.averageImage (buffer "
            f"'{name}_mean', {'per channel' if full.shape[0] == 1 else 'a full image'}) itself: feed images in the "
            "range the network was trained on, not mean-subtracted ones."
        )
    for key in sorted(norm):
        if key == "averageImage":
            continue
        value = norm[key]
        if isinstance(value, np.ndarray) and value.dtype == bool:
            text = " ".join("true" if v else "false" for v in value.ravel(order="F"))
        elif _is_number(value):
            flat = np.asarray(value, dtype=np.float64).ravel(order="F")
            text = " ".join(f"{v:g}" for v in flat)
            text = f"[{text}]" if flat.size > 1 else text
        else:
            text = _text(value, "")
        if text:
            notes.append(f"MatConvNet preprocessing not done by this model: meta.normalization.{key} = {text}.")
    info = TensorInfo(IMAGE, (channels, h, w))
    node = Node(
        name=name,
        op="input",
        matlab_class="MatConvNet input",
        attrs={"normalization": "zerocenter" if buffers else "none", "layout": IMAGE, "shape": info.shape},
        buffers=buffers,
        out=info,
    )
    return node, notes


def _is_number(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def _ints(value: Any) -> tuple[int, ...] | None:
    if not _is_number(value) or value.size == 0:
        return None
    flat = np.asarray(value, dtype=np.float64).ravel(order="F")
    if not np.all(flat == np.round(flat)):
        return None
    return tuple(int(v) for v in flat)


# --------------------------------------------------------------------------- graph


def import_network(value: Any, kind: str, where: str) -> Graph:
    """Convert one SimpleNN or DagNN struct into a Graph (no names yet)."""
    try:
        if kind == "SimpleNN":
            layers = _simplenn_layers(value, where)
            var_order = [SIMPLENN_INPUT]
        elif kind == "DagNN":
            layers, var_order = _dagnn_layers(value, where)
        else:
            raise ConversionError(f"{where}: '{kind}' is not a MatConvNet network kind.")
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ConversionError(
            f"{where}: the {kind} struct has an unexpected structure ({type(exc).__name__}: {exc}); the file may come from an unsupported MatConvNet version."
        ) from None
    if not layers:
        raise ConversionError(f"{where}: the {kind} has no layers to convert.")
    ordered = _topological(layers, where) if kind == "DagNN" else layers

    dropped = _training_only(ordered)
    unsupported = [lay.record for lay in ordered if lay.record.name not in dropped and lookup(lay.record.classname) is None]
    if unsupported:
        dropped_records = [lay.record for lay in ordered if lay.record.name in dropped]
        raise ConversionError(_unsupported_message(where, kind, unsupported, dropped_records))

    kept = [lay for lay in ordered if lay.record.name not in dropped]
    produced = {v for lay in kept for v in lay.outputs}
    read = [v for lay in kept for v in lay.inputs]
    input_vars = [v for v in var_order if v in read and v not in produced]
    input_vars += [v for v in dict.fromkeys(read) if v not in produced and v not in input_vars]
    if not input_vars:
        raise ConversionError(f"{where}: the {kind} has no input variable (every variable is computed by a layer).")

    meta = _meta(value, kind)
    graph = Graph(
        source_name="", source_sha256="", variable="", matlab_class=f"MatConvNet {kind}",
        matlab_layer_count=len(layers), classes=_classes(meta),
    )
    layer_names = {lay.record.name for lay in layers}
    producers: dict[str, tuple[str, TensorInfo]] = {}  # var -> (node name, info)
    for var in input_vars:
        name = var
        while name in layer_names:
            name = f"{name}_input"
        node, notes = _input_node(name, _first_channels(kept, var), meta, len(input_vars) == 1, where)
        node.inputs = [name]
        graph.inputs.append(GraphInput(name, node.out))  # type: ignore[arg-type]
        graph.nodes.append(node)
        graph.notes.extend(notes)
        producers[var] = (name, node.out)  # type: ignore[assignment]

    for layer in ordered:
        record = layer.record
        if record.name in dropped:
            continue
        sources: list[str] = []
        infos: list[TensorInfo] = []
        for var in layer.inputs:
            if var not in producers:
                raise ConversionError(f"{where}: layer '{record.name}' ({record.classname}) reads variable '{var}', which no layer computes.")
            sources.append(producers[var][0])
            infos.append(producers[var][1])
        registration = lookup(record.classname)
        assert registration is not None
        result = registration.convert(record, infos)
        if isinstance(result, Dropped):
            if layer.outputs and sources:
                producers[layer.outputs[0]] = producers[layer.inputs[0]]
            continue
        if len(layer.outputs) != 1:
            raise ConversionError(
                f"{where}: layer '{record.name}' ({record.classname}) has {len(layer.outputs)} outputs; mat2torch expects one."
            )
        result.inputs = sources
        assert result.out is not None
        graph.nodes.append(result)
        producers[layer.outputs[0]] = (result.name, result.out)

    consumed = {v for lay in kept for v in lay.inputs}
    outputs = [v for lay in kept for v in lay.outputs if v not in consumed]
    graph.outputs = list(dict.fromkeys(producers[v][0] for v in outputs))
    if any(n.op == "batchnorm" and n.params.get("running_var") is not None for n in graph.nodes):
        graph.notes.append(
            "MatConvNet stores batch-norm moments as [mean, sigma] with sigma = sqrt(var + epsilon); "
            "running_var = sigma² − eps gives BatchNorm2d exactly that sigma."
        )
    dropped_layers = [lay.record for lay in ordered if lay.record.name in dropped]
    if dropped_layers:
        listed = ", ".join(f"'{r.name}' ({r.classname})" for r in dropped_layers)
        graph.notes.append(f"training-only layers left out: {listed}.")
    graph.trained = all(v is not None for n in graph.nodes for v in n.params.values())
    return graph


__all__: Sequence[str] = ("import_network",)
