"""3-D (volumetric) layers on MATLAB's 5-D arrays (H, W, D, C, N): image3dInputLayer,
convolution3dLayer, transposedConv3dLayer, maxPooling3dLayer, averagePooling3dLayer,
their global forms, and batch normalization, fully connected, softmax and depth
concatenation when they receive a volume.

Written from MATLAB's documentation of these layers and SEM §Convolution / §Pooling /
§Fully connected applied to a third spatial dimension; no MATLAB-produced oracle covers
any of them. Conventions as in the package: MATLAB layout, parameters as stored
(Weights FH×FW×FD×Cin×Cout — transposed: FH×FW×FD×Cout×Cin — trailing singletons
possibly dropped; Bias 1×1×1×Cout), float64, explicit loops over the kernel taps.

Padding and cropping are kept the way MATLAB documents them for 3-D layers, as a 2×3
matrix [t l f; b r k]: row 0 before, row 1 after; column 0 height (top/bottom), 1 width
(left/right), 2 depth (front/back). A stored value of 6 elements is read column-major
into that matrix, 3 elements [a b c] mean the same amount on both sides of each
dimension, 1 element everywhere [doc].

* 'same' padding: out = ceil(in/stride) per dimension, floor(total/2) before and the
  extra voxel after (bottom, right, back) — the 2-D rule [doc: "adds extra padding to the
  bottom/right/back"].
* 'same' cropping (transposed): total FilterSize − Stride per dimension; a trained
  network stores the split. Where an odd total's split is not stored it is **uncertain**
  (MATLAB's documentation and implementation disagree) and the converter refuses it; this
  reference then crops the extra voxel from the top, left and front.
* Max pooling pads with −inf; average pooling counts padded zeros unless PaddingValue is
  'mean' (SEM §Pooling).
* A fully connected layer flattens (H, W, D, C) column-major — index
  h + H·(w + W·(d + D·c)) — and returns MATLAB's 1×1×1×Out×N.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy import activations, dense
from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    as_int,
    as_num,
    as_str,
    is_empty,
    optional_int,
    param,
)

CHANNELS = 3  # the channel axis of (H, W, D, C, N)


def _three(v: Any, default: int = 1) -> tuple[int, int, int]:
    """MATLAB's [h w d] (or one number for all three) as three ints."""
    if v is None or is_empty(v):
        return (default, default, default)
    vals = [round(float(t)) for t in np.asarray(v, dtype=np.float64).ravel()]
    if len(vals) == 1:
        return (vals[0], vals[0], vals[0])
    if len(vals) != 3:
        raise ValueError(f"expected 1 or 3 values, got {vals}")
    return (vals[0], vals[1], vals[2])


def pad_matrix(v: Any) -> Array:
    """A stored 3-D PaddingSize/CroppingSize as the 2×3 int matrix [t l f; b r k]."""
    a = np.asarray(v, dtype=np.float64)
    if a.size == 6:
        return np.rint(a.reshape((2, 3), order="F")).astype(int)
    if a.size in (1, 3):
        row = np.broadcast_to(np.rint(a.ravel()), (3,)).astype(int)
        return np.stack([row, row])
    raise ValueError(f"3-D padding must have 1, 3 or 6 entries, got {a.size}")


def same_padding3d(
    in_size: Sequence[int],
    filter_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int] = (1, 1, 1),
) -> Array:
    """'same' padding as [t l f; b r k]: out = ceil(in/stride); the extra voxel goes after."""
    pad = np.zeros((2, 3), dtype=int)
    for i, (n, k, s, d) in enumerate(zip(in_size, filter_size, stride, dilation)):
        out = math.ceil(n / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pad[0, i], pad[1, i] = total // 2, total - total // 2
    return pad


def same_cropping3d(filter_size: Sequence[int], stride: Sequence[int]) -> Array:
    """'same' cropping as [t l f; b r k]: FilterSize − Stride, the extra voxel before
    (top, left, front) — uncertain, see the module docstring."""
    crop = np.zeros((2, 3), dtype=int)
    for i, (k, s) in enumerate(zip(filter_size, stride)):
        total = int(k) - int(s)
        if total < 0:
            raise ValueError("'same' cropping needs FilterSize >= Stride")
        crop[0, i], crop[1, i] = total - total // 2, total // 2
    return crop


def pad3d(x: Array, pad: Array, value: Any = 0.0) -> Array:
    """Pad the three spatial dims of (H, W, D, C, N) by [t l f; b r k]; ``value`` a
    number, 'replicate' (numpy edge) or 'symmetric-exclude-edge' (numpy reflect)."""
    widths = [(int(pad[0, i]), int(pad[1, i])) for i in range(3)] + [(0, 0), (0, 0)]
    if isinstance(value, str):
        modes = {"replicate": "edge", "symmetric-exclude-edge": "reflect"}
        return np.pad(x, widths, mode=modes[value])
    return np.pad(x, widths, mode="constant", constant_values=float(value))


def _out(n: int, k: int, s: int, d: int, before: int, after: int) -> int:
    return (n + before + after - ((k - 1) * d + 1)) // s + 1


def _taps(
    xp: Array,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
) -> Iterator[tuple[tuple[int, int, int], Array]]:
    """Every kernel tap (p, q, r) and the strided slab of ``xp`` it multiplies."""
    for p in range(kernel[0]):
        for q in range(kernel[1]):
            for r in range(kernel[2]):
                start = (p * dilation[0], q * dilation[1], r * dilation[2])
                yield (p, q, r), xp[
                    start[0] : start[0] + stride[0] * (out[0] - 1) + 1 : stride[0],
                    start[1] : start[1] + stride[1] * (out[1] - 1) + 1 : stride[1],
                    start[2] : start[2] + stride[2] * (out[2] - 1) + 1 : stride[2],
                ]


def _add_channel_bias(y: Array, bias: Array | None) -> Array:
    """y (H, W, D, C, N) + bias per channel; an absent or empty bias adds nothing."""
    if bias is None or np.asarray(bias).size == 0:
        return y
    b = np.asarray(bias, dtype=np.float64).reshape(-1, order="F")
    return y + b[None, None, None, :, None]


def conv3d(
    x: Array,
    weights: Array,
    bias: Array | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    pad: Array,
    pad_value: Any = 0.0,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
) -> Array:
    """convolution3dLayer: ``y[i,j,l,o,n] = b[o] + Σ_{p,q,r,c} W[p,q,r,c,o] ·
    xpad[i·sh + p·dh, j·sw + q·dw, l·sd + r·dd, c, n]`` — cross-correlation, as in 2-D.
    Weights are rebuilt column-major to FH×FW×FD×Cin×Cout from the sizes (MATLAB drops
    trailing singletons: one filter is saved FH×FW×FD×Cin)."""
    x = np.asarray(x, dtype=np.float64)
    cin = x.shape[CHANNELS]
    w = np.asarray(weights, dtype=np.float64)
    fh, fw, fd = filter_size if filter_size is not None else (*w.shape, 1, 1)[:3]
    cout = num_filters or w.size // (fh * fw * fd * cin)
    w = w.reshape((fh, fw, fd, cin, cout), order="F")
    out = [
        _out(x.shape[i], (fh, fw, fd)[i], stride[i], dilation[i], pad[0, i], pad[1, i])
        for i in range(3)
    ]
    xp = pad3d(x, pad, pad_value)
    y = np.zeros((*out, cout, x.shape[4]))
    for (p, q, r), slab in _taps(xp, (fh, fw, fd), stride, dilation, out):
        y += np.einsum("hwdcn,co->hwdon", slab, w[p, q, r])
    return _add_channel_bias(y, bias)


def transposed_conv3d(
    x: Array,
    weights: Array,
    bias: Array | None,
    stride: Sequence[int],
    crop: Array,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
) -> Array:
    """transposedConv3dLayer: every input voxel scatters ``W[:,:,:,o,c]·x`` into the full
    output ((in − 1)·stride + filter per dimension), then [t l f; b r k] is cropped away.
    Weights FH×FW×FD×Cout×Cin as stored."""
    x = np.asarray(x, dtype=np.float64)
    cin = x.shape[CHANNELS]
    w = np.asarray(weights, dtype=np.float64)
    fh, fw, fd = filter_size if filter_size is not None else (*w.shape, 1, 1)[:3]
    cout = num_filters or w.size // (fh * fw * fd * cin)
    w = w.reshape((fh, fw, fd, cout, cin), order="F")
    h, wd, d = x.shape[:3]
    sh, sw, sd = stride
    full = np.zeros(
        ((h - 1) * sh + fh, (wd - 1) * sw + fw, (d - 1) * sd + fd, cout, x.shape[4])
    )
    for p in range(fh):
        for q in range(fw):
            for r in range(fd):
                full[
                    p : p + sh * (h - 1) + 1 : sh,
                    q : q + sw * (wd - 1) + 1 : sw,
                    r : r + sd * (d - 1) + 1 : sd,
                ] += np.einsum("hwdcn,oc->hwdon", x, w[p, q, r])
    y = full[
        crop[0, 0] : full.shape[0] - crop[1, 0],
        crop[0, 1] : full.shape[1] - crop[1, 1],
        crop[0, 2] : full.shape[2] - crop[1, 2],
    ]
    return _add_channel_bias(y, bias)


def max_pool3d(
    x: Array, pool_size: Sequence[int], stride: Sequence[int], pad: Array
) -> Array:
    """maxPooling3dLayer: the maximum over each window; padding is −inf (never wins)."""
    x = np.asarray(x, dtype=np.float64)
    out = [
        _out(x.shape[i], pool_size[i], stride[i], 1, pad[0, i], pad[1, i])
        for i in range(3)
    ]
    y = np.full((*out, *x.shape[3:]), -np.inf)
    for _, slab in _taps(pad3d(x, pad, -np.inf), pool_size, stride, (1, 1, 1), out):
        y = np.maximum(y, slab)
    return y


def avg_pool3d(
    x: Array,
    pool_size: Sequence[int],
    stride: Sequence[int],
    pad: Array,
    padding_value: Any = 0.0,
) -> Array:
    """averagePooling3dLayer: PaddingValue 0 divides by the whole window (padded zeros
    count); 'mean' divides by the number of real voxels in it."""
    x = np.asarray(x, dtype=np.float64)
    out = [
        _out(x.shape[i], pool_size[i], stride[i], 1, pad[0, i], pad[1, i])
        for i in range(3)
    ]
    exclude = isinstance(padding_value, str) and padding_value == "mean"
    total = np.zeros((*out, *x.shape[3:]))
    count = np.zeros((*out, 1, 1))
    ones = pad3d(np.ones((*x.shape[:3], 1, 1)), pad, 0.0)
    for _, slab in _taps(pad3d(x, pad, 0.0), pool_size, stride, (1, 1, 1), out):
        total += slab
    for _, slab in _taps(ones, pool_size, stride, (1, 1, 1), out):
        count += slab
    return total / (count if exclude else float(np.prod(pool_size)))


def global_avg_pool3d(x: Array) -> Array:
    """globalAveragePooling3dLayer: mean over H, W and D, output 1×1×1×C×N."""
    return np.asarray(x, dtype=np.float64).mean(axis=(0, 1, 2), keepdims=True)


def global_max_pool3d(x: Array) -> Array:
    """globalMaxPooling3dLayer: max over H, W and D, output 1×1×1×C×N."""
    return np.asarray(x, dtype=np.float64).max(axis=(0, 1, 2), keepdims=True)


def _channel_vector(v: Any) -> Array:
    """A per-channel array of any stored shape (1×1×1×C, 1×1×C, C×1) against (H,W,D,C,N)."""
    return np.asarray(v, dtype=np.float64).reshape(-1, order="F")[:, None]


def batchnorm3d(
    x: Array, mean: Any, variance: Any, scale: Any, offset: Any, epsilon: float
) -> Array:
    """batchNormalizationLayer on volumes: the 2-D formula per channel (axis 3)."""
    x = np.asarray(x, dtype=np.float64)
    m, v = _channel_vector(mean), _channel_vector(variance)
    g, b = _channel_vector(scale), _channel_vector(offset)
    return g * (x - m) / np.sqrt(v + float(epsilon)) + b


def fully_connected3d(x: Array, weights: Any, bias: Any, output_size: int) -> Array:
    """fullyConnectedLayer on (H, W, D, C, N): the input flattened column-major — index
    h + H·(w + W·(d + D·c)) — times the weights, which are Out×In as a matrix or
    H×W×D×C×Out (column-major the same In×Out); returns MATLAB's 1×1×1×Out×N."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[4]
    flat = x.reshape((-1, n), order="F")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2 and w.shape == (output_size, flat.shape[0]):
        matrix = w
    else:
        matrix = w.reshape((flat.shape[0], output_size), order="F").T
    y = matrix @ flat
    if bias is not None and np.asarray(bias).size:
        y = y + np.asarray(bias, dtype=np.float64).reshape(-1, order="F")[:, None]
    return y.reshape((1, 1, 1, output_size, n))


def input_normalization3d(x: Array, kind: str, stats: dict[str, Any]) -> Array:
    """image3dInputLayer normalization (SEM §Normalization applied to volumes); each
    statistic H×W×D×C, 1×1×1×C (or C) or scalar."""

    def like(v: Any) -> Array:
        a = np.asarray(v, dtype=np.float64)
        if a.size == 1:
            return a.reshape(())
        if a.size == x.shape[CHANNELS]:
            return a.reshape(-1, order="F")[:, None]
        return a.reshape(x.shape[:4], order="F")[..., None]

    if kind == "zerocenter":
        return x - like(stats["Mean"])
    if kind == "zscore":
        return (x - like(stats["Mean"])) / like(stats["Std"])
    low, high = like(stats["Min"]), like(stats["Max"])
    if kind == "rescale-symmetric":
        return 2.0 * (x - low) / (high - low) - 1.0
    if kind == "rescale-zero-one":
        return (x - low) / (high - low)
    raise ValueError(f"unsupported normalization {kind!r}")


# ---------------------------------------------------------------- layers


def _window(
    p: Props, x: Array, size_field: str, dilation: tuple[int, int, int] = (1, 1, 1)
) -> tuple[tuple[int, int, int], tuple[int, int, int], Array]:
    """(window [h w d], stride [h w d], padding [t l f; b r k]) of a 3-D layer on x."""
    size = _three(as_f64(p[size_field]))
    stride = _three(p.get("Stride"))
    stored = p.get("PaddingSize")
    mode = as_str(p.get("PaddingMode", "manual")) or "manual"
    if (
        stored is not None
        and not is_empty(stored)
        and (mode != "same" or np.asarray(stored).size == 6)
    ):
        pad = pad_matrix(as_f64(stored))
    elif mode == "same":
        pad = same_padding3d(x.shape[:3], size, stride, dilation)
    else:
        pad = np.zeros((2, 3), dtype=int)
    return size, stride, pad


def _padding_value(p: Props) -> Any:
    """PaddingValue as a number, or as its name ('replicate', 'mean', ...)."""
    v = p.get("PaddingValue")
    if v is None or is_empty(v):
        return 0.0
    if isinstance(v, str) or np.asarray(v).dtype.kind in "UST":
        return as_str(v)
    return as_num(v)


def _image3d_input_layer(p: Props, xs: list[Array]) -> Array:
    x = xs[0]
    x = x.reshape(x.shape + (1,) * (5 - x.ndim))
    norm = p.get("Normalization")
    if not (isinstance(norm, np.ndarray) and norm.dtype.names):
        return x
    rec, names = norm.flat[0], norm.dtype.names
    stats = {
        key: rec[field]
        for key, field in (
            ("Mean", "AverageImage"),
            ("Mean", "Mean"),
            ("Std", "Std"),
            ("Min", "Min"),
            ("Max", "Max"),
        )
        if field in names and not is_empty(rec[field])
    }
    kind = as_str(rec["Type"])
    if kind == "none" or (kind == "zerocenter" and "Mean" not in stats):
        return x
    return input_normalization3d(x, kind, stats)


def _conv3d_layer(p: Props, xs: list[Array]) -> Array:
    dilation = _three(p.get("DilationFactor"))
    size, stride, pad = _window(p, xs[0], "FilterSize", dilation)
    value = _padding_value(p)
    return conv3d(
        xs[0],
        as_f64(p["Weights"]),
        param(p, "Bias"),
        stride,
        dilation,
        pad,
        value,
        size,
        as_int(p["NumFilters"]),
    )


def _transposed_conv3d_layer(p: Props, xs: list[Array]) -> Array:
    size = _three(as_f64(p["FilterSize"]))
    stride = _three(p.get("Stride"))
    stored = p.get("CroppingSize")
    if stored is not None and not is_empty(stored):
        crop = pad_matrix(as_f64(stored))
    elif as_str(p.get("CroppingMode", "manual")) == "same":
        crop = same_cropping3d(size, stride)
    else:
        crop = np.zeros((2, 3), dtype=int)
    return transposed_conv3d(
        xs[0],
        as_f64(p["Weights"]),
        param(p, "Bias"),
        stride,
        crop,
        size,
        optional_int(p.get("NumFilters")),
    )


def _max_pool3d_layer(p: Props, xs: list[Array]) -> Array:
    size, stride, pad = _window(p, xs[0], "PoolSize")
    return max_pool3d(xs[0], size, stride, pad)


def _avg_pool3d_layer(p: Props, xs: list[Array]) -> Array:
    size, stride, pad = _window(p, xs[0], "PoolSize")
    return avg_pool3d(xs[0], size, stride, pad, _padding_value(p))


def _on_volumes(rule: LayerRule, family_rule: LayerRule) -> LayerRule:
    """``rule`` for 5-D inputs, the class's usual (2-D/feature/sequence) rule otherwise."""

    def run(p: Props, xs: list[Array]) -> Array:
        return rule(p, xs) if xs[0].ndim == 5 else family_rule(p, xs)

    return run


def _batchnorm_layer(p: Props, xs: list[Array]) -> Array:
    stats = (
        as_f64(p[k]) for k in ("TrainedMean", "TrainedVariance", "Scale", "Offset")
    )
    return batchnorm3d(xs[0], *stats, as_num(p["Epsilon"]))


def _fully_connected_layer(p: Props, xs: list[Array]) -> Array:
    out = int(np.prod(as_f64(p["OutputSize"])))
    return fully_connected3d(xs[0], as_f64(p["Weights"]), param(p, "Bias"), out)


def _softmax_layer(p: Props, xs: list[Array]) -> Array:
    x = xs[0]
    e = np.exp(x - x.max(axis=CHANNELS, keepdims=True))
    return e / e.sum(axis=CHANNELS, keepdims=True)


def _depth_concatenation_layer(p: Props, xs: list[Array]) -> Array:
    return np.concatenate(xs, axis=CHANNELS)


LAYERS: dict[str, LayerRule] = {
    "Image3DInputLayer": _image3d_input_layer,
    "Convolution3DLayer": _conv3d_layer,
    "TransposedConvolution3DLayer": _transposed_conv3d_layer,
    "MaxPooling3DLayer": _max_pool3d_layer,
    "AveragePooling3DLayer": _avg_pool3d_layer,
    "GlobalAveragePooling3DLayer": lambda p, xs: global_avg_pool3d(xs[0]),
    "GlobalMaxPooling3DLayer": lambda p, xs: global_max_pool3d(xs[0]),
    # Shared classes: their volume rule on 5-D inputs, their family's rule otherwise.
    # (Addition, multiplication, concatenation along Dim and the element-wise
    # activations already work on any rank.)
    "BatchNormalizationLayer": _on_volumes(
        _batchnorm_layer, dense.LAYERS["BatchNormalizationLayer"]
    ),
    "FullyConnectedLayer": _on_volumes(
        _fully_connected_layer, dense.LAYERS["FullyConnectedLayer"]
    ),
    "SoftmaxLayer": _on_volumes(_softmax_layer, activations.LAYERS["SoftmaxLayer"]),
    "DepthConcatenationLayer": _on_volumes(
        _depth_concatenation_layer, activations.LAYERS["DepthConcatenationLayer"]
    ),
}
