"""MatConvNet networks (plain structs, v5 or v7.3) → IR.

SimpleNN: ``net.layers`` is a cell of layer structs run in order (vl_simplenn); each
becomes a :class:`LayerRecord` with class ``simplenn.<type>`` and the struct's fields.
``net.meta`` (or the old top-level ``net.normalization``/``net.classes``) may describe the
input: like vl_simplenn, ``forward`` leaves it alone; the generated ``preprocess()``
subtracts ``normalization.averageImage`` (a buffer) and documents the other settings.

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
because MatConvNet stores every padding explicitly. The docstring then gives each output's
height and width as a formula of the input's (2H, ceil(W/2)): see _symbolic_output_sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codegen.errors import ConversionError
from codegen.importers.graphutil import topological_order
from codegen.importers.matconvnet_input import first_channels, input_node
from codegen.importers.matconvnet_structs import (
    SIMPLENN_INPUT,
    McnLayer,
    class_names,
    dagnn_layers,
    read_meta,
    simplenn_layers,
)
from codegen.ir import IMAGE, Graph, GraphInput, Node, TensorInfo
from codegen.layers.record import LayerRecord
from codegen.layers.registry import SUPPORTED_HINT, Dropped, lookup
from codegen.passes import symbolic

# The dagnn classes MatConvNet itself ships (1.0-beta25); any other class is user code.
BUILTIN_DAGNN = {
    "AffineGridGenerator",
    "BatchNorm",
    "BilinearSampler",
    "Concat",
    "Conv",
    "ConvTranspose",
    "Crop",
    "DropOut",
    "ElementWise",
    "Filter",
    "LRN",
    "Loss",
    "NormOffset",
    "PDist",
    "Pooling",
    "ROIPooling",
    "ReLU",
    "Scale",
    "Sigmoid",
    "SoftMax",
    "SpatialNorm",
    "Sum",
    "UniformScalingGridGenerator",
}
# vl_simplenn's own layer types; others are 'custom' layers or types of a fork.
BUILTIN_SIMPLENN = {
    "conv",
    "convt",
    "pool",
    "normalize",
    "lrn",
    "softmax",
    "loss",
    "softmaxloss",
    "relu",
    "sigmoid",
    "noffset",
    "spnorm",
    "dropout",
    "bnorm",
    "pdist",
}
# Layers that only compute a training objective when nothing reads their output.
SINK_LOSSES = {
    "dagnn.Loss",
    "dagnn.PDist",
    "simplenn.loss",
    "simplenn.softmaxloss",
    "simplenn.pdist",
}


# --------------------------------------------------------------------------- training-only and unsupported layers


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


def _unsupported_message(
    where: str, kind: str, layers: list[LayerRecord], dropped: list[LayerRecord]
) -> str:
    listed = ", ".join(f"{r.name!r} ({r.classname})" for r in layers)
    user = [r for r in layers if _is_user_defined(r.classname)]
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
        names = ", ".join(f"{r.name!r} ({r.classname})" for r in losses)
        advice += f" (the training-only loss {names} needs no change: it is left out)"
    plural = "layer" if len(layers) == 1 else "layers"
    return f"{where}: cannot convert {kind} {plural} {listed}: {advice} ({SUPPORTED_HINT})."


def _is_user_defined(classname: str) -> bool:
    family, _, short = classname.partition(".")
    if family == "dagnn":
        return short not in BUILTIN_DAGNN
    if family == "simplenn":
        return short not in BUILTIN_SIMPLENN
    return True


def _topological(layers: list[McnLayer], where: str) -> list[McnLayer]:
    """The layers in var-dependency order, stable in the file's layer order."""
    producer: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for v in layer.outputs:
            if v in producer:
                raise ConversionError(
                    f"{where}: variable '{v}' is written by both '{layers[producer[v]].record.name}' and '{layer.record.name}'."
                )
            producer[v] = i
    pairs = [
        (producer[v], i)
        for i, layer in enumerate(layers)
        for v in layer.inputs
        if v in producer
    ]
    order = topological_order(len(layers), pairs)
    if len(order) != len(layers):
        raise ConversionError(f"{where}: the DagNN's layers form a cycle.")
    return [layers[i] for i in order]


# --------------------------------------------------------------------------- graph


def import_network(
    value: Any, kind: str, where: str, stub_unsupported: bool = False
) -> Graph:
    """Convert one SimpleNN or DagNN struct into a Graph (no names yet)."""
    try:
        if kind == "SimpleNN":
            layers = simplenn_layers(value, where)
            var_order = [SIMPLENN_INPUT]
        elif kind == "DagNN":
            layers, var_order = dagnn_layers(value, where)
        else:
            raise ConversionError(
                f"{where}: '{kind}' is not a MatConvNet network kind."
            )
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ConversionError(
            f"{where}: the {kind} struct has an unexpected structure ({type(exc).__name__}: {exc}); the file may come from an unsupported MatConvNet version."
        ) from None
    if not layers:
        raise ConversionError(f"{where}: the {kind} has no layers to convert.")
    ordered = _topological(layers, where) if kind == "DagNN" else layers

    dropped = _training_only(ordered)
    unsupported = [
        lay.record
        for lay in ordered
        if lay.record.name not in dropped
        and lookup(lay.record.classname, stub_unsupported) is None
    ]
    if unsupported:
        dropped_records = [lay.record for lay in ordered if lay.record.name in dropped]
        raise ConversionError(
            _unsupported_message(where, kind, unsupported, dropped_records)
        )

    kept = [lay for lay in ordered if lay.record.name not in dropped]
    produced = {v for lay in kept for v in lay.outputs}
    read = [v for lay in kept for v in lay.inputs]
    input_vars = [v for v in var_order if v in read and v not in produced]
    input_vars += [
        v for v in dict.fromkeys(read) if v not in produced and v not in input_vars
    ]
    if not input_vars:
        raise ConversionError(
            f"{where}: the {kind} has no input variable (every variable is computed by a layer)."
        )

    meta = read_meta(value)
    graph = Graph(
        source_name="",
        source_sha256="",
        variable="",
        matlab_class=f"MatConvNet {kind}",
        matlab_layer_count=len(layers),
        classes=class_names(meta),
    )
    layer_names = {lay.record.name for lay in layers}
    producers: dict[str, tuple[str, TensorInfo]] = {}  # var -> (node name, info)
    for var in input_vars:
        name = var
        while name in layer_names:
            name = f"{name}_input"
        node, notes = input_node(
            name, first_channels(kept, var), meta, len(input_vars) == 1, where
        )
        node.inputs = [name]
        graph.inputs.append(GraphInput(name, node.out))  # type: ignore[arg-type]
        graph.nodes.append(node)
        graph.notes.extend(notes)
        producers[var] = (name, node.out)  # type: ignore[assignment]

    graph.nodes += _layer_nodes(ordered, dropped, producers, where, stub_unsupported)

    consumed = {v for lay in kept for v in lay.inputs}
    outputs = [v for lay in kept for v in lay.outputs if v not in consumed]
    graph.outputs = list(dict.fromkeys(producers[v][0] for v in outputs))
    if any(
        n.op == "batchnorm" and n.params.get("running_var") is not None
        for n in graph.nodes
    ):
        graph.notes.append(
            "MatConvNet stores batch-norm moments as [mean, sigma] with sigma = sqrt(var + epsilon); "
            "running_var = sigma² − eps gives BatchNorm2d exactly that sigma."
        )
    dropped_layers = [lay.record for lay in ordered if lay.record.name in dropped]
    graph.dropped = [(r.name, r.classname) for r in dropped_layers]
    if dropped_layers:
        listed = ", ".join(f"'{r.name}' ({r.classname})" for r in dropped_layers)
        graph.notes.append(f"training-only layers left out: {listed}.")
    graph.trained = all(v is not None for n in graph.nodes for v in n.params.values())
    _symbolic_output_sizes(graph, ordered, dropped, producers, where, stub_unsupported)
    return graph


def _layer_nodes(
    ordered: list[McnLayer],
    dropped: set[str],
    producers: dict[str, tuple[str, TensorInfo]],
    where: str,
    stub_unsupported: bool,
) -> list[Node]:
    """Convert the kept layers in order; ``producers`` (var -> node name, info) grows."""
    nodes: list[Node] = []
    for layer in ordered:
        record = layer.record
        if record.name in dropped:
            continue
        sources: list[str] = []
        infos: list[TensorInfo] = []
        for var in layer.inputs:
            if var not in producers:
                raise ConversionError(
                    f"{where}: layer '{record.name}' ({record.classname}) reads variable '{var}', which no layer computes."
                )
            sources.append(producers[var][0])
            infos.append(producers[var][1])
        registration = lookup(record.classname, stub_unsupported)
        assert registration is not None
        result = registration.run(record, infos)
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
        nodes.append(result)
        producers[layer.outputs[0]] = (result.name, result.out)

    return nodes


def _symbolic_output_sizes(
    graph: Graph,
    ordered: list[McnLayer],
    dropped: set[str],
    producers: dict[str, tuple[str, TensorInfo]],
    where: str,
    stub_unsupported: bool,
) -> None:
    """Output heights/widths as formulas of an input's unknown H and W (docstrings only).

    A DagNN rarely stores its input size, so its outputs' sizes are unknown numbers; an
    upsampling or strided network's output is still a known function of the input's. The
    layers are converted again for probe input sizes (their own size rules, nothing
    re-derived) and each unknown output dimension is fitted exactly by
    ``passes.symbolic.fit_dimension``; the formula lands in the output node's
    ``symbolic_shape`` attribute.
    """
    unknown = [
        gi
        for gi in graph.inputs
        if gi.info.layout == IMAGE and None in gi.info.shape[1:]
    ]
    outputs = [graph.node(o) for o in graph.outputs]
    if (
        len(unknown) != 1
        or len(graph.inputs) != 1
        or not any(
            n.out is not None and n.out.layout == IMAGE and None in n.out.shape[1:]
            for n in outputs
        )
    ):
        return
    (gi,) = graph.inputs
    var = next(v for v, (name, _) in producers.items() if name == gi.name)

    def measure(sizes: list[tuple[int, int]]) -> list[dict[str, TensorInfo | None]]:
        measured = []
        for h, w in sizes:
            trial = {var: (gi.name, TensorInfo(IMAGE, (gi.info.shape[0], h, w)))}
            nodes = _layer_nodes(ordered, dropped, trial, where, stub_unsupported)
            by_name = {n.name: n.out for n in nodes}
            measured.append({n.name: by_name.get(n.name) for n in outputs})
        return measured

    def size(info: TensorInfo | None, axis: int) -> int | None:
        ok = info is not None and info.layout == IMAGE and len(info.shape) > axis
        return info.shape[axis] if ok else None  # type: ignore[union-attr]

    probes = symbolic.first_probes()
    try:
        results = measure(probes)
        qs = [
            symbolic.divisor(size(results[0][n.name], a), size(results[1][n.name], a))
            for n in outputs
            for a in (1, 2)
        ]
        extra = symbolic.more_probes(max((q for q in qs if q), default=1))
        results = results[:1] + measure(extra) + results[1:]
    except (ConversionError, ArithmeticError, LookupError, TypeError, ValueError):
        return  # a layer refuses the probe sizes: the docstring keeps H and W
    probes = probes[:1] + extra + probes[1:]
    for node in outputs:
        if node.out is None or node.out.layout != IMAGE:
            continue
        shape: list[int | str | None] = list(node.out.shape)
        for axis, symbol in ((1, "H"), (2, "W")):
            if shape[axis] is None:
                measured = [size(r[node.name], axis) for r in results]
                ins = [hw[axis - 1] for hw in probes]
                shape[axis] = symbolic.fit_dimension(ins, measured, symbol)
        node.attrs["symbolic_shape"] = tuple(shape)


__all__: Sequence[str] = ("import_network",)
