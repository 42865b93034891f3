"""Max pooling with unpooling outputs and max unpooling (SegNet's encoder/decoder pair).

Written from MATLAB's documentation of ``maxPooling2dLayer`` (HasUnpoolingOutputs),
``maxUnpooling2dLayer`` and the functions behind them, ``maxpool`` / ``maxunpool``:

* ``[Y, indx, inputSize] = maxpool(X, poolsize)`` "also returns the linear indices of the
  maximum value within each pooled region and the size of the input feature map" [doc];
  the documented example (a 6×6×1×1 input, 2×2 windows, stride 2) shows indx as 1-based
  column-major linear indices and inputSize as a 1×4 row. Here indx indexes the whole
  H×W×C×N input (MATLAB's linear indexing); the encoding never leaves the pair of layers.
* ``maxunpool(X, indx, outputSize)`` "upsamples the spatial dimensions ... to match the
  size outputSize. The data is padded with zeros between the locations of maximum values
  specified by indx" [doc]: a zero array of outputSize with X at the positions indx.
* Ties inside a window are **not documented**. This reference takes the first maximum in
  column-major order (h fastest), as MATLAB's ``max`` documents for its index output; the
  tests feed continuous random values, where ties do not occur.
* Overlapping windows (Stride below PoolSize) and padding are **not documented** for the
  unpooling outputs (how values sent to one position combine; which position a padded
  window reports): refused here (NotImplementedError), as the converter refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_bool,
    classname,
    is_output_layer,
    layer_name,
    layer_props,
)
from codegen.reference.matlab_numpy.geometry import window

# Input ports of maxUnpooling2dLayer, in order [doc: InputNames]; the extra outputs of
# maxPooling2dLayer with HasUnpoolingOutputs true [doc: OutputNames].
UNPOOL_INPUTS = ("in", "indices", "size")
POOL_PORTS = ("indices", "size")


def max_pool2d_indices(
    x: Array, pool_size: Sequence[int], stride: Sequence[int]
) -> tuple[Array, Array, tuple[int, ...]]:
    """(Y, indx, inputSize) of maxPooling2dLayer with HasUnpoolingOutputs true, on an
    unpadded H×W×C×N input: indx 1-based column-major linear indices into ``x``."""
    x = np.asarray(x, dtype=np.float64)
    x4 = x.reshape(*x.shape, *([1] * (4 - x.ndim)))
    h, w, c, n = x4.shape
    ph, pw = int(pool_size[0]), int(pool_size[1])
    sh, sw = int(stride[0]), int(stride[1])
    if sh < ph or sw < pw:
        raise NotImplementedError(
            "overlapping pooling windows with unpooling outputs (undocumented)"
        )
    ho, wo = (h - ph) // sh + 1, (w - pw) // sw + 1
    y = np.empty((ho, wo, c, n))
    indx = np.empty((ho, wo, c, n), dtype=np.int64)
    channel, observation = np.meshgrid(np.arange(c), np.arange(n), indexing="ij")
    for i in range(ho):
        for j in range(wo):
            region = x4[i * sh : i * sh + ph, j * sw : j * sw + pw]
            # The window's values in column-major order (h fastest), per channel/observation.
            flat = region.reshape(ph * pw, c, n, order="F")
            k = np.argmax(flat, axis=0)  # the first maximum in that order
            row = i * sh + k % ph
            col = j * sw + k // ph
            y[i, j] = np.take_along_axis(flat, k[None], axis=0)[0]
            indx[i, j] = 1 + row + h * (col + w * (channel + c * observation))
    return y, indx, (h, w, c, n)


def max_unpool2d(x: Array, indx: Array, output_size: Sequence[int]) -> Array:
    """maxUnpooling2dLayer: zeros of ``output_size`` with each value of ``x`` at its
    1-based column-major linear index ``indx`` (same shape as ``x``)."""
    x = np.asarray(x, dtype=np.float64)
    positions = np.asarray(indx).astype(np.int64)
    if positions.shape != x.shape:
        raise ValueError(
            f"the unpooled input {x.shape} and its indices {positions.shape} differ in size"
        )
    size = tuple(int(s) for s in np.asarray(output_size).ravel())
    y = np.zeros(int(np.prod(size)))
    y[positions.ravel(order="F") - 1] = x.ravel(order="F")
    return y.reshape(size, order="F")


def pooling_outputs(p: Props, x: Array) -> dict[str, Any]:
    """A max pooling layer's outputs by port: 'out', 'indices' and 'size' when it has
    unpooling outputs."""
    pool, stride, _, pad = window(p, np.asarray(x), "PoolSize")
    if any(pad):
        raise NotImplementedError(
            "padding with unpooling outputs (undocumented which position a padded window reports)"
        )
    y, indx, size = max_pool2d_indices(x, pool, stride)
    return {"out": y, "indices": indx, "size": size}


def _unpool_layer(p: Props, xs: list[Array]) -> Array:
    return max_unpool2d(xs[0], xs[1], xs[2])


LAYERS: dict[str, LayerRule] = {"MaxUnpooling2DLayer": _unpool_layer}


def _input_index(port: str) -> int:
    if port in ("", "in"):
        return 0
    if port in UNPOOL_INPUTS:
        return UNPOOL_INPUTS.index(port)
    if port.startswith("in") and port[2:].isdigit():
        return int(port[2:]) - 1
    raise ValueError(f"unknown input port {port!r}")


def run_network(
    layer_objects: Sequence[Any],
    connections: Sequence[tuple[str, str]],
    inputs: Mapping[str, Array],
    custom: Mapping[str, Callable[..., Array]] | None = None,
) -> dict[str, Any]:
    """Every layer's output (MATLAB layout) of a network with max unpooling.

    ``connections`` as (source, destination) names with ports (``("pool/indices",
    "unpool/indices")``); ``inputs`` maps each input layer's name to its array; ``custom``
    as :func:`.networks.run_layer` takes it. A pooling layer with unpooling outputs has
    entries ``name`` (its 'out'), ``name/indices`` and ``name/size``.
    """
    from codegen.reference.matlab_numpy.networks import run_layer

    names = [layer_name(layer) for layer in layer_objects]
    by_name = dict(zip(names, layer_objects, strict=True))
    incoming: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
    for src, dst in connections:
        dname, _, dport = dst.partition("/")
        sname, _, sport = src.partition("/")
        key = sname if sport in ("", "out") else f"{sname}/{sport}"
        incoming[dname].append((_input_index(dport), key))
    values: dict[str, Any] = {}
    pending = list(names)
    while pending:
        ready = [n for n in pending if all(k in values for _, k in incoming[n])]
        if not ready:
            raise ValueError(f"cycle or missing source among {pending}")
        for name in ready:
            layer = by_name[name]
            args = [values[k] for _, k in sorted(incoming[name])]
            if name in inputs:
                args = [np.asarray(inputs[name], dtype=np.float64), *args]
            p = layer_props(layer)
            short = classname(layer).split(".")[-1]
            if is_output_layer(layer):
                values[name] = args[0]
            elif short == "MaxPooling2DLayer" and as_bool(
                p.get("HasUnpoolingOutputs", False)
            ):
                outputs = pooling_outputs(p, args[0])
                values[name] = outputs["out"]
                values[f"{name}/indices"] = outputs["indices"]
                values[f"{name}/size"] = outputs["size"]
            elif short == "MaxUnpooling2DLayer":
                values[name] = max_unpool2d(*args)
            else:
                values[name] = run_layer(layer, args, custom)
            pending.remove(name)
    return values
