"""NumPy reference pieces for graph networks that ``matlab_numpy`` does not cover.

Plain NumPy from MATLAB's documented rules; imports neither torch nor ``codegen``. Works
on mat-io layer objects (or plain dicts, like ``matlab_numpy``) in MATLAB layout.

* :func:`propagate_sizes` — MATLAB's activation-size rules (H×W×C per image layer),
  layer by layer through a DAG, for checking the shapes a converted untrained network
  produces on an input size other than its input layer's.
* :func:`multi_output_names` — a network's outputs as MATLAB orders them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy import (
    connections_from_table,
    layer_name,
    layer_props,
)

Size = tuple[int, int, int]  # H, W, C


def _vals(v: Any) -> list[int]:
    if isinstance(v, np.ndarray) and v.dtype.names and "Value" in v.dtype.names:
        v = v.flat[0]["Value"]
    arr = np.asarray(v)
    if arr.size == 0 or arr.dtype.kind not in "biuf":
        return []
    return [round(float(t)) for t in arr.ravel()]


def _pair(v: Any, default: int = 1) -> tuple[int, int]:
    vals = _vals(v)
    if not vals:
        return (default, default)
    return (vals[0], vals[0]) if len(vals) == 1 else (vals[0], vals[1])


def _text(v: Any) -> str:
    arr = np.asarray(v)
    if arr.size == 0:
        return ""
    el = arr.flat[0]
    return _text(el) if isinstance(el, np.ndarray) else str(el)


def _pads(p: Mapping[str, Any], key: str) -> list[int] | None:
    vals = _vals(p.get(key, np.empty(0)))
    if not vals:
        return None
    if len(vals) == 1:
        return vals * 4
    if len(vals) == 2:
        return [vals[0], vals[0], vals[1], vals[1]]
    return vals


def _spatial(
    size: Size, p: Mapping[str, Any], kernel: tuple[int, int], channels: int
) -> Size:
    """Convolution / pooling output size: 'same' → ceil(n / s); else the floor formula."""
    h, w, _ = size
    stride = _pair(p.get("Stride"))
    dil = _pair(p.get("DilationFactor"))
    mode = _text(p.get("PaddingMode", "manual")) or "manual"
    pads = _pads(p, "PaddingSize")
    out = []
    for n, k, s, d, before_after in zip(
        (h, w), kernel, stride, dil, (0, 2), strict=False
    ):
        if mode == "same" and pads is None:
            out.append(math.ceil(n / s))
            continue
        pb = pads[before_after] + pads[before_after + 1] if pads else 0
        out.append((n + pb - ((k - 1) * d + 1)) // s + 1)
    return (out[0], out[1], channels)


def layer_output_size(
    layer: Any, inputs: Sequence[Size], input_size: Size | None = None
) -> Size:
    """MATLAB's output size (H, W, C) of one image-network layer (documented rules)."""
    p = layer_props(layer)
    cls = str(getattr(layer, "classname", p.get("classname", ""))).split(".")[-1]
    if cls == "ImageInputLayer":
        if input_size is not None:
            return input_size
        vals = _vals(p["InputSize"])
        return (vals[0], vals[1], vals[2] if len(vals) > 2 else 1)
    x = inputs[0]
    if cls == "Convolution2DLayer":
        return _spatial(x, p, _pair(p["FilterSize"]), _vals(p["NumFilters"])[0])
    if cls == "GroupedConvolution2DLayer":
        groups_text = _text(p.get("NumGroups", ""))
        groups = x[2] if groups_text == "channel-wise" else _vals(p["NumGroups"])[0]
        return _spatial(
            x, p, _pair(p["FilterSize"]), groups * _vals(p["NumFiltersPerGroup"])[0]
        )
    if cls in ("MaxPooling2DLayer", "AveragePooling2DLayer"):
        return _spatial(x, p, _pair(p["PoolSize"]), x[2])
    if cls == "TransposedConvolution2DLayer":
        k = _pair(p["FilterSize"])
        s = _pair(p.get("Stride"))
        if (_text(p.get("CroppingMode", "manual")) or "manual") == "same":
            return (x[0] * s[0], x[1] * s[1], _vals(p["NumFilters"])[0])
        crop = _pads(p, "CroppingSize") or [0, 0, 0, 0]
        h = (x[0] - 1) * s[0] + k[0] - crop[0] - crop[1]
        w = (x[1] - 1) * s[1] + k[1] - crop[2] - crop[3]
        return (h, w, _vals(p["NumFilters"])[0])
    if cls == "DepthConcatenationLayer":
        if any(i[:2] != x[:2] for i in inputs):
            raise ValueError(f"depth concatenation of different spatial sizes {inputs}")
        return (x[0], x[1], sum(i[2] for i in inputs))
    if cls in ("AdditionLayer", "MultiplicationLayer"):
        if any(i != x for i in inputs):
            raise ValueError(f"elementwise layer with different sizes {inputs}")
        return x
    if cls == "FullyConnectedLayer":
        return (1, 1, _vals(p["OutputSize"])[-1])
    if cls in ("GlobalAveragePooling2DLayer", "GlobalMaxPooling2DLayer"):
        return (1, 1, x[2])
    # Elementwise activations, dropout, batch norm, softmax, output layers keep the size.
    return x


def propagate_sizes(
    layers: Sequence[Any],
    connections: Any,
    input_sizes: Mapping[str, Size] | None = None,
) -> dict[str, Size]:
    """Every layer's output size (H, W, C), in dependency order; ``input_sizes`` overrides
    input layers' InputSize (MATLAB itself would insist on it; the rules are the same).
    """
    conns = (
        connections_from_table(connections)
        if not isinstance(connections, list)
        else connections
    )
    names = [layer_name(layer) for layer in layers]
    by_name = dict(zip(names, layers, strict=True))
    incoming: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
    for src, dst in conns:
        dname, _, dport = dst.partition("/")
        port = int("".join(ch for ch in dport if ch.isdigit()) or 1)
        incoming[dname].append((port, src.split("/")[0]))
    sizes: dict[str, Size] = {}
    pending = list(names)
    while pending:
        progressed = False
        for n in list(pending):
            if all(src in sizes for _, src in incoming[n]):
                srcs = [sizes[src] for _, src in sorted(incoming[n])]
                override = (input_sizes or {}).get(n)
                sizes[n] = layer_output_size(by_name[n], srcs, override)
                pending.remove(n)
                progressed = True
        if not progressed:
            raise ValueError(f"cycle among {pending}")
    return sizes


def multi_output_names(
    layers: Sequence[Any], connections: Any, declared: Sequence[str] = ()
) -> list[str]:
    """MATLAB's output order: a dlnetwork's OutputNames, else the layers feeding nothing
    in layer order (DAGNetwork)."""
    if declared:
        return [d.split("/")[0] for d in declared]
    conns = (
        connections_from_table(connections)
        if not isinstance(connections, list)
        else connections
    )
    feeding = {src.split("/")[0] for src, _ in conns}
    return [layer_name(layer) for layer in layers if layer_name(layer) not in feeding]
