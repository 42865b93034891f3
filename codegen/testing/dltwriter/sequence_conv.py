"""1-D convolution and pooling over time (R2021b+): convolution1dLayer, maxPooling1dLayer,
averagePooling1dLayer and their global forms; transposedConv1dLayer (R2022a+).

Every builder here is **schema inferred, no real sample**: no MATLAB-saved file with
these classes was available. The ``any`` structs follow Convolution2DLayer v8 and
MaxPooling2DLayer v3 (the closest real classes) with the 1-D field shapes from MATLAB's
documentation: FilterSize, PoolSize, Stride and DilationFactor are scalars, PaddingSize
is [left right], Weights FilterSize×NumChannels×NumFilters and Bias 1×NumFilters. The
2-D-on-sequence flags (ConvolveOverTime, PoolOverTime, ...) are left out: a 1-D layer
always runs over time. The field tables live here, not in :mod:`.schema`, so this family
stays in one module; the objects are built exactly as :func:`.schema.builtin_layer` builds
them. TransposedConvolution1DLayer follows the real TransposedConvolution2DLayer v2
instead (see :func:`transposed_conv1d`).

PaddingSize for the automatic modes is a guess too: 'causal' stores the resolved
[(FilterSize − 1)·DilationFactor 0] and 'same' stores [] (its size depends on the
sequence length once the stride is above 1); a test can pass ``padding`` explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from codegen.testing.dltwriter.convolution import trained_bias
from codegen.testing.dltwriter.schema import (
    LAYER_DEFAULTS,
    NNET,
    DltObject,
    Layer,
    bias_learnable,
    initializer,
    weight_learnable,
)
from codegen.testing.dltwriter.values import (
    char,
    char_or_double,
    double,
    padded_shape,
    struct,
)

Padding = Sequence[float] | None | Literal["auto"]

_WINDOW = ("Stride", "PaddingMode", "PaddingSize")
# `any` field order per class (all inferred: see the module docstring), saveobj version 1.
_ANY_FIELDS: dict[str, tuple[str, ...]] = {
    "Convolution1DLayer": (
        "Version",
        "Name",
        "FilterSize",
        "NumChannels",
        "NumFilters",
        "Stride",
        "DilationFactor",
        "PaddingMode",
        "PaddingSize",
        "PaddingValue",
        "Weights",
        "Bias",
    ),
    "TransposedConvolution1DLayer": (
        "Version",
        "Name",
        "FilterSize",
        "NumChannels",
        "NumFilters",
        "Stride",
        "CroppingMode",
        "CroppingSize",
        "Weights",
        "Bias",
        "OutputSizeOffset",
    ),
    "MaxPooling1DLayer": ("Version", "Name", "PoolSize", *_WINDOW),
    "AveragePooling1DLayer": ("Version", "Name", "PoolSize", *_WINDOW, "PaddingValue"),
    "GlobalAveragePooling1DLayer": ("Version", "Name"),
    "GlobalMaxPooling1DLayer": ("Version", "Name"),
}


def _layer(cls: str, fields: Mapping[str, Any]) -> Layer:
    """A built-in 1-D layer: its saveobj struct (version 1) in ``any``, fields in table order."""
    values = {"Version": double(1), **fields}
    names = _ANY_FIELDS[cls]
    return DltObject(
        NNET + cls, {"any": struct({n: values[n] for n in names})}, LAYER_DEFAULTS
    )


def _padding(mode: str, padding: Padding, span: int) -> Sequence[float] | None:
    """PaddingSize [left right] as stored: given, or the guess for ``mode`` (module docstring)."""
    if padding != "auto":
        return padding
    if mode == "causal":
        return (span - 1, 0)
    if mode == "same":
        return None
    return (0, 0)


def _window(stride: int, mode: str, padding: Padding, span: int) -> dict[str, Any]:
    return {
        "Stride": double(stride),
        "PaddingMode": char(mode),
        "PaddingSize": double(_padding(mode, padding, span)),
    }


def conv1d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: int | None = None,
    num_filters: int | None = None,
    stride: int = 1,
    dilation: int = 1,
    padding_mode: str = "manual",
    padding: Padding = "auto",
    padding_value: float | str = 0,
) -> Layer:
    """Convolution1DLayer — schema inferred, no real sample (Convolution2DLayer v8's
    pattern with 1-D shapes). Weights FilterSize×NumChannels×NumFilters (K×Cin×Cout,
    trailing singletons dropped on save), Bias 1×NumFilters; ``padding`` is [left right].
    Untrained (``weights`` None): NumChannels [] and 0×0 learnables. A missing bias is
    zeros."""
    if weights is None:
        if filter_size is None or num_filters is None:
            raise ValueError("an untrained conv1d needs filter_size and num_filters")
        kernel, cin, cout = filter_size, None, num_filters
    else:
        kernel, cin, cout = padded_shape(np.shape(weights), 3)
        if filter_size is not None and filter_size != kernel:
            raise ValueError(
                f"filter_size {filter_size} does not match weights {np.shape(weights)}"
            )
    span = (kernel - 1) * dilation + 1
    fields = {
        "Name": char(name),
        "FilterSize": double(kernel),
        "NumChannels": double(cin),
        "NumFilters": double(cout),
        **_window(stride, padding_mode, padding, span),
        "DilationFactor": double(dilation),
        "PaddingValue": char_or_double(padding_value),
        "Weights": weight_learnable(weights, initializer("Glorot", (1, 2), (1, 3))),
        "Bias": bias_learnable(trained_bias(weights, bias, cout), (1, cout)),
    }
    return _layer("Convolution1DLayer", fields)


def transposed_conv1d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: int | None = None,
    num_filters: int | None = None,
    stride: int = 1,
    cropping_mode: str = "manual",
    cropping: Padding = "auto",
    output_size_offset: float | None = None,
) -> Layer:
    """TransposedConvolution1DLayer — schema inferred, no real sample: the fields of the
    real TransposedConvolution2DLayer v2 (FilterSize, NumChannels, NumFilters, Stride,
    CroppingMode, CroppingSize, Weights, Bias, OutputSizeOffset) with the 1-D shapes of
    Convolution1DLayer and MATLAB's documentation: scalar FilterSize and Stride,
    CroppingSize [left right], Weights FilterSize×NumFilters×NumChannels (K×Cout×Cin,
    NumFilters first as in every MATLAB transposed layer; trailing singletons dropped on
    save), Bias 1×NumFilters. ``cropping`` "auto" stores [0 0] for 'manual' and, for
    'same', the resolved split of FilterSize − Stride with the extra step on the right
    (a guess: MATLAB's transposed layers resolve 'same' when built and store the result);
    a test can pass any [left right] or None (stored []). Untrained (``weights`` None):
    NumChannels [] and 0×0 learnables; a missing bias is zeros."""
    if weights is None:
        if filter_size is None or num_filters is None:
            raise ValueError(
                "an untrained transposed_conv1d needs filter_size and num_filters"
            )
        kernel, cout, cin = filter_size, num_filters, None
    else:
        kernel, cout, cin = padded_shape(np.shape(weights), 3)
    if cropping == "auto":
        total = max(kernel - stride, 0) if cropping_mode == "same" else 0
        cropping = (total // 2, total - total // 2)
    fields = {
        "Name": char(name),
        "FilterSize": double(kernel),
        "NumChannels": double(cin),
        "NumFilters": double(cout),
        "Stride": double(stride),
        "CroppingMode": char(cropping_mode),
        "CroppingSize": double(cropping),
        "Weights": weight_learnable(weights, initializer("Glorot", (1, 3), (1, 2))),
        "Bias": bias_learnable(trained_bias(weights, bias, cout), (1, cout)),
        "OutputSizeOffset": double(output_size_offset),
    }
    return _layer("TransposedConvolution1DLayer", fields)


def max_pool1d(
    name: str,
    pool_size: int,
    *,
    stride: int = 1,
    padding_mode: str = "manual",
    padding: Padding = "auto",
) -> Layer:
    """MaxPooling1DLayer — schema inferred, no real sample (MaxPooling2DLayer v3's pattern
    with scalar PoolSize/Stride and PaddingSize [left right]; no unpooling outputs)."""
    fields = {
        "Name": char(name),
        "PoolSize": double(pool_size),
        **_window(stride, padding_mode, padding, pool_size),
    }
    return _layer("MaxPooling1DLayer", fields)


def avg_pool1d(
    name: str,
    pool_size: int,
    *,
    stride: int = 1,
    padding_mode: str = "manual",
    padding: Padding = "auto",
    padding_value: float | str = 0,
) -> Layer:
    """AveragePooling1DLayer — schema inferred, no real sample (max_pool1d's fields plus
    PaddingValue: 0, or 'mean' to leave padding out of each average)."""
    fields = {
        "Name": char(name),
        "PoolSize": double(pool_size),
        **_window(stride, padding_mode, padding, pool_size),
        "PaddingValue": char_or_double(padding_value),
    }
    return _layer("AveragePooling1DLayer", fields)


def _name_only(cls: str) -> Callable[[str], Layer]:
    """Global pooling stores its name only, like the 2-D global pooling builders."""

    def build(name: str) -> Layer:
        return _layer(cls, {"Name": char(name)})

    build.__doc__ = f"{cls} — schema inferred, no real sample (Name only)."
    return build


global_avg_pool1d = _name_only("GlobalAveragePooling1DLayer")
global_max_pool1d = _name_only("GlobalMaxPooling1DLayer")
