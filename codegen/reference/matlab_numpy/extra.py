"""Layers beyond the core set: resize by a scale factor or to a reference input, crop to a
reference input, and the Reinforcement Learning Toolbox's scalingLayer.

Cross-channel normalization (:func:`~codegen.reference.matlab_numpy.dense.cross_channel_norm`)
and resize to a size / crop (:mod:`.geometry`) already exist; this module adds what their
layer rules lack and registers Crop2DLayer and ScalingLayer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy import geometry
from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_bool,
    as_f64,
    as_str,
    is_empty,
)


def scaling(x: Array, scale: Any = 1.0, bias: Any = 0.0) -> Array:
    """scalingLayer (rl.layer.ScalingLayer): ``Y = Scale.*X + Bias``.

    MATLAB implicit expansion: the stored arrays line up with X's *leading* dimensions
    (a C×1 Scale against features C×N or sequences C×N×T; 1×1×C or H×W×C against images
    H×W×C×N), each dimension equal or 1.
    """
    x = np.asarray(x, dtype=np.float64)

    def expand(v: Any) -> Array:
        a = np.asarray(v, dtype=np.float64)
        if a.ndim > x.ndim:
            raise ValueError(f"a {a.shape} operand cannot expand against {x.shape}")
        return a.reshape(a.shape + (1,) * (x.ndim - a.ndim))

    return expand(scale) * x + expand(bias)


def _sample_positions(out_n: int, scale: float, mode: str) -> Array:
    """Input position (0-based) that output index d samples, from the scale factor."""
    d = np.arange(out_n, dtype=np.float64)
    if mode == "half-pixel":
        return (d + 0.5) / scale - 0.5
    if mode == "asymmetric":
        return d / scale
    raise ValueError(f"unsupported GeometricTransformMode {mode!r}")


def _resample_axis(
    x: Array, axis: int, positions: Array, method: str, rounding: str
) -> Array:
    n = x.shape[axis]
    if method == "nearest":
        if rounding == "round":  # MATLAB round: halves away from zero
            index = np.sign(positions) * np.floor(np.abs(positions) + 0.5)
        elif rounding == "floor":
            index = np.floor(positions)
        elif rounding == "onnx-10":  # dlresize: ceil when downsampling, else fix
            index = np.ceil(positions) if positions.size < n else np.floor(positions)
        else:
            raise ValueError(f"unsupported NearestRoundingMode {rounding!r}")
        return np.take(x, np.clip(index, 0, n - 1).astype(int), axis=axis)
    if method != "bilinear":
        raise ValueError(f"unsupported resize method {method!r}")
    p = np.clip(positions, 0.0, n - 1)
    lo = np.floor(p).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = p.size
    t = (p - lo).reshape(shape)
    return np.take(x, lo, axis=axis) * (1 - t) + np.take(x, hi, axis=axis) * t


def resize2d_scaled(
    x: Array,
    scale: float | Sequence[float],
    method: str = "nearest",
    geometric_transform_mode: str = "half-pixel",
    nearest_rounding_mode: str = "round",
) -> Array:
    """resize2dLayer with Scale on (H,W,C,N): output size floor(in·Scale), and output
    index d samples ``(d + 0.5)/Scale − 0.5`` ('half-pixel') or ``d/Scale``
    ('asymmetric'), the ONNX Resize rule (dlresize documents its transform modes in terms
    of the scale). Differs from :func:`geometry.resize2d` (which samples with in/out) only
    when in·Scale is not a whole number. **Uncertain**: not checked against MATLAB.
    """
    x = np.asarray(x, dtype=np.float64)
    scales = np.broadcast_to(np.asarray(scale, dtype=np.float64).ravel(), (2,))
    for axis in (0, 1):
        s = float(scales[axis])
        out_n = math.floor(x.shape[axis] * s)
        positions = _sample_positions(out_n, s, geometric_transform_mode)
        x = _resample_axis(x, axis, positions, method, nearest_rounding_mode)
    return x


# ---------------------------------------------------------------- layers


def _resize_options(p: Props) -> tuple[str, str, str]:
    return (
        as_str(p.get("Method", "nearest")) or "nearest",
        as_str(p.get("GeometricTransformMode", "half-pixel")) or "half-pixel",
        as_str(p.get("NearestRoundingMode", "round")) or "round",
    )


def _resize_layer(p: Props, xs: list[Array]) -> Array:
    """Adds EnableReferenceInput (output size = the 'ref' input's H×W) and the Scale rule
    of :func:`resize2d_scaled` to geometry's rule, which handles OutputSize."""
    if "EnableReferenceInput" in p and as_bool(p["EnableReferenceInput"]):
        return geometry.resize2d(xs[0], xs[1].shape[:2], *_resize_options(p))
    if is_empty(p.get("OutputSize")) and not is_empty(p.get("Scale")):
        return resize2d_scaled(xs[0], as_f64(p["Scale"]), *_resize_options(p))
    return geometry.LAYERS["Resize2DLayer"](p, xs)


def _crop_layer(p: Props, xs: list[Array]) -> Array:
    """crop2dLayer: inputs 'in' and 'ref'; the output takes the reference's H×W."""
    location = p.get("Location")
    numeric = location is not None and not is_empty(location)
    numeric = numeric and np.asarray(location).dtype.kind in "biuf"
    mode = as_str(p.get("Mode")) or ("custom" if numeric else "centercrop")
    loc = [int(v) for v in as_f64(location).ravel()] if mode == "custom" else None
    return geometry.crop2d(xs[0], xs[1].shape[:2], mode, loc)


def _scaling_layer(p: Props, xs: list[Array]) -> Array:
    scale = as_f64(p["Scale"]) if not is_empty(p.get("Scale")) else 1.0
    bias = as_f64(p["Bias"]) if not is_empty(p.get("Bias")) else 0.0
    return scaling(xs[0], scale, bias)


LAYERS: dict[str, LayerRule] = {
    "Resize2DLayer": _resize_layer,
    "Crop2DLayer": _crop_layer,
    "ScalingLayer": _scaling_layer,
}
