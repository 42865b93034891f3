"""1-D convolution and pooling over time on sequences (C,N,T): convolution1dLayer,
transposedConv1dLayer, maxPooling1dLayer, averagePooling1dLayer,
globalAveragePooling1dLayer and globalMaxPooling1dLayer.

Written from MATLAB's documentation of these layers (R2021b+) and SEM §Convolution /
§Pooling; no MATLAB-produced oracle covers them. Conventions as in the package: MATLAB
layout ((C, N, T) sequences), parameters as stored (Weights FilterSize×NumChannels×
NumFilters, trailing singletons possibly dropped; Bias 1×NumFilters), float64, explicit
loops over the window taps.

Padding, from PaddingMode [doc]: 'manual' → PaddingSize [left right]; 'causal' →
(FilterSize − 1)·DilationFactor steps on the left only; 'same' → the output has
ceil(T/Stride) steps, total padding (out − 1)·Stride + (FilterSize − 1)·Dilation + 1 − T,
floor(total/2) on the left and the rest on the right (the 2-D rule of SEM §Convolution
applied to time — **uncertain** for 1-D, no oracle). 'causal' and 'same' are resolved from
T here, whatever PaddingSize the file stores.

transposedConv1dLayer (R2022a+) is the adjoint of convolution1dLayer: every input step
t scatters ``W[k,:,c]·x[c,n,t]`` into full output step t·Stride + k, giving
(T − 1)·Stride + FilterSize steps, from which CroppingSize [left right] is removed.
Weights are FilterSize×NumFilters×NumChannels (NumFilters first, as in every MATLAB
transposed layer) [doc]. CroppingMode 'same' crops FilterSize − Stride steps in total so
that the output has Stride·T steps [doc]; the layer stores the split it resolved, which is
used here. An odd total with no stored split raises: MATLAB's split is **uncertain**.

Global pooling of 'CBT' data pools over time and returns 'CB' (C, N): the time dimension
is removed, which is what lets a fully connected layer and a classification output follow
it in MATLAB's sequence-to-label examples [doc; **uncertain**: no oracle].
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
    as_int,
    as_str,
    is_empty,
    optional_int,
    param,
)
from codegen.reference.matlab_numpy.geometry import padding_value, same_padding

# PaddingValue names → numpy.pad modes along time (SEM §Convolution: mapping uncertain).
_PAD_MODES = {
    "replicate": "edge",
    "symmetric-include-edge": "symmetric",
    "symmetric-exclude-edge": "reflect",
}


def padding_1d(
    mode: str,
    stored: Sequence[int] | None,
    steps: int,
    size: int,
    stride: int = 1,
    dilation: int = 1,
) -> list[int]:
    """[left right] padding of a 1-D window of ``size`` taps on ``steps`` time steps."""
    if mode == "causal":
        return [(size - 1) * dilation, 0]
    if mode == "same":
        return same_padding([steps], [size], [stride], [dilation])
    if mode != "manual":
        raise ValueError(f"unknown PaddingMode {mode!r}")
    if stored is None or len(stored) == 0:
        return [0, 0]
    values = [int(v) for v in stored]
    return [values[0], values[-1]]


def pad_time(x: Array, pad: Sequence[int], pad_value: Any = 0.0) -> Array:
    """Pad the time axis of (C,N,T) by [left right] with a constant or a named mode."""
    widths = [(0, 0), (0, 0), (int(pad[0]), int(pad[1]))]
    if isinstance(pad_value, str):
        if pad_value not in _PAD_MODES:
            raise ValueError(f"unknown PaddingValue {pad_value!r}")
        return np.pad(x, widths, mode=_PAD_MODES[pad_value])
    return np.pad(x, widths, mode="constant", constant_values=float(pad_value))


def out_steps(
    steps: int, size: int, stride: int, dilation: int, pad: Sequence[int]
) -> int:
    """floor((T + left + right − ((size − 1)·dilation + 1)) / stride) + 1."""
    return (steps + pad[0] + pad[1] - ((size - 1) * dilation + 1)) // stride + 1


def conv1d(
    x: Array,
    weights: Array,
    bias: Array | None = None,
    stride: int = 1,
    dilation: int = 1,
    pad: Sequence[int] = (0, 0),
    pad_value: Any = 0.0,
    filter_size: int | None = None,
    num_channels: int | None = None,
    num_filters: int | None = None,
) -> Array:
    """convolution1dLayer on (C,N,T): cross-correlation over time, no kernel flip.

    ``y[o,n,t] = b[o] + Σ_{k,c} W[k,c,o] · xpad[c, n, t·stride + k·dilation]``, with
    ``W`` (FilterSize, NumChannels, NumFilters) rebuilt column-major from the sizes
    (MATLAB drops a trailing NumFilters or NumChannels of 1 on save).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    k = int(filter_size) if filter_size else w.shape[0]
    cin = int(num_channels) if num_channels else x.shape[0]
    cout = int(num_filters) if num_filters else w.size // (k * cin)
    w = w.reshape((k, cin, cout), order="F")
    if x.shape[0] != cin:
        raise ValueError(f"input has {x.shape[0]} channels, weights expect {cin}")
    xp = pad_time(x, pad, pad_value)
    t_out = out_steps(x.shape[2], k, stride, dilation, pad)
    y = np.zeros((cout, x.shape[1], t_out))
    for tap in range(k):
        start = tap * dilation
        taken = xp[:, :, start : start + stride * (t_out - 1) + 1 : stride]
        y += np.einsum("cnt,co->ont", taken, w[tap])
    if bias is not None and np.asarray(bias).size:
        y += np.asarray(bias, dtype=np.float64).reshape(-1)[:, None, None]
    return y


def transposed_conv1d(
    x: Array,
    weights: Array,
    bias: Array | None = None,
    stride: int = 1,
    cropping: Sequence[int] = (0, 0),
    filter_size: int | None = None,
    num_channels: int | None = None,
    num_filters: int | None = None,
) -> Array:
    """transposedConv1dLayer on (C,N,T): the scatter (adjoint) of a 1-D convolution.

    ``full[o, n, t·stride + k] += Σ_c W[k,o,c] · x[c,n,t]`` with ``W`` (FilterSize,
    NumFilters, NumChannels) rebuilt column-major from the sizes; ``cropping`` [left
    right] steps are then removed from the full (T − 1)·stride + FilterSize steps and
    the bias added to every step left.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    k = int(filter_size) if filter_size else w.shape[0]
    cin = int(num_channels) if num_channels else x.shape[0]
    cout = int(num_filters) if num_filters else w.size // (k * cin)
    w = w.reshape((k, cout, cin), order="F")
    if x.shape[0] != cin:
        raise ValueError(f"input has {x.shape[0]} channels, weights expect {cin}")
    steps = x.shape[2]
    full = np.zeros((cout, x.shape[1], (steps - 1) * stride + k))
    for tap in range(k):
        full[:, :, tap : tap + stride * (steps - 1) + 1 : stride] += np.einsum(
            "cnt,oc->ont", x, w[tap]
        )
    left, right = (int(v) for v in cropping)
    y = full[:, :, left : full.shape[2] - right]
    if bias is not None and np.asarray(bias).size:
        y = y + np.asarray(bias, dtype=np.float64).reshape(-1)[:, None, None]
    return y


def transposed_cropping_1d(
    mode: str, stored: Sequence[int] | None, filter_size: int, stride: int
) -> list[int]:
    """[left right] cropping of a transposedConv1dLayer (see the module docstring)."""
    if stored is not None and len(stored) > 0:
        values = [int(v) for v in stored]
        crop = [values[0], values[-1]]
        if mode != "same" or sum(crop) == filter_size - stride:
            return crop
    if mode == "manual":
        return [0, 0]
    if mode != "same":
        raise ValueError(f"unknown CroppingMode {mode!r}")
    total = filter_size - stride
    if total < 0 or total % 2:
        raise ValueError(
            f"'same' cropping of {total} steps has no certain [left right] split"
        )
    return [total // 2, total // 2]


def _windows(xp: Array, size: int, stride: int, t_out: int) -> list[Array]:
    return [
        xp[:, :, tap : tap + stride * (t_out - 1) + 1 : stride] for tap in range(size)
    ]


def max_pool1d(
    x: Array, pool_size: int, stride: int = 1, pad: Sequence[int] = (0, 0)
) -> Array:
    """maxPooling1dLayer on (C,N,T): padded steps are −inf, so padding never wins
    (SEM §Pooling, **uncertain**)."""
    x = np.asarray(x, dtype=np.float64)
    t_out = out_steps(x.shape[2], pool_size, stride, 1, pad)
    xp = pad_time(x, pad, -np.inf)
    return np.max(np.stack(_windows(xp, pool_size, stride, t_out)), axis=0)


def avg_pool1d(
    x: Array,
    pool_size: int,
    stride: int = 1,
    pad: Sequence[int] = (0, 0),
    padding_value: Any = 0.0,
) -> Array:
    """averagePooling1dLayer on (C,N,T): PaddingValue 0 (or a number) pads with it and
    divides by PoolSize; 'mean' leaves padded steps out (divides by the real steps)."""
    x = np.asarray(x, dtype=np.float64)
    t_out = out_steps(x.shape[2], pool_size, stride, 1, pad)
    exclude = isinstance(padding_value, str)
    if exclude and padding_value != "mean":
        raise ValueError(f"unknown PaddingValue {padding_value!r}")
    xp = pad_time(x, pad, 0.0 if exclude else padding_value)
    total = np.sum(np.stack(_windows(xp, pool_size, stride, t_out)), axis=0)
    if not exclude:
        return total / pool_size
    ones = pad_time(np.ones((1, 1, x.shape[2])), pad, 0.0)
    count = np.sum(np.stack(_windows(ones, pool_size, stride, t_out)), axis=0)
    return total / count


def global_avg_pool1d(x: Array) -> Array:
    """globalAveragePooling1dLayer on (C,N,T): the mean over time, 'CB' (C,N) out."""
    return np.asarray(x, dtype=np.float64).mean(axis=2)


def global_max_pool1d(x: Array) -> Array:
    """globalMaxPooling1dLayer on (C,N,T): the maximum over time, 'CB' (C,N) out."""
    return np.asarray(x, dtype=np.float64).max(axis=2)


# ---------------------------------------------------------------- layers


def _sequence(xs: list[Array]) -> Array:
    if xs[0].ndim != 3:
        raise ValueError(f"1-D layers here take (C,N,T) sequences, got {xs[0].shape}")
    return xs[0]


def _stored_padding(p: Props) -> list[int] | None:
    stored = p.get("PaddingSize")
    if stored is None or is_empty(stored):
        return None
    return [round(float(v)) for v in as_f64(stored).ravel()]


def _window(p: Props, x: Array, size_field: str) -> tuple[int, int, int, list[int]]:
    """(size, stride, dilation, [left right]) of a 1-D layer on (C,N,T) ``x``."""
    size = as_int(p[size_field])
    stride = as_int(p["Stride"]) if "Stride" in p and not is_empty(p["Stride"]) else 1
    dilation = (
        as_int(p["DilationFactor"])
        if "DilationFactor" in p and not is_empty(p["DilationFactor"])
        else 1
    )
    mode = as_str(p.get("PaddingMode", "manual")) or "manual"
    pad = padding_1d(mode, _stored_padding(p), x.shape[2], size, stride, dilation)
    return size, stride, dilation, pad


def _conv_layer(p: Props, xs: list[Array]) -> Array:
    x = _sequence(xs)
    size, stride, dilation, pad = _window(p, x, "FilterSize")
    return conv1d(
        x,
        as_f64(p["Weights"]),
        param(p, "Bias"),
        stride,
        dilation,
        pad,
        padding_value(p),
        filter_size=size,
        num_channels=optional_int(p.get("NumChannels")),
        num_filters=as_int(p["NumFilters"]),
    )


def _transposed_conv_layer(p: Props, xs: list[Array]) -> Array:
    x = _sequence(xs)
    size = as_int(p["FilterSize"])
    stride = as_int(p["Stride"]) if "Stride" in p and not is_empty(p["Stride"]) else 1
    stored = p.get("CroppingSize")
    crop = transposed_cropping_1d(
        as_str(p.get("CroppingMode", "manual")) or "manual",
        None if stored is None or is_empty(stored) else list(as_f64(stored).ravel()),
        size,
        stride,
    )
    return transposed_conv1d(
        x,
        as_f64(p["Weights"]),
        param(p, "Bias"),
        stride,
        crop,
        filter_size=size,
        num_channels=optional_int(p.get("NumChannels")),
        num_filters=as_int(p["NumFilters"]),
    )


def _max_pool_layer(p: Props, xs: list[Array]) -> Array:
    x = _sequence(xs)
    size, stride, _, pad = _window(p, x, "PoolSize")
    return max_pool1d(x, size, stride, pad)


def _avg_pool_layer(p: Props, xs: list[Array]) -> Array:
    x = _sequence(xs)
    size, stride, _, pad = _window(p, x, "PoolSize")
    return avg_pool1d(x, size, stride, pad, padding_value(p))


LAYERS: dict[str, LayerRule] = {
    "Convolution1DLayer": _conv_layer,
    "TransposedConvolution1DLayer": _transposed_conv_layer,
    "MaxPooling1DLayer": _max_pool_layer,
    "AveragePooling1DLayer": _avg_pool_layer,
    "GlobalAveragePooling1DLayer": lambda p, xs: global_avg_pool1d(_sequence(xs)),
    "GlobalMaxPooling1DLayer": lambda p, xs: global_max_pool1d(_sequence(xs)),
}
