"""Spatial geometry: 'same' padding and output sizes, padding itself, resize (to a size,
by a scale factor or to a reference input) and crop (to a size or to a reference input).

Also the field readers that turn a layer's PaddingMode/PaddingSize/PaddingValue into
concrete numbers, shared by convolution and pooling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_bool,
    as_f64,
    as_num,
    as_str,
    is_empty,
    pad4,
    pair,
)


def same_padding(
    in_size: Sequence[int],
    filter_size: Sequence[int],
    stride: Sequence[int] = (1, 1),
    dilation: Sequence[int] = (1, 1),
) -> list[int]:
    """Resolve ``'same'`` padding to ``[top bottom left right]`` (SEM §Convolution).

    out = ceil(in/stride); total = max((out−1)·stride + (k−1)·dilation + 1 − in, 0);
    top/left = floor(total/2); the extra pixel goes bottom/right. [verified + doc]
    """
    pads: list[int] = []
    for n, k, s, d in zip(in_size, filter_size, stride, dilation, strict=False):
        out = -(-int(n) // int(s))
        total = max((out - 1) * int(s) + (int(k) - 1) * int(d) + 1 - int(n), 0)
        pads += [total // 2, total - total // 2]
    return pads


def conv_output_size(
    n: int, k: int, stride: int, dilation: int, pad_before: int, pad_after: int
) -> int:
    """floor((n + pads − ((k−1)·d + 1)) / stride) + 1 (MATLAB convolution/pooling doc)."""
    return (n + pad_before + pad_after - ((k - 1) * dilation + 1)) // stride + 1


def transposed_conv_same_cropping(
    filter_size: Sequence[int], stride: Sequence[int]
) -> list[int]:
    """Cropping [t b l r] for CroppingMode 'same' (output = stride·input).

    total = FilterSize − Stride per dim (the full output is (in−1)·s + k); split like
    'same' padding: top/left floor(total/2), the extra row/column bottom/right.
    SEM §Convolution marks this split **uncertain**.
    """
    crop: list[int] = []
    for k, s in zip(filter_size, stride, strict=False):
        total = max(int(k) - int(s), 0)
        crop += [total // 2, total - total // 2]
    return crop


def _padding_mode(pad_value: Any) -> tuple[str, float]:
    """PaddingValue → numpy pad mode (SEM §Convolution: mapping **uncertain**).

    0 / scalar → constant; 'replicate' → edge; 'symmetric-include-edge' → numpy
    'symmetric' (edge repeated); 'symmetric-exclude-edge' → numpy 'reflect'.
    """
    if isinstance(pad_value, str):
        table = {
            "replicate": "edge",
            "symmetric-include-edge": "symmetric",
            "symmetric-exclude-edge": "reflect",
        }
        if pad_value not in table:
            raise ValueError(f"unknown PaddingValue {pad_value!r}")
        return table[pad_value], 0.0
    return "constant", float(pad_value)


def pad_spatial(x: Array, pad: Sequence[int], pad_value: Any = 0.0) -> Array:
    """Pad the two spatial dims of (H,W,C,N) by MATLAB ``[top bottom left right]``."""
    t, b, left, r = (int(p) for p in pad)
    mode, const = _padding_mode(pad_value)
    widths = [(t, b), (left, r), (0, 0), (0, 0)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=const)
    return np.pad(x, widths, mode=mode)


# ---------------------------------------------------------------- layer fields


def window(
    p: Props, x: Array, size_field: str, dilation_field: str | None = None
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], list[int]]:
    """(window size, stride, dilation, padding [t b l r]) of a convolution or pooling
    layer on input ``x``: a stored PaddingSize wins, else 'same' is resolved, else 0."""
    size = pair(as_f64(p[size_field]))
    stride = pair(as_f64(p.get("Stride", 1)))
    dilation = (
        pair(as_f64(p[dilation_field]))
        if dilation_field and dilation_field in p
        else (1, 1)
    )
    mode = as_str(p.get("PaddingMode", "manual"))
    stored = p.get("PaddingSize")
    if stored is not None and not is_empty(stored):
        pad = pad4(as_f64(stored))
    elif mode == "same":
        pad = same_padding(x.shape[:2], size, stride, dilation)
    else:
        pad = [0, 0, 0, 0]
    return size, stride, dilation, pad


def padding_value(p: Props) -> Any:
    """PaddingValue as a number, or as its name ('replicate', 'mean', ...)."""
    v = p.get("PaddingValue")
    if v is None or is_empty(v):
        return 0.0
    arr = np.asarray(v)
    if (
        arr.dtype.kind in "US"
        or arr.dtype.kind == "T"
        or (arr.dtype == object and isinstance(arr.flat[0], str))
    ):
        return as_str(v)
    return as_num(v)


# ---------------------------------------------------------------- resize and crop


def _source_coordinates(n: int, out_n: int, mode: str) -> Array:
    """Where output pixel d samples the input (0-based), per GeometricTransformMode."""
    d = np.arange(out_n, dtype=np.float64)
    if mode == "half-pixel":
        return (d + 0.5) * (n / out_n) - 0.5
    if mode == "asymmetric":
        return d * (n / out_n)
    raise ValueError(f"unsupported GeometricTransformMode {mode!r}")


def _resize_axis_linear(x: Array, axis: int, out_n: int, mode: str) -> Array:
    n = x.shape[axis]
    src = np.clip(_source_coordinates(n, out_n, mode), 0.0, n - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    frac = src - i0
    shape = [1] * x.ndim
    shape[axis] = out_n
    frac = frac.reshape(shape)
    return np.take(x, i0, axis=axis) * (1 - frac) + np.take(x, i1, axis=axis) * frac


def _resize_axis_nearest(
    x: Array, axis: int, out_n: int, mode: str, rounding: str
) -> Array:
    n = x.shape[axis]
    src = _source_coordinates(n, out_n, mode)
    if rounding == "round":  # MATLAB round: half away from zero
        idx = np.sign(src) * np.floor(np.abs(src) + 0.5)
    elif rounding == "floor":
        idx = np.floor(src)
    elif rounding == "onnx-10":  # dlresize: ceil when downsampling, else fix
        idx = np.ceil(src) if out_n < n else np.floor(src)
    else:
        raise ValueError(f"unsupported NearestRoundingMode {rounding!r}")
    idx = np.clip(idx, 0, n - 1).astype(int)
    return np.take(x, idx, axis=axis)


def resize2d(
    x: Array,
    output_size: Sequence[int],
    method: str = "nearest",
    geometric_transform_mode: str = "half-pixel",
    nearest_rounding_mode: str = "round",
) -> Array:
    """resize2dLayer on (H,W,C,N) (SEM §Resize; MATLAB dlresize).

    bilinear: source coordinate ``(d + 0.5)·in/out − 0.5`` ('half-pixel') or
    ``d·in/out`` ('asymmetric'), clamped to [0, in − 1], linear between the two
    neighbours (separable). nearest: same coordinate, rounded with MATLAB ``round``
    (half away from zero) or ``floor``, clamped. No antialiasing.
    """
    x = np.asarray(x, dtype=np.float64)
    oh, ow = (int(v) for v in output_size)
    if method == "bilinear":
        y = _resize_axis_linear(x, 0, oh, geometric_transform_mode)
        return _resize_axis_linear(y, 1, ow, geometric_transform_mode)
    if method == "nearest":
        y = _resize_axis_nearest(
            x, 0, oh, geometric_transform_mode, nearest_rounding_mode
        )
        return _resize_axis_nearest(
            y, 1, ow, geometric_transform_mode, nearest_rounding_mode
        )
    raise ValueError(f"unsupported resize method {method!r}")


def sample_positions(out_n: int, scale: float, mode: str) -> Array:
    """Input position (0-based) that output index d samples, from the scale factor."""
    d = np.arange(out_n, dtype=np.float64)
    if mode == "half-pixel":
        return (d + 0.5) / scale - 0.5
    if mode == "asymmetric":
        return d / scale
    raise ValueError(f"unsupported GeometricTransformMode {mode!r}")


def resample_axis(
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
    if method not in ("bilinear", "trilinear"):  # linear along this axis either way
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
    of the scale). Differs from :func:`resize2d` (which samples with in/out) only
    when in·Scale is not a whole number. **Uncertain**: not checked against MATLAB.
    """
    x = np.asarray(x, dtype=np.float64)
    scales = np.broadcast_to(np.asarray(scale, dtype=np.float64).ravel(), (2,))
    for axis in (0, 1):
        s = float(scales[axis])
        out_n = math.floor(x.shape[axis] * s)
        positions = sample_positions(out_n, s, geometric_transform_mode)
        x = resample_axis(x, axis, positions, method, nearest_rounding_mode)
    return x


def crop2d(
    x: Array,
    output_size: Sequence[int],
    mode: str = "centercrop",
    location: Sequence[int] | None = None,
) -> Array:
    """crop2dLayer on (H,W,C,N) (SEM §Activations, misc).

    'centercrop': 0-based start = floor(in/2 + 1) − floor(out/2 + 1) per dim;
    'custom': ``location`` is MATLAB's [x y] (column, row), 1-based.
    """
    x = np.asarray(x, dtype=np.float64)
    oh, ow = (int(v) for v in output_size)
    if mode == "centercrop":
        r0 = int(math.floor(x.shape[0] / 2 + 1) - math.floor(oh / 2 + 1))
        c0 = int(math.floor(x.shape[1] / 2 + 1) - math.floor(ow / 2 + 1))
    elif mode == "custom":
        assert location is not None
        c0, r0 = int(location[0]) - 1, int(location[1]) - 1
    else:
        raise ValueError(f"unknown crop mode {mode!r}")
    return x[r0 : r0 + oh, c0 : c0 + ow]


def _resize_layer(p: Props, xs: list[Array]) -> Array:
    x = xs[0]
    out = p.get("OutputSize")
    if out is not None and not is_empty(out):
        osz = [int(v) for v in as_f64(out).ravel()]
    else:
        sc = as_f64(p["Scale"]).ravel()
        sc = np.broadcast_to(sc, (2,))
        osz = [math.floor(x.shape[0] * sc[0]), math.floor(x.shape[1] * sc[1])]
    return resize2d(
        x,
        osz,
        as_str(p.get("Method", "nearest")),
        as_str(p.get("GeometricTransformMode", "half-pixel")),
        as_str(p.get("NearestRoundingMode", "round")),
    )


def _resize_options(p: Props) -> tuple[str, str, str]:
    return (
        as_str(p.get("Method", "nearest")) or "nearest",
        as_str(p.get("GeometricTransformMode", "half-pixel")) or "half-pixel",
        as_str(p.get("NearestRoundingMode", "round")) or "round",
    )


def _resize2d_layer(p: Props, xs: list[Array]) -> Array:
    """Adds EnableReferenceInput (output size = the 'ref' input's H×W) and the Scale rule
    of :func:`resize2d_scaled` to :func:`_resize_layer`, which handles OutputSize."""
    if "EnableReferenceInput" in p and as_bool(p["EnableReferenceInput"]):
        return resize2d(xs[0], xs[1].shape[:2], *_resize_options(p))
    if is_empty(p.get("OutputSize")) and not is_empty(p.get("Scale")):
        return resize2d_scaled(xs[0], as_f64(p["Scale"]), *_resize_options(p))
    return _resize_layer(p, xs)


def _crop_layer(p: Props, xs: list[Array]) -> Array:
    """crop2dLayer: inputs 'in' and 'ref'; the output takes the reference's H×W."""
    location = p.get("Location")
    numeric = location is not None and not is_empty(location)
    numeric = numeric and np.asarray(location).dtype.kind in "biuf"
    mode = as_str(p.get("Mode")) or ("custom" if numeric else "centercrop")
    loc = [int(v) for v in as_f64(location).ravel()] if mode == "custom" else None
    return crop2d(xs[0], xs[1].shape[:2], mode, loc)


LAYERS: dict[str, LayerRule] = {
    "Resize2DLayer": _resize2d_layer,
    "Crop2DLayer": _crop_layer,
}
