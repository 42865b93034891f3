"""Reading networks from a .mat file and running them layer by layer.

:func:`run_layer` dispatches on each layer's real class to the rule its family module
registers (``LAYERS`` in each module), reading every field from the layer's own struct.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy import (
    activations,
    attention,
    convolution,
    dense,
    depth_space,
    detection,
    geometry,
    image_sequence,
    imported,
    normalization,
    recurrent,
    recurrent_projected,
    scaling,
    unpooling,
    utility,
    volume,
)

# By name: the package re-exports the function conv1d over the module's name.
from codegen.reference.matlab_numpy.conv1d import LAYERS as CONV1D_LAYERS
from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    as_str,
    classname,
    is_output_layer,
    layer_name,
    layer_props,
)

Handler = Callable[..., Array]

# Classes of MATLAB's Keras and ONNX importers, by full class name: their short names
# (SigmoidLayer, FlattenLayer) are those of built-in layers with other semantics.
_FULL_NAME_RULES: dict[str, LayerRule] = dict(imported.LAYERS)

_RULES: dict[str, LayerRule] = {
    **dense.LAYERS,
    **convolution.LAYERS,
    **activations.LAYERS,
    **geometry.LAYERS,
    **recurrent.LAYERS,
    **recurrent_projected.LAYERS,
    **attention.LAYERS,
    **CONV1D_LAYERS,
    **normalization.LAYERS,
    **depth_space.LAYERS,
    **scaling.LAYERS,
    # 3-D layers; its batch norm, fully connected, softmax and depth concatenation rules
    # take 5-D (volume) inputs and hand any other input to dense's and activations' rules.
    **volume.LAYERS,
    # Image sequences (H, W, C, N, T): sequence input with InputSize [h w c] (other inputs
    # go to dense's rule), folding and unfolding as MATLAB's reshapes. Networks with
    # image sequences run through image_sequence.run_network.
    **image_sequence.LAYERS,
    # YOLO v2 transform and reorganization, 3-D resize.
    **detection.LAYERS,
    # Max unpooling; max pooling's unpooling outputs run through unpooling.run_network.
    **unpooling.LAYERS,
    # Identity, spatial dropout (the identity at prediction) and 3-D crop.
    **utility.LAYERS,
}


def load_mat(path: str) -> dict[str, Any]:
    """Read a .mat file with mat-io, with the project's per-element class-name fix."""
    from matio import load_from_mat

    from codegen.readers.matio_fix import patched_load

    with patched_load():
        return load_from_mat(str(path))


def connections_from_table(table: Any) -> list[tuple[str, str]]:
    """Connections table (pandas DataFrame with Source/Destination) → list of pairs."""
    if table is None:
        return []
    if isinstance(table, (list, tuple)):
        return [(str(a), str(b)) for a, b in table]
    src = [as_str(v) for v in table["Source"]]
    dst = [as_str(v) for v in table["Destination"]]
    return list(zip(src, dst, strict=True))


def network_layers(net: Any) -> tuple[list[Any], list[tuple[str, str]] | None]:
    """(layers, connections) of a SeriesNetwork / DAGNetwork / LayerGraph / dlnetwork.

    connections is None for a SeriesNetwork (MATLAB_FORMAT.md §3).
    """
    rec = net.properties["any"].flat[0]
    names = rec.dtype.names
    if "LayerGraph" in names:
        rec = rec["LayerGraph"].properties["any"].flat[0]
        names = rec.dtype.names
    layers = list(np.asarray(rec["Layers"]).ravel(order="F"))
    conns = (
        connections_from_table(rec["Connections"]) if "Connections" in names else None
    )
    return layers, conns


def run_layer(
    layer: Any, inputs: Sequence[Array], custom: Mapping[str, Handler] | None = None
) -> Array:
    """Apply one mat-io layer object to its MATLAB-layout input(s), dispatching on the
    real classname and reading every field from the layer's own struct.

    ``custom`` maps a layer Name or classname to ``f(layer_props, *inputs) -> array`` for
    user-defined layers (e.g. ``identityLayer``) and FunctionLayers (never evaluated from
    the file). Output layers are the identity here.
    """
    p = layer_props(layer)
    cls = classname(layer)
    short = cls.split(".")[-1]
    name = as_str(p.get("Name"))
    if custom:
        for key in (name, cls, short):
            if key in custom:
                return np.asarray(custom[key](p, *inputs), dtype=np.float64)
    xs = [np.asarray(v, dtype=np.float64) for v in inputs]
    if is_output_layer(layer):
        return xs[0] if xs else None
    if cls in _FULL_NAME_RULES:
        return _FULL_NAME_RULES[cls](p, xs)
    if short in _RULES:
        return _RULES[short](p, xs)
    raise NotImplementedError(
        f"no reference for layer class {cls!r} (name {name!r}); pass custom="
    )


def run_layers(
    layer_objects: Sequence[Any], x: Array, custom: Mapping[str, Handler] | None = None
) -> Array:
    """Run a SERIES network (e.g. SeriesNetwork ``Layers``) on a MATLAB-layout input.

    Layers are applied in order; classification/regression output layers are skipped.
    Returns the output of the last non-output layer.
    """
    y = np.asarray(x, dtype=np.float64)
    for layer in layer_objects:
        if is_output_layer(layer):
            continue
        y = run_layer(layer, [y], custom)
    return y


def _split_port(endpoint: str) -> tuple[str, str]:
    if "/" in endpoint:
        name, port = endpoint.rsplit("/", 1)
        return name, port
    return endpoint, ""


def _port_key(port: str) -> tuple[int, str]:
    digits = "".join(ch for ch in port if ch.isdigit())
    return (int(digits) if digits else 0, port)


def run_graph(
    layer_objects: Sequence[Any],
    connections: Sequence[tuple[str, str]] | Any,
    inputs: Mapping[str, Array],
    custom: Mapping[str, Handler] | None = None,
) -> dict[str, Array]:
    """Run a DAG (DAGNetwork / LayerGraph / dlnetwork) and return every layer's output.

    ``connections`` is a list of (source, destination) names (or the Connections
    DataFrame); a destination ``layer/inK`` feeds input port K (ports ordered in1, in2,
    ...), a source ``layer/out`` is the layer's single output. ``inputs`` maps the name
    of each input layer (or of any layer with an unconnected input) to its MATLAB-layout
    array. Output layers pass their input through.
    """
    conns = (
        connections_from_table(connections)
        if not isinstance(connections, list)
        else connections
    )
    if any(_split_port(src)[1] in unpooling.POOL_PORTS for src, _ in conns):
        # Max pooling's 'indices' and 'size' outputs feed max unpooling layers.
        return unpooling.run_network(layer_objects, conns, inputs, custom)
    by_name = {layer_name(layer): layer for layer in layer_objects}
    incoming: dict[str, list[tuple[tuple[int, str], str]]] = {nm: [] for nm in by_name}
    for src, dst in conns:
        sname, sport = _split_port(src)
        if sport not in ("", "out"):
            raise NotImplementedError(f"multi-output source {src!r}")
        dname, dport = _split_port(dst)
        incoming[dname].append((_port_key(dport), sname))
    # Kahn topological order, keeping the file's layer order among ready layers.
    order: list[str] = []
    done: set[str] = set()
    pending = [layer_name(layer) for layer in layer_objects]
    while pending:
        progressed = False
        for nm in list(pending):
            if all(src in done for _, src in incoming[nm]):
                order.append(nm)
                done.add(nm)
                pending.remove(nm)
                progressed = True
        if not progressed:
            raise ValueError(f"cycle or missing source among {pending}")
    outputs: dict[str, Array] = {}
    for nm in order:
        srcs = [src for _, src in sorted(incoming[nm])]
        args = [outputs[s] for s in srcs]
        if nm in inputs:
            args = [np.asarray(inputs[nm], dtype=np.float64), *args]
        if not args:
            raise ValueError(f"layer {nm!r} has no input: pass it in inputs")
        outputs[nm] = run_layer(by_name[nm], args, custom)
    return outputs
