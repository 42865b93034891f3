"""MATLAB Deep Learning Toolbox objects → IR.

SeriesNetwork, DAGNetwork, LayerGraph, dlnetwork (schema v4 and v6, whose layers sit in
a nested LayerGraph) and bare layer arrays all reduce to the same thing: a list of layer
objects plus edges. Each layer goes through the converter registered for its class, in
topological order, with the sizes of its inputs propagated from the input layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matio.utils.matclass import MatlabOpaque, MatlabOpaqueArray

from codegen.errors import ConversionError
from codegen.ir import Graph, GraphInput, Node, TensorInfo
from codegen.layers.record import LayerRecord, text_list
from codegen.layers.registry import Dropped, lookup, registrations


@dataclass
class Edge:
    source: str  # layer name, or "layer/outK"
    target: str  # layer name
    port: int  # 0-based input index of target


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


def network_parts(value: Any, kind: str) -> tuple[list[Any], list[Edge] | None, list[str]]:
    """The layer objects, the edges (None = a chain) and the declared output names."""
    if kind == "LayerArray":
        return list(np.asarray(value).ravel(order="F")), None, []
    rec = _any(value)
    outputs: list[str] = []
    if kind == "dlnetwork":
        outputs = text_list(_field(rec, "OutputNames"))
        inner = _field(rec, "LayerGraph")
        rec = _any(inner)
    layers = _field(rec, "Layers")
    if layers is None:
        raise ValueError("no Layers")
    objects = list(layers.ravel(order="F")) if isinstance(layers, MatlabOpaqueArray) else [layers]
    if kind == "SeriesNetwork":
        return objects, None, outputs
    return objects, _edges(_field(rec, "Connections")), outputs


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
    for src, dst in zip(sources, targets):
        target, port = dst, 0
        if "/" in dst:
            target, suffix = dst.split("/", 1)
            digits = "".join(ch for ch in suffix if ch.isdigit())
            port = int(digits) - 1 if digits else 0
        if src.endswith("/out1") or src.endswith("/out"):
            src = src.rsplit("/", 1)[0]
        edges.append(Edge(src, target, port))
    return edges


def _cell_text(value: Any) -> str:
    texts = text_list(value)
    return texts[0] if texts else str(value)


def _topological(records: list[LayerRecord], edges: list[Edge]) -> list[LayerRecord]:
    """Kahn's algorithm, stable in the file's layer order."""
    index = {r.name: i for i, r in enumerate(records)}
    indegree = [0] * len(records)
    succ: list[list[int]] = [[] for _ in records]
    for e in edges:
        s, t = index.get(e.source.split("/")[0]), index.get(e.target)
        if s is None or t is None:
            continue
        succ[s].append(t)
        indegree[t] += 1
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
    if len(order) != len(records):
        raise ValueError("the connections contain a cycle")
    return [records[i] for i in order]


def _unsupported_message(where: str, layers: list[LayerRecord]) -> str:
    listed = ", ".join(f"'{r.name}' ({r.classname})" for r in layers)
    custom = [r for r in layers if "." not in r.classname]
    families = sorted({reg.classname.rsplit(".", 1)[-1] for reg in registrations().values()})
    if custom:
        advice = (
            "user-defined layer classes store no code in the .mat file, so they cannot be converted; "
            "replace them with built-in layers in MATLAB (or remove them) and save the network again"
        )
    else:
        advice = "these layer classes are not supported yet"
    plural = "layer" if len(layers) == 1 else "layers"
    return (
        f"{where}: cannot convert {plural} {listed}: {advice} "
        f"(supported: {', '.join(families)})."
    )


def import_network(value: Any, kind: str, where: str) -> Graph:
    """Convert one Deep Learning Toolbox network object into a Graph (no names yet)."""
    try:
        objects, edges, declared_outputs = network_parts(value, kind)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ConversionError(f"{where}: the {kind} object has an unexpected structure ({exc}); the file may be from an unsupported MATLAB release.") from None
    records = [LayerRecord.from_object(o, where) for o in objects if isinstance(o, MatlabOpaque)]
    if not records:
        raise ConversionError(f"{where}: the {kind} has no layers to convert.")
    names = [r.name for r in records]
    if len(set(names)) != len(names):
        raise ConversionError(f"{where}: the {kind} has duplicate layer names; rename them in MATLAB.")
    if edges is None:
        edges = [Edge(a.name, b.name, 0) for a, b in zip(records, records[1:])]
    try:
        ordered = _topological(records, edges)
    except ValueError as exc:
        raise ConversionError(f"{where}: {exc}.") from None

    unsupported = [r for r in ordered if lookup(r.classname) is None]
    if unsupported:
        raise ConversionError(_unsupported_message(where, unsupported))

    graph = Graph(source_name="", source_sha256="", variable="", matlab_class=kind, matlab_layer_count=len(records))
    producers: dict[str, TensorInfo] = {}
    alias: dict[str, str] = {}  # dropped layer -> the tensor it passes through
    incoming: dict[str, list[Edge]] = {}
    for e in edges:
        incoming.setdefault(e.target, []).append(e)

    for record in ordered:
        sources = [alias.get(e.source, e.source) for e in sorted(incoming.get(record.name, []), key=lambda e: e.port)]
        infos: list[TensorInfo] = []
        for src in sources:
            if src not in producers:
                raise ConversionError(f"{where}: layer '{record.name}' is connected to '{src}', which produces no output.")
            infos.append(producers[src])
        registration = lookup(record.classname)
        assert registration is not None
        result = registration.convert(record, infos)
        if isinstance(result, Dropped):
            if result.classes:
                graph.classes = result.classes
            if result.response_names:
                graph.response_names = result.response_names
            if sources:
                alias[record.name] = sources[0]
            continue
        result.inputs = sources
        if result.op == "input":
            graph.inputs.append(GraphInput(record.name, result.out))  # type: ignore[arg-type]
            result.inputs = [record.name]
        graph.nodes.append(result)
        assert result.out is not None
        producers[record.name] = result.out

    consumed = {src for n in graph.nodes for src in n.inputs if src != n.name}
    if declared_outputs:
        graph.outputs = [alias.get(o, o) for o in declared_outputs]
    else:
        graph.outputs = [n.name for n in graph.nodes if n.name not in consumed]
    graph.trained = all(v is not None for n in graph.nodes for v in n.params.values())
    return graph


def describe_layers(value: Any, kind: str) -> list[LayerRecord]:
    objects, _, _ = network_parts(value, kind)
    return [LayerRecord.from_object(o) for o in objects if isinstance(o, MatlabOpaque)]


__all__: Sequence[str] = ("import_network", "describe_layers", "network_parts")
