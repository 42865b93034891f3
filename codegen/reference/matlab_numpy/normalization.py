"""Group and instance normalization, in MATLAB layout (images H×W×C×N, features C×N,
sequences C×N×T), from MATLAB's documentation. Batch, layer and cross-channel
normalization are in :mod:`.dense`.

* ``groupnorm`` / groupNormalizationLayer: mean and biased variance per observation over
  the spatial and time dimensions and the channels of one group (consecutive blocks of
  C/G channels); NumGroups 'all-channels' = 1 group, 'channel-wise' = C groups. [doc]
* ``instancenorm`` / instanceNormalizationLayer: per channel and observation over the
  spatial and time dimensions. [doc]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    as_num,
    as_str,
    channel_axis,
    is_empty,
    is_text,
)


def _per_channel(value: Any, x: Array) -> Array:
    """A per-channel Scale/Offset (any stored shape) shaped to broadcast against x."""
    v = np.asarray(value, dtype=np.float64).ravel(order="F")
    shape = [1] * x.ndim
    shape[channel_axis(x)] = v.size
    return v.reshape(shape)


def _normalize_groups(
    x: Array, groups: int, scale: Any, offset: Any, eps: float
) -> Array:
    """Normalize each observation over each group of channels and every non-batch,
    non-channel dimension, with explicit loops over observations and groups."""
    x = np.asarray(x, dtype=np.float64)
    c_axis = channel_axis(x)
    b_axis = 3 if x.ndim == 4 else 1  # images H×W×C×N; features C×N; sequences C×N×T
    channels = x.shape[c_axis]
    if channels % groups:
        raise ValueError(f"{groups} groups do not divide {channels} channels")
    size = channels // groups
    y = np.empty_like(x)
    for n in range(x.shape[b_axis]):
        for g in range(groups):
            index: list[Any] = [slice(None)] * x.ndim
            index[b_axis] = n
            index[c_axis] = slice(g * size, (g + 1) * size)
            block = x[tuple(index)]
            mu = block.mean()
            var = ((block - mu) ** 2).mean()
            y[tuple(index)] = (block - mu) / np.sqrt(var + eps)
    return _per_channel(scale, x) * y + _per_channel(offset, x)


def group_norm(
    x: Array, num_groups: int | str, scale: Any, offset: Any, epsilon: float = 1e-5
) -> Array:
    """groupNormalizationLayer on a MATLAB-layout activation."""
    channels = np.asarray(x).shape[channel_axis(np.asarray(x))]
    if num_groups == "all-channels":
        groups = 1
    elif num_groups == "channel-wise":
        groups = channels
    else:
        groups = int(num_groups)
    return _normalize_groups(x, groups, scale, offset, epsilon)


def instance_norm(x: Array, scale: Any, offset: Any, epsilon: float = 1e-5) -> Array:
    """instanceNormalizationLayer: one group per channel, over space or time."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        raise ValueError("instance normalization needs spatial or time dimensions")
    return _normalize_groups(x, x.shape[channel_axis(x)], scale, offset, epsilon)


# ---------------------------------------------------------------- layers


def _epsilon(p: Props) -> float:
    return as_num(p["Epsilon"]) if not is_empty(p.get("Epsilon")) else 1e-5


def _group_norm_layer(p: Props, xs: list[Array]) -> Array:
    groups = p["NumGroups"]
    spec: int | str = as_str(groups) if is_text(groups) else round(as_num(groups))
    return group_norm(xs[0], spec, as_f64(p["Scale"]), as_f64(p["Offset"]), _epsilon(p))


def _instance_norm_layer(p: Props, xs: list[Array]) -> Array:
    return instance_norm(xs[0], as_f64(p["Scale"]), as_f64(p["Offset"]), _epsilon(p))


LAYERS: dict[str, LayerRule] = {
    "GroupNormalizationLayer": _group_norm_layer,
    "InstanceNormalizationLayer": _instance_norm_layer,
}
