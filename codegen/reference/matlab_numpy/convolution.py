"""Convolution (plain, grouped, transposed) and pooling on images (H,W,C,N)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_bool,
    as_f64,
    as_int,
    as_str,
    is_empty,
    optional_int,
    pad4,
    pair,
    param,
)
from codegen.reference.matlab_numpy.geometry import (
    conv_output_size,
    pad_spatial,
    padding_value,
    transposed_conv_same_cropping,
    window,
)
from codegen.reference.matlab_numpy.unpooling import pooling_outputs


def _kernel_size(w: Array, filter_size: Sequence[int] | None) -> tuple[int, int]:
    """(FH, FW): from FilterSize when given, else from the stored weights."""
    if filter_size is not None:
        fh, fw = (int(v) for v in filter_size)
        return fh, fw
    return w.shape[0], (w.shape[1] if w.ndim > 1 else 1)


def _dense_kernel(
    x: Array,
    weights: Array,
    filter_size: Sequence[int] | None,
    num_channels: int | None,
    num_filters: int | None,
) -> tuple[Array, Array, int, int, int, int]:
    """x and weights as float64 with the kernel sizes (FH, FW, Cin, Cout); Cin defaults to
    x's channels and Cout to what the weights hold (MATLAB dropped trailing singletons).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    cin = int(num_channels) if num_channels else x.shape[2]
    fh, fw = _kernel_size(w, filter_size)
    cout = int(num_filters) if num_filters else w.size // (fh * fw * cin)
    return x, w, fh, fw, cin, cout


def _add_channel_bias(y: Array, bias: Array | None) -> Array:
    """y + bias per output channel of an image; an absent or empty bias adds nothing."""
    if bias is not None and np.asarray(bias).size:
        return (
            y
            + np.asarray(bias, dtype=np.float64).reshape(-1, order="F")[
                None, None, :, None
            ]
        )
    return y


def conv2d(
    x: Array,
    weights: Array,
    bias: Array | None = None,
    stride: Sequence[int] = (1, 1),
    dilation: Sequence[int] = (1, 1),
    pad: Sequence[int] = (0, 0, 0, 0),
    pad_value: Any = 0.0,
    filter_size: Sequence[int] | None = None,
    num_channels: int | None = None,
    num_filters: int | None = None,
) -> Array:
    """2-D convolution of MATLAB's convolution2dLayer (SEM §Convolution).

    ``y[i,j,o,n] = b[o] + Σ_{p,q,c} W[p,q,c,o] · xpad[i·sh + p·dh, j·sw + q·dw, c, n]``:
    cross-correlation, no kernel flip [verified]. ``x`` is (H,W,Cin,N), ``weights``
    (FH,FW,Cin,Cout) as stored; MATLAB drops trailing singletons on save (one filter →
    FH×FW×Cin), so the shape is rebuilt column-major from ``filter_size``/``num_channels``/
    ``num_filters`` when given, else inferred from ``x``. ``pad`` is [top bottom left right]
    [verified: yusuf oracle]; ``pad_value`` 0 / scalar / 'replicate' /
    'symmetric-include-edge' / 'symmetric-exclude-edge'.
    """
    x, w, fh, fw, cin, cout = _dense_kernel(
        x, weights, filter_size, num_channels, num_filters
    )
    w = w.reshape((fh, fw, cin, cout), order="F")
    if x.shape[2] != cin:
        raise ValueError(f"input has {x.shape[2]} channels, weights expect {cin}")
    sh, sw = (int(v) for v in stride)
    dh, dw = (int(v) for v in dilation)
    xp = pad_spatial(x, pad, pad_value)
    ho = conv_output_size(x.shape[0], fh, sh, dh, pad[0], pad[1])
    wo = conv_output_size(x.shape[1], fw, sw, dw, pad[2], pad[3])
    y = np.zeros((ho, wo, cout, x.shape[3]), dtype=np.float64)
    for p in range(fh):
        for q in range(fw):
            patch = xp[
                p * dh : p * dh + sh * (ho - 1) + 1 : sh,
                q * dw : q * dw + sw * (wo - 1) + 1 : sw,
            ]
            y += np.einsum("hwcn,co->hwon", patch, w[p, q])
    return _add_channel_bias(y, bias)


def grouped_conv2d(
    x: Array,
    weights: Array,
    bias: Array | None = None,
    stride: Sequence[int] = (1, 1),
    dilation: Sequence[int] = (1, 1),
    pad: Sequence[int] = (0, 0, 0, 0),
    pad_value: Any = 0.0,
    filter_size: Sequence[int] | None = None,
    num_channels_per_group: int | None = None,
    num_filters_per_group: int | None = None,
    num_groups: int | None = None,
) -> Array:
    """groupedConvolution2dLayer (SEM §Convolution, grouped).

    Weights (FH,FW,Cin/G,Cout/G,G): group g convolves input channels
    ``g·Cin/G … (g+1)·Cin/G − 1`` with ``W[:,:,:,:,g]``; its filter f becomes output
    channel ``f + (Cout/G)·g`` (0-based). Bias (1,1,Cout/G,G) is flattened column-major,
    which gives the same channel order. Trailing singletons are rebuilt from the sizes.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    fh, fw = _kernel_size(w, filter_size)
    g_n = int(num_groups) if num_groups else (w.shape[4] if w.ndim >= 5 else 1)
    cpg = int(num_channels_per_group) if num_channels_per_group else x.shape[2] // g_n
    fpg = (
        int(num_filters_per_group)
        if num_filters_per_group
        else w.size // (fh * fw * cpg * g_n)
    )
    w = w.reshape((fh, fw, cpg, fpg, g_n), order="F")
    b = None
    if bias is not None and np.asarray(bias).size:
        b = np.asarray(bias, dtype=np.float64).reshape((fpg, g_n), order="F")
    outs = []
    for g in range(g_n):
        xg = x[:, :, g * cpg : (g + 1) * cpg, :]
        outs.append(
            conv2d(
                xg,
                w[..., g],
                None if b is None else b[:, g],
                stride,
                dilation,
                pad,
                pad_value,
            )
        )
    return np.concatenate(outs, axis=2)


def transposed_conv2d(
    x: Array,
    weights: Array,
    bias: Array | None = None,
    stride: Sequence[int] = (1, 1),
    cropping: Sequence[int] = (0, 0, 0, 0),
    filter_size: Sequence[int] | None = None,
    num_channels: int | None = None,
    num_filters: int | None = None,
) -> Array:
    """transposedConv2dLayer as the true adjoint (scatter) of convolution (SEM §Convolution).

    Weights are (FH,FW,Cout,Cin) (NumFilters before NumChannels). Every input pixel
    scatters ``W[p,q,:,c]·x[h,w,c]`` into ``full[h·sh + p, w·sw + q, :]``; the full
    output is ((H−1)·sh + FH) × ((W−1)·sw + FW), then ``cropping`` [t b l r] is removed
    and the bias added.
    """
    x, w, fh, fw, cin, cout = _dense_kernel(
        x, weights, filter_size, num_channels, num_filters
    )
    w = w.reshape((fh, fw, cout, cin), order="F")
    sh, sw = (int(v) for v in stride)
    h, wd, _, n = x.shape
    full = np.zeros(((h - 1) * sh + fh, (wd - 1) * sw + fw, cout, n), dtype=np.float64)
    for p in range(fh):
        for q in range(fw):
            contrib = np.einsum("hwcn,oc->hwon", x, w[p, q])
            full[
                p : p + sh * (h - 1) + 1 : sh, q : q + sw * (wd - 1) + 1 : sw
            ] += contrib
    t, b, left, r = (int(v) for v in cropping)
    y = full[t : full.shape[0] - b, left : full.shape[1] - r]
    return _add_channel_bias(y, bias)


# ---------------------------------------------------------------- pooling


def _pool_windows(
    xp: Array, pool: tuple[int, int], stride: tuple[int, int], ho: int, wo: int
) -> Iterable[Array]:
    ph, pw = pool
    sh, sw = stride
    for p in range(ph):
        for q in range(pw):
            yield xp[p : p + sh * (ho - 1) + 1 : sh, q : q + sw * (wo - 1) + 1 : sw]


def _pool_geometry(
    x: Any, pool_size: Sequence[int], stride: Sequence[int], pad: Sequence[int]
) -> tuple[Array, tuple[int, int], tuple[int, int], int, int]:
    """x as float64, the pool and stride as int pairs, and the output height and width."""
    x = np.asarray(x, dtype=np.float64)
    pool, st = (int(pool_size[0]), int(pool_size[1])), (int(stride[0]), int(stride[1]))
    ho = conv_output_size(x.shape[0], pool[0], st[0], 1, pad[0], pad[1])
    wo = conv_output_size(x.shape[1], pool[1], st[1], 1, pad[2], pad[3])
    return x, pool, st, ho, wo


def max_pool2d(
    x: Array,
    pool_size: Sequence[int],
    stride: Sequence[int],
    pad: Sequence[int] = (0, 0, 0, 0),
) -> Array:
    """maxPooling2dLayer (SEM §Pooling): padded positions count as −inf, so padding never
    wins (**uncertain**: MATLAB's docs do not state the pad value). Pad [t b l r]."""
    x, pool, st, ho, wo = _pool_geometry(x, pool_size, stride, pad)
    xp = pad_spatial(x, pad, -np.inf)
    y = np.full((ho, wo, *x.shape[2:]), -np.inf)
    for win in _pool_windows(xp, pool, st, ho, wo):
        y = np.maximum(y, win)
    return y


def avg_pool2d(
    x: Array,
    pool_size: Sequence[int],
    stride: Sequence[int],
    pad: Sequence[int] = (0, 0, 0, 0),
    padding_value: Any = 0.0,
) -> Array:
    """averagePooling2dLayer (SEM §Pooling).

    PaddingValue 0 (default): padded zeros are counted (divide by the full pool area);
    'mean': padded positions are excluded (divide by the number of real elements).
    """
    x, pool, st, ho, wo = _pool_geometry(x, pool_size, stride, pad)
    exclude = isinstance(padding_value, str) and padding_value == "mean"
    const = 0.0 if exclude else float(padding_value)
    xp = pad_spatial(x, pad, const)
    total = np.zeros((ho, wo, *x.shape[2:]))
    for win in _pool_windows(xp, pool, st, ho, wo):
        total += win
    if not exclude:
        return total / (pool[0] * pool[1])
    ones = pad_spatial(np.ones((x.shape[0], x.shape[1], 1, 1)), pad, 0.0)
    count = np.zeros((ho, wo, 1, 1))
    for win in _pool_windows(ones, pool, st, ho, wo):
        count += win
    return total / count


def global_avg_pool2d(x: Array) -> Array:
    """globalAveragePooling2dLayer: mean over H and W, output 1×1×C×N."""
    return np.asarray(x, dtype=np.float64).mean(axis=(0, 1), keepdims=True)


def global_max_pool2d(x: Array) -> Array:
    """globalMaxPooling2dLayer: max over H and W, output 1×1×C×N."""
    return np.asarray(x, dtype=np.float64).max(axis=(0, 1), keepdims=True)


# ---------------------------------------------------------------- layers


def _convolution(p: Props, xs: list[Array]) -> tuple[tuple[Any, ...], tuple[int, int]]:
    """What plain and grouped convolution layers both pass: (x, weights, bias, stride,
    dilation, padding, padding value), and the filter size."""
    filt, stride, dil, pad = window(p, xs[0], "FilterSize", "DilationFactor")
    return (
        xs[0],
        as_f64(p["Weights"]),
        param(p, "Bias"),
        stride,
        dil,
        pad,
        padding_value(p),
    ), filt


def _conv_layer(p: Props, xs: list[Array]) -> Array:
    arguments, filt = _convolution(p, xs)
    channels = optional_int(p.get("NumChannels"))
    return conv2d(
        *arguments,
        filter_size=filt,
        num_channels=channels,
        num_filters=as_int(p["NumFilters"]),
    )


def _grouped_conv_layer(p: Props, xs: list[Array]) -> Array:
    arguments, filt = _convolution(p, xs)
    return grouped_conv2d(
        *arguments,
        filter_size=filt,
        num_channels_per_group=optional_int(p.get("NumChannelsPerGroup")),
        num_filters_per_group=as_int(p["NumFiltersPerGroup"]),
        num_groups=optional_int(p.get("NumGroups")),
    )


def _transposed_conv_layer(p: Props, xs: list[Array]) -> Array:
    filt = pair(as_f64(p["FilterSize"]))
    stride = pair(as_f64(p.get("Stride", 1)))
    cs = p.get("CroppingSize")
    old_cropping = p.get("Cropping")
    if old_cropping is not None and not is_empty(old_cropping):
        # Schema version 1: Cropping = [a b] crops a rows from the top and from the
        # bottom, b columns from the left and from the right (MATLAB's documentation of
        # transposedConv2dLayer in the releases that stored it).
        a, b = (int(v) for v in as_f64(old_cropping).ravel())
        crop = [a, a, b, b]
    elif cs is not None and not is_empty(cs):
        crop = pad4(as_f64(cs))
    elif as_str(p.get("CroppingMode", "manual")) == "same":
        crop = transposed_conv_same_cropping(filt, stride)
    else:
        crop = [0, 0, 0, 0]
    return transposed_conv2d(
        xs[0],
        as_f64(p["Weights"]),
        param(p, "Bias"),
        stride,
        crop,
        filter_size=filt,
        num_channels=optional_int(p.get("NumChannels")),
        num_filters=as_int(p["NumFilters"]),
    )


def _max_pool_layer(p: Props, xs: list[Array]) -> Array:
    pool, stride, _, pad = window(p, xs[0], "PoolSize")
    if "HasUnpoolingOutputs" in p and as_bool(p["HasUnpoolingOutputs"]):
        # Its first output; unpooling.run_network gives all three.
        return np.asarray(pooling_outputs(p, xs[0])["out"])
    return max_pool2d(xs[0], pool, stride, pad)


def _avg_pool_layer(p: Props, xs: list[Array]) -> Array:
    pool, stride, _, pad = window(p, xs[0], "PoolSize")
    return avg_pool2d(xs[0], pool, stride, pad, padding_value(p))


LAYERS: dict[str, LayerRule] = {
    "Convolution2DLayer": _conv_layer,
    "GroupedConvolution2DLayer": _grouped_conv_layer,
    "TransposedConvolution2DLayer": _transposed_conv_layer,
    "MaxPooling2DLayer": _max_pool_layer,
    "AveragePooling2DLayer": _avg_pool_layer,
    "GlobalAveragePooling2DLayer": lambda p, xs: global_avg_pool2d(xs[0]),
    "GlobalMaxPooling2DLayer": lambda p, xs: global_max_pool2d(xs[0]),
}
