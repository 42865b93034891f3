"""Depth-to-space and space-to-depth, on MATLAB-layout images (H×W×C×N), from MATLAB's
documentation.

* depthToSpace / spaceToDepth: the index formulas below, which reproduce the worked
  examples of MATLAB's documentation for 2×2 blocks (see tests/test_layers_depth_space.py);
  'crd' and non-square blocks extend them as the mode names describe. [doc; 'crd' and
  non-square **uncertain**]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    as_str,
)


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


def _block(p: Props) -> tuple[int, int]:
    values = [round(float(v)) for v in as_f64(p["BlockSize"]).ravel()]
    return (values[0], values[-1])


LAYERS: dict[str, LayerRule] = {
    "DepthToSpace2DLayer": lambda p, xs: depth_to_space(
        xs[0], _block(p), (as_str(p.get("Mode")) or "dcr").lower()
    ),
    "SpaceToDepthLayer": lambda p, xs: space_to_depth(xs[0], _block(p)),
}
