"""Networks: SeriesNetwork, DAGNetwork, LayerGraph and dlnetwork around a list of layers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from matio.utils.matclass import MatlabContainerMap, MatlabOpaque, MatlabOpaqueArray

from codegen.testing.dltwriter.schema import DltObject, Layer
from codegen.testing.dltwriter.values import (
    cell,
    char,
    double,
    empty,
    logical,
    string,
    struct,
)

Edges = Iterable[tuple[str, str]]


def layer_array(layers: Sequence[Layer]) -> MatlabOpaqueArray:
    """An N×1 heterogeneous array of class nnet.cnn.layer.Layer, as every network stores
    (and as MATLAB saves a bare layer array)."""
    array = np.empty((len(layers), 1), dtype=object)
    for index, layer in enumerate(layers):
        array[index, 0] = layer
    return MatlabOpaqueArray(array, "nnet.cnn.layer.Layer")


def _connections(edges: Edges) -> pd.DataFrame:
    """The Connections table: one row per edge, each cell a char vector ('add/in2' allowed)."""
    pairs = list(edges)
    columns = {
        "Source": pd.Series([char(src) for src, _ in pairs], dtype=object),
        "Destination": pd.Series([char(dst) for _, dst in pairs], dtype=object),
    }
    return pd.DataFrame(columns)


def _quantization_info() -> np.ndarray:
    return struct({"version": double(1), "data": MatlabContainerMap()})


def _network(
    classname: str, version: int, layers: Sequence[Layer], **fields: Any
) -> MatlabOpaque:
    """A network object: its saveobj struct (Version, Layers, then ``fields``) in ``any``."""
    record = {"Version": double(version), "Layers": layer_array(layers), **fields}
    return DltObject(classname, {"any": struct(record)}, {})


def series_network(layers: Sequence[Layer]) -> MatlabOpaque:
    """SeriesNetwork (saveobj Version 1): layers in order, no connections table."""
    return _network("SeriesNetwork", 1, layers)


def dag_network(layers: Sequence[Layer], connections: Edges) -> MatlabOpaque:
    """DAGNetwork (saveobj Version 2), with the empty quantization info MATLAB adds."""
    return _network(
        "DAGNetwork",
        2,
        layers,
        Connections=_connections(connections),
        SerializedQuantizationInfo=_quantization_info(),
    )


def layer_graph(layers: Sequence[Layer], connections: Edges) -> MatlabOpaque:
    """nnet.cnn.LayerGraph (saveobj Version 1)."""
    return _network(
        "nnet.cnn.LayerGraph", 1, layers, Connections=_connections(connections)
    )


def _layer_name(layer: Layer) -> str:
    record = (
        layer.properties["any"][0, 0] if "any" in layer.properties else layer.properties
    )
    return str(record["Name"].item()) if record["Name"].size else ""


def _sink_names(layers: Sequence[Layer], edges: Sequence[tuple[str, str]]) -> list[str]:
    """Layers whose output feeds nothing, in layer order: a dlnetwork's default outputs."""
    sources = {src.split("/")[0] for src, _ in edges}
    return [name for name in map(_layer_name, layers) if name not in sources]


def dlnetwork(
    layers: Sequence[Layer],
    connections: Edges,
    version: Literal[4, 6] = 6,
    output_names: Sequence[str] | None = None,
) -> MatlabOpaque:
    """dlnetwork (saveobj v6 as trainnet saves in 2024, or v4 as in 2022-23): an
    initialized network wrapping a LayerGraph. ``output_names`` default to the layers
    that feed nothing."""
    if version not in (4, 6):
        raise ValueError(
            f"dlnetwork schema version {version} is unknown; known versions: [4, 6]"
        )
    edges = list(connections)
    outputs = (
        list(output_names) if output_names is not None else _sink_names(layers, edges)
    )
    fields: dict[str, Any] = {
        "Version": double(version),
        "LayerGraph": layer_graph(layers, edges),
        "Initialized": logical(True),
        "SerializedQuantizationInfo": _quantization_info(),
        "ExampleInputs": np.empty((0, 0) if version == 6 else (1, 0), dtype=object),
        "OutputNames": cell([char(n) for n in outputs]),
    }
    defaults: dict[str, Any] = {"ExampleInputs": np.empty((0, 0), dtype=object)}
    if version == 6:
        fields |= {
            "ExternalOutputNames": empty(),
            "ExternalInputNames": empty(),
            "RetainCustomInputNames": logical(True),
            "RetainCustomOutputNames": logical(True),
        }
        defaults |= {"ExternalInputNames": empty(), "ExternalOutputNames": empty()}
        defaults |= {
            "RetainCustomInputNames": logical(True),
            "RetainCustomOutputNames": logical(True),
        }
    else:
        defaults["ExternalOutputNames"] = empty()
    defaults["InitializationState"] = string("uninit")
    return DltObject("dlnetwork", {"any": struct(fields)}, defaults)
