"""MATLAB Deep Learning Toolbox objects → IR.

SeriesNetwork, DAGNetwork, LayerGraph, dlnetwork (schema v4 and v6, whose layers sit in
a nested LayerGraph) and bare layer arrays all reduce to the same thing: a list of layer
objects plus edges. Each layer goes through the converter registered for its class, in
topological order, with the sizes of its inputs propagated from the input layers — which
is also how untrained networks (no NumChannels, 'same' padding stored as []) get their
shapes.

Connections: a destination ``layer/inK`` feeds input port K; a source ``layer``,
``layer/out`` or ``layer/out1`` is the layer's first output, ``layer/outK`` its K-th and
``layer/<name>`` the output of that name (e.g. ``lstm/hidden``).

Several outputs per layer: a converter whose node produces more than one tensor sets
``node.attrs["output_ports"]`` to the MATLAB output names (first = the main output,
named like the layer) and ``node.attrs["output_infos"]`` to their TensorInfos; its
forward template then returns a tuple. A consumer of port k > 0 lists the producer as
``"layer/<port name>"`` in ``Node.inputs``, and the emitter unpacks the tuple into one
variable per port. A port that only one kind of layer may read (``attrs["port_readers"]``,
see :class:`codegen.ir.PortReader`) is refused, in one sentence, to any other reader and
as a network output.

Network outputs: a dlnetwork's declared OutputNames (``layer`` or ``layer/outK``), in that
order; otherwise the layers whose output feeds nothing, in the file's layer order — the
order of MATLAB's OutputNames for DAGNetworks (training-only output layers vanish and
their input takes their place).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matio.utils.matclass import MatlabOpaque, MatlabOpaqueArray

from codegen.errors import ConversionError
from codegen.importers.graphutil import topological_order
from codegen.ir import Graph, GraphInput, Node, PortReader, TensorInfo
from codegen.layers.record import LayerRecord, function_text, text_list
from codegen.layers.registry import (
    SUPPORTED_HINT,
    Dropped,
    Registration,
    lookup_record,
)
from codegen.layers.stub import builtin_toolbox


@dataclass
class Edge:
    source: str  # layer name
    target: str  # layer name
    target_port: str  # "", "inK" or an input name such as "hidden"
    source_port: str = ""  # "", "out", "outK" or an output name such as "hidden"


def _any(obj: Any) -> Any:
    props = getattr(obj, "properties", None)
    if isinstance(props, dict):
        value = props.get("any")
        if isinstance(value, np.ndarray) and value.dtype.names and value.size == 1:
            return value.flat[0]
    return None


def _field(rec: Any, key: str) -> Any:
    if rec is not None and key in (rec.dtype.names or ()):
        return rec[key]
    return None


def network_parts(
    value: Any, kind: str
) -> tuple[list[Any], list[Edge] | None, list[str]]:
    """The layer objects, the edges (None = a chain) and the declared output names."""
    if kind == "LayerArray":
        return list(np.asarray(value).ravel(order="F")), None, []
    if kind == "LayerStruct":  # a saveobj-like struct: Layers, optional Connections
        rec = value.flat[0]
        layers = _field(rec, "Layers")
        objects = (
            list(np.asarray(layers).ravel(order="F"))
            if isinstance(layers, np.ndarray)
            else [layers]
        )
        table = _field(rec, "Connections")
        edges = None if table is None or _empty_table(table) else _edges(table)
        return objects, edges, []
    rec = _any(value)
    outputs: list[str] = []
    if kind == "dlnetwork":
        outputs = text_list(_field(rec, "OutputNames"))
        inner = _field(rec, "LayerGraph")
        rec = _any(inner)
    layers = _field(rec, "Layers")
    if layers is None:
        raise ValueError("no Layers")
    objects = (
        list(layers.ravel(order="F"))
        if isinstance(layers, MatlabOpaqueArray)
        else [layers]
    )
    if kind == "SeriesNetwork":
        return objects, None, outputs
    return objects, _edges(_field(rec, "Connections")), outputs


def _empty_table(table: Any) -> bool:
    if hasattr(table, "columns"):
        return len(table) == 0
    return isinstance(table, np.ndarray) and table.size == 0


def split_endpoint(text: str) -> tuple[str, str]:
    """'layer/in2' → ('layer', 'in2'); 'layer' → ('layer', '')."""
    if "/" in text:
        layer, port = text.rsplit("/", 1)
        return layer, port
    return text, ""


def _port_number(port: str) -> int | None:
    """'in3' / 'out3' → 3; '' → None."""
    match = re.fullmatch(r"(?:in|out)(\d+)", port)
    return int(match.group(1)) if match else None


def _edges(table: Any) -> list[Edge]:
    """The Connections table (pandas DataFrame or struct) as edges with input ports."""
    if table is None:
        return []
    if hasattr(table, "columns"):
        sources = [_cell_text(v) for v in table["Source"]]
        targets = [_cell_text(v) for v in table["Destination"]]
    else:
        sources = text_list(_field(table.flat[0], "Source"))
        targets = text_list(_field(table.flat[0], "Destination"))
    edges = []
    for src, dst in zip(sources, targets, strict=True):
        target, in_port = split_endpoint(dst)
        source, out_port = split_endpoint(src)
        edges.append(Edge(source, target, in_port, out_port))
    return edges


def _cell_text(value: Any) -> str:
    texts = text_list(value)
    return texts[0] if texts else str(value)


# MATLAB's default layer names (what trainNetwork/dlnetwork give unnamed layers).
DEFAULT_NAMES = {
    "ImageInputLayer": "imageinput",
    "Image3dInputLayer": "image3dinput",
    "FeatureInputLayer": "input",
    "SequenceInputLayer": "sequenceinput",
    "Convolution1DLayer": "conv1d",
    "Convolution2DLayer": "conv",
    "Convolution3DLayer": "conv3d",
    "GroupedConvolution2DLayer": "groupedconv",
    "TransposedConvolution2DLayer": "transposed-conv",
    "FullyConnectedLayer": "fc",
    "BatchNormalizationLayer": "batchnorm",
    "LayerNormalizationLayer": "layernorm",
    "CrossChannelNormalizationLayer": "crossnorm",
    "ReLULayer": "relu",
    "LeakyReLULayer": "leakyrelu",
    "ClippedReLULayer": "clippedrelu",
    "ELULayer": "elu",
    "TanhLayer": "tanh",
    "SigmoidLayer": "sigmoid",
    "SwishLayer": "swish",
    "GELULayer": "gelu",
    "SoftmaxLayer": "softmax",
    "DropoutLayer": "dropout",
    "MaxPooling2DLayer": "maxpool",
    "AveragePooling2DLayer": "avgpool",
    "GlobalAveragePooling2DLayer": "gapool",
    "GlobalMaxPooling2DLayer": "gmpool",
    "AdditionLayer": "addition",
    "MultiplicationLayer": "multiplication",
    "DepthConcatenationLayer": "depthcat",
    "ConcatenationLayer": "concat",
    "FlattenLayer": "flatten",
    "LSTMLayer": "lstm",
    "BiLSTMLayer": "bilstm",
    "GRULayer": "gru",
    "ClassificationOutputLayer": "classoutput",
    "RegressionOutputLayer": "regressionoutput",
}


def default_name(classname: str) -> str:
    short = classname.rsplit(".", 1)[-1]
    if short in DEFAULT_NAMES:
        return DEFAULT_NAMES[short]
    base = short[:-5] if short.endswith("Layer") and len(short) > 5 else short
    return base.lower() or "layer"


def name_unnamed(records: list[LayerRecord]) -> None:
    """Give unnamed layers MATLAB's default names, as assembling the network would.

    A default name used once stays bare ('fc'); used several times, each gets a numeric
    suffix ('conv_1', 'conv_2', ...), skipping names the user already took. (vikas_net.mat
    holds both the unnamed array and the network MATLAB built from it: they agree.)
    """
    unnamed = [r for r in records if not r.text("Name")]
    if not unnamed:
        return
    taken = {r.name for r in records if r.text("Name")}
    bases = [default_name(r.classname) for r in unnamed]
    counts = {b: bases.count(b) for b in bases}
    next_index = {b: 1 for b in bases}
    for record, base in zip(unnamed, bases, strict=True):
        if counts[base] == 1 and base not in taken:
            name = base
        else:
            while f"{base}_{next_index[base]}" in taken:
                next_index[base] += 1
            name = f"{base}_{next_index[base]}"
            next_index[base] += 1
        taken.add(name)
        record.name = name


def _topological(records: list[LayerRecord], edges: list[Edge]) -> list[LayerRecord]:
    """The layers in dependency order, stable in the file's layer order."""
    index = {r.name: i for i, r in enumerate(records)}
    pairs = [
        (index[e.source], index[e.target])
        for e in edges
        if e.source in index and e.target in index
    ]
    order = topological_order(len(records), pairs)
    if len(order) != len(records):
        placed = set(order)
        stuck = [r.name for i, r in enumerate(records) if i not in placed]
        raise ValueError(
            f"the connections contain a cycle through layers {', '.join(repr(s) for s in stuck[:5])}"
        )
    return [records[i] for i in order]


def _unsupported_message(where: str, layers: list[LayerRecord]) -> str:
    functions = [r for r in layers if r.short_class == "FunctionLayer"]
    others = [r for r in layers if r.short_class != "FunctionLayer"]
    parts = []
    if functions:
        listed = ", ".join(
            f"{r.name!r} (function {function_text(r)!r})" for r in functions
        )
        parts.append(
            f"FunctionLayer{'s' if len(functions) > 1 else ''} {listed}: a FunctionLayer holds MATLAB code as "
            "text, which mat2torch never evaluates and translates only when it is an elementwise function of "
            "its one input (numbers, + - .* ./ .^, exp, log, tanh, max(X, c), ...); replace it with built-in "
            "layers in MATLAB and save the network again, or convert with --stub-unsupported and port it"
        )
    custom = [r for r in others if builtin_toolbox(r.classname) is None]
    builtin = [r for r in others if builtin_toolbox(r.classname) is not None]
    for group, advice in (
        (
            custom,
            "user-defined layer classes store no code in the .mat file, so they cannot be converted; "
            "replace them with built-in layers in MATLAB (or remove them) and save the network again",
        ),
        (builtin, "these built-in layer classes are not supported yet"),
    ):
        if group:
            listed = ", ".join(f"{r.name!r} ({r.classname})" for r in group)
            plural = "layer" if len(group) == 1 else "layers"
            parts.append(f"{plural} {listed}: {advice}")
    return f"{where}: cannot convert {'; and '.join(parts)} ({SUPPORTED_HINT})."


# Properties whose presence shows what a layer class is, whatever its name: the ones the
# output-layer base classes save for every subclass, and the loss function handle of the
# Reinforcement Learning Toolbox's generic loss layer.
_OUTPUT_LAYER_MARKS = (
    (
        "ResponseNames",
        "ResponseNames, the property every nnet.layer.RegressionLayer saves",
    ),
    ("Classes", "Classes, the property every nnet.layer.ClassificationLayer saves"),
    (
        "ClassNames",
        "ClassNames, the property nnet.layer.ClassificationLayer saved in older releases",
    ),
    ("LossFunction", "a LossFunction, as MATLAB's output layers do"),
    (
        "LossFcn",
        "a loss function (LossFcn), as the loss layers of Reinforcement Learning Toolbox "
        "representations do",
    ),
)
# Networks MATLAB only builds for training or from trained layers: each of their outputs
# is an output layer (trainNetwork and assembleNetwork refuse anything else).
_TRAINED_KINDS = ("SeriesNetwork", "DAGNetwork")


def training_only_layers(
    records: list[LayerRecord], edges: list[Edge], kind: str
) -> dict[str, str]:
    """Layers of classes no converter handles that are output (loss) layers, by what
    they are: a layer nothing reads from, which either stores a property only output
    layers store, or ends a SeriesNetwork/DAGNetwork. Maps the layer name to why.

    They compute the training loss and take no part in inference, like the built-in
    output layers, so they are left out (with a note) instead of failing the conversion.
    A dlnetwork holds no output layers, so nothing in it is recognised this way.
    """
    if kind == "dlnetwork":
        return {}
    feeding = {e.source for e in edges}
    found: dict[str, str] = {}
    for record in records:
        if record.name in feeding or lookup_record(record) is not None:
            continue
        if _is_input_layer(record) or record.short_class == "FunctionLayer":
            continue
        marks = [why for key, why in _OUTPUT_LAYER_MARKS if key in record.fields]
        if marks:
            found[record.name] = f"it stores {marks[0]}"
        elif kind in _TRAINED_KINDS:
            found[record.name] = (
                f"it ends a {kind}, whose every output MATLAB requires to be an output layer"
            )
    return found


def _is_input_layer(record: LayerRecord) -> bool:
    return record.short_class.endswith("InputLayer")


class _Ports:
    """Which tensor each (layer, output port) is, as converters produce them."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.infos: dict[str, TensorInfo] = {}  # producer key -> info
        self.ports: dict[str, tuple[str, ...]] = {}  # layer -> its output port names
        self.alias: dict[str, str] = (
            {}
        )  # dropped layer -> the producer key it passes through
        # producer key "layer/port" -> the only consumer allowed to read it
        self.readers: dict[str, PortReader] = {}

    def add(self, node: Node) -> None:
        assert node.out is not None
        ports = tuple(node.attrs.get("output_ports") or ("out",))
        infos = list(node.attrs.get("output_infos") or [node.out])
        self.ports[node.name] = ports
        self.infos[node.name] = infos[0]
        for port, info in zip(ports[1:], infos[1:], strict=True):
            self.infos[f"{node.name}/{port}"] = info
        for port, reader in (node.attrs.get("port_readers") or {}).items():
            self.readers[f"{node.name}/{port}"] = reader

    def check_reader(
        self,
        key: str,
        consumer: str,
        classname: str,
        input_index: int | None,
        registration: Registration | None,
    ) -> None:
        """Refuse a read of a restricted port (``key`` = "layer/port") by anyone but its
        one allowed reader: the layer class and input port the producer named."""
        reader = self.readers.get(key)
        if reader is None:
            return
        allowed = (
            registration is not None
            and classname == reader.classname
            and reader.input_name in registration.input_names
            and input_index == registration.input_names.index(reader.input_name)
        )
        if allowed:
            return
        layer, port = key.rsplit("/", 1)
        short = reader.classname.rsplit(".", 1)[-1]
        raise ConversionError(
            f"{self.where}: layer '{consumer}' ({classname}) reads output '{port}' of layer "
            f"'{layer}', which only the '{reader.input_name}' input of a {short} may read: "
            f"{reader.reason}."
        )

    def resolve(self, layer: str, port: str, consumer: str) -> str:
        """The producer key of ``layer/port`` (``layer`` alone for its first output)."""
        if layer in self.alias:
            if port not in ("", "out", "out1"):
                raise ConversionError(
                    f"{self.where}: layer '{consumer}' reads output '{port}' of '{layer}', which is removed at inference."
                )
            return self.alias[layer]
        if layer not in self.ports:
            raise ConversionError(
                f"{self.where}: layer '{consumer}' is connected to '{layer}', which produces no output."
            )
        ports = self.ports[layer]
        number = _port_number(port)
        if port in ("", "out") or port == ports[0]:
            index = 0
        elif port in ports:
            index = ports.index(port)
        elif number is not None and 1 <= number <= len(ports):
            index = number - 1
        else:
            raise ConversionError(
                f"{self.where}: layer '{consumer}' is connected to output '{port}' of '{layer}', which has outputs {', '.join(ports)}."
            )
        return layer if index == 0 else f"{layer}/{ports[index]}"


def import_network(
    value: Any, kind: str, where: str, stub_unsupported: bool = False
) -> Graph:
    """Convert one Deep Learning Toolbox network object into a Graph (no names yet)."""
    try:
        objects, edges, declared_outputs = network_parts(value, kind)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ConversionError(
            f"{where}: the {kind} object has an unexpected structure ({exc}); the file may be from an unsupported MATLAB release."
        ) from None
    records = [
        LayerRecord.from_object(o, where)
        for o in objects
        if isinstance(o, MatlabOpaque)
    ]
    if not records:
        raise ConversionError(f"{where}: the {kind} has no layers to convert.")
    if kind == "LayerArray":
        name_unnamed(records)
    names = [r.name for r in records]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConversionError(
            f"{where}: the {kind} has several layers named {', '.join(repr(d) for d in duplicates)}; give them unique names in MATLAB."
        )
    if edges is None:
        edges = [Edge(a.name, b.name, "") for a, b in itertools.pairwise(records)]
    known = set(names)
    for e in edges:
        for end in (e.source, e.target):
            if end not in known:
                raise ConversionError(
                    f"{where}: the Connections table names layer '{end}', which is not in the network."
                )
    try:
        ordered = _topological(records, edges)
    except ValueError as exc:
        raise ConversionError(f"{where}: {exc}.") from None

    training_only = training_only_layers(ordered, edges, kind)
    unsupported = [
        r
        for r in ordered
        if r.name not in training_only and lookup_record(r, stub_unsupported) is None
    ]
    if unsupported:
        raise ConversionError(_unsupported_message(where, unsupported))

    graph = Graph(
        source_name="",
        source_sha256="",
        variable="",
        matlab_class=kind,
        matlab_layer_count=len(records),
    )
    ports = _Ports(where)
    incoming: dict[str, list[Edge]] = {}
    for e in edges:
        incoming.setdefault(e.target, []).append(e)

    for record in ordered:
        if record.name in training_only:
            _leave_out(graph, ports, incoming.get(record.name, []), record)
            note = (
                f"training-only layer '{record.name}' ({record.classname}) left out: a "
                f"loss/output layer ({training_only[record.name]}); it takes no part in "
                "inference."
            )
            graph.notes.append(note)
            graph.left_out.append(note)
            continue
        registration = lookup_record(record, stub_unsupported)
        assert registration is not None
        indexed = []
        for e in incoming.get(record.name, []):
            index = registration.input_index(e.target_port)
            if index is None:
                raise ConversionError(
                    f"{where}: layer '{record.name}' ({record.classname}) has no input named '{e.target_port}' "
                    f"(its inputs: {', '.join(registration.input_names)})."
                )
            indexed.append((index, e))
        wired = [e for _, e in sorted(indexed, key=lambda pair: pair[0])]
        taken = [index for index, _ in indexed]
        if len(set(taken)) != len(taken):
            raise ConversionError(
                f"{where}: layer '{record.name}' has two connections into the same input."
            )
        if not wired and not _is_input_layer(record):
            raise ConversionError(
                f"{where}: layer '{record.name}' ({record.classname}) has no input connected and is not an input layer; "
                "connect it (or add an input layer with an InputSize) in MATLAB."
            )
        sources = [ports.resolve(e.source, e.source_port, record.name) for e in wired]
        for e, src in zip(wired, sources, strict=True):
            ports.check_reader(
                src,
                record.name,
                record.classname,
                registration.input_index(e.target_port),
                registration,
            )
        infos = [ports.infos[src] for src in sources]
        registration.check_schema(record)
        result = registration.run(record, infos)
        if isinstance(result, Dropped):
            graph.dropped.append((record.name, record.classname))
            if result.classes:
                graph.classes = result.classes
            if result.response_names:
                graph.response_names = result.response_names
            if sources:
                ports.alias[record.name] = sources[0]
            continue
        result.inputs = sources
        if result.op == "input":
            graph.inputs.append(GraphInput(record.name, result.out))  # type: ignore[arg-type]
            result.inputs = [record.name]
        graph.nodes.append(result)
        ports.add(result)

    graph.outputs = _outputs(where, records, edges, declared_outputs, ports)
    graph.trained = all(
        v is not None
        for n in graph.nodes
        for v in (*n.params.values(), *n.buffers.values())
    )
    return graph


def _leave_out(
    graph: Graph, ports: _Ports, wired: list[Edge], record: LayerRecord
) -> None:
    """Drop a recognised training-only layer; keep the names it stores, like the
    built-in output layers' converters do."""
    classes = text_list(record.fields.get("Classes")) or text_list(
        record.fields.get("ClassNames")
    )
    responses = text_list(record.fields.get("ResponseNames"))
    if classes:
        graph.classes = tuple(classes)
    if responses:
        graph.response_names = tuple(responses)
    if wired:
        key = ports.resolve(wired[0].source, wired[0].source_port, record.name)
        ports.check_reader(key, record.name, record.classname, None, None)
        ports.alias[record.name] = key


def _outputs(
    where: str,
    records: list[LayerRecord],
    edges: list[Edge],
    declared: list[str],
    ports: _Ports,
) -> list[str]:
    """Producer keys of the network outputs, in MATLAB's OutputNames order."""
    keys: list[str] = []
    if declared:
        for text in declared:
            layer, port = split_endpoint(text)
            if layer not in ports.ports and layer not in ports.alias:
                raise ConversionError(
                    f"{where}: the network declares output '{text}', which no converted layer produces."
                )
            keys.append(ports.resolve(layer, port, "(network output)"))
    else:
        feeding = {e.source for e in edges}
        for record in records:
            if record.name in feeding:
                continue
            if record.name in ports.alias:
                keys.append(ports.alias[record.name])
            elif record.name in ports.ports:
                keys.append(record.name)
    unique: list[str] = []
    for key in keys:
        reader = ports.readers.get(key)
        if reader is not None:
            short = reader.classname.rsplit(".", 1)[-1]
            raise ConversionError(
                f"{where}: the network outputs '{key}', which only the "
                f"'{reader.input_name}' input of a {short} may read: {reader.reason}; "
                "remove it from the network's outputs in MATLAB."
            )
        if key not in unique:
            unique.append(key)
    if not unique:
        raise ConversionError(f"{where}: the network has no output.")
    return unique


def describe_layers(value: Any, kind: str) -> list[LayerRecord]:
    objects, _, _ = network_parts(value, kind)
    records = [
        LayerRecord.from_object(o) for o in objects if isinstance(o, MatlabOpaque)
    ]
    if kind == "LayerArray":
        name_unnamed(records)
    return records


__all__: Sequence[str] = (
    "describe_layers",
    "import_network",
    "name_unnamed",
    "network_parts",
    "split_endpoint",
)
