"""Group and instance normalization, PReLU, softplus, depth-to-space and space-to-depth,
in MATLAB layout (images H×W×C×N, features C×N, sequences C×N×T), from MATLAB's
documentation.

* ``groupnorm`` / groupNormalizationLayer: mean and biased variance per observation over
  the spatial and time dimensions and the channels of one group (consecutive blocks of
  C/G channels); NumGroups 'all-channels' = 1 group, 'channel-wise' = C groups. [doc]
* ``instancenorm`` / instanceNormalizationLayer: per channel and observation over the
  spatial and time dimensions. [doc]
* preluLayer: ``x`` where x > 0, ``Alpha.*x`` elsewhere, Alpha expanding implicitly
  against the input (its dimensions line up with the input's leading ones). [doc]
* softplusLayer: ``log(1 + exp(x))``, evaluated here without overflow. [doc]
* depthToSpace / spaceToDepth: the index formulas below, which reproduce the worked
  examples of MATLAB's documentation for 2×2 blocks (see tests/test_layers_depth_space.py);
  'crd' and non-square blocks extend them as the mode names describe. [doc; 'crd' and
  non-square **uncertain**]
"""

from __future__ import annotations

from collections.abc import Sequence
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


def prelu(x: Array, alpha: Any) -> Array:
    """``x`` where x > 0, else ``Alpha.*x`` with MATLAB implicit expansion of Alpha."""
    x = np.asarray(x, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim > x.ndim:
        raise ValueError(f"Alpha {a.shape} cannot expand against {x.shape}")
    a = a.reshape(a.shape + (1,) * (x.ndim - a.ndim))
    return np.where(x > 0, x, a * x)


def softplus(x: Array) -> Array:
    """log(1 + exp(x)), as logaddexp(0, x) so that no exp overflows."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def depth_to_space(x: Array, block: Sequence[int], mode: str = "dcr") -> Array:
    """(H, W, C·bh·bw, N) → (H·bh, W·bw, C, N): input channel k (0-based) of pixel
    (h, w) goes to pixel (h·bh + i, w·bw + j), channel c, where

    'dcr': k = (i·bw + j)·C + c  — depth fastest, then column, then row;
    'crd': k = c·bh·bw + i·bw + j — column fastest, then row, then depth.
    """
    x = np.asarray(x, dtype=np.float64)
    bh, bw = int(block[0]), int(block[1])
    h_in, w_in, k_in, n_obs = x.shape
    c_out = k_in // (bh * bw)
    if c_out * bh * bw != k_in:
        raise ValueError(f"{k_in} channels do not fill {bh}×{bw} blocks")
    y = np.empty((h_in * bh, w_in * bw, c_out, n_obs))
    for i in range(bh):
        for j in range(bw):
            for c in range(c_out):
                k = (
                    (i * bw + j) * c_out + c
                    if mode == "dcr"
                    else c * bh * bw + i * bw + j
                )
                y[i::bh, j::bw, c, :] = x[:, :, k, :]
    return y


def space_to_depth(x: Array, block: Sequence[int]) -> Array:
    """(H, W, C, N) → (floor(H/bh), floor(W/bw), C·bh·bw, N): pixel (h·bh + i, w·bw + j),
    channel c goes to pixel (h, w), channel (i·bw + j)·C + c. Rows and columns past the
    last whole block are left out: MATLAB's spaceToDepthHostStrategy crops the input to
    whole blocks from the end before it reorders."""
    x = np.asarray(x, dtype=np.float64)
    bh, bw = int(block[0]), int(block[1])
    h_in, w_in, c_in, n_obs = x.shape
    h_out, w_out = h_in // bh, w_in // bw
    y = np.empty((h_out, w_out, c_in * bh * bw, n_obs))
    for i in range(bh):
        for j in range(bw):
            for c in range(c_in):
                rows = slice(i, i + h_out * bh, bh)
                cols = slice(j, j + w_out * bw, bw)
                y[:, :, (i * bw + j) * c_in + c, :] = x[rows, cols, c, :]
    return y


# ---------------------------------------------------------------- layers


def _epsilon(p: Props) -> float:
    return as_num(p["Epsilon"]) if not is_empty(p.get("Epsilon")) else 1e-5


def _group_norm_layer(p: Props, xs: list[Array]) -> Array:
    groups = p["NumGroups"]
    spec: int | str = as_str(groups) if is_text(groups) else round(as_num(groups))
    return group_norm(xs[0], spec, as_f64(p["Scale"]), as_f64(p["Offset"]), _epsilon(p))


def _instance_norm_layer(p: Props, xs: list[Array]) -> Array:
    return instance_norm(xs[0], as_f64(p["Scale"]), as_f64(p["Offset"]), _epsilon(p))


def _block(p: Props) -> tuple[int, int]:
    values = [round(float(v)) for v in as_f64(p["BlockSize"]).ravel()]
    return (values[0], values[-1])


LAYERS: dict[str, LayerRule] = {
    "GroupNormalizationLayer": _group_norm_layer,
    "InstanceNormalizationLayer": _instance_norm_layer,
    "PReLULayer": lambda p, xs: prelu(xs[0], as_f64(p["Alpha"])),
    # rl.layer.SoftplusLayer and nnet.cnn.layer.SoftplusLayer alike.
    "SoftplusLayer": lambda p, xs: softplus(xs[0]),
    "DepthToSpace2DLayer": lambda p, xs: depth_to_space(
        xs[0], _block(p), (as_str(p.get("Mode")) or "dcr").lower()
    ),
    "SpaceToDepthLayer": lambda p, xs: space_to_depth(xs[0], _block(p)),
}
