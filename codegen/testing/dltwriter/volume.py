"""3-D (volumetric) layers: image3dInputLayer, convolution3dLayer, transposedConv3dLayer,
maxPooling3dLayer, averagePooling3dLayer, their global forms, and the batch
normalization and fully connected layers of a 3-D network.

Every builder here is **schema inferred, no real sample**: no MATLAB-saved file with a
3-D layer was available. The ``any`` structs follow the closest real 2-D classes
(ImageInputLayer v5, Convolution2DLayer v6, TransposedConvolution2DLayer v2,
MaxPooling2DLayer v2, BatchNormalizationLayer v3, FullyConnectedLayer v3) with the 3-D
field shapes from MATLAB's documentation:

* sizes (InputSize [h w d c], FilterSize, PoolSize, Stride, DilationFactor [h w d]) are
  row vectors with one more element than in 2-D;
* PaddingSize and CroppingSize are the documented 2×3 matrix [t l f; b r k] (rows
  before/after; columns height, width, depth) where 2-D stores [t b l r]; a builder takes
  that matrix as two rows ``((t, l, f), (b, r, k))``;
* Weights are FH×FW×FD×Cin×Cout (transposed: FH×FW×FD×Cout×Cin) and Bias 1×1×1×Cout;
  per-channel statistics (input normalization, batch normalization) are 1×1×1×C;
* the 2-D-on-sequence flags (ConvolveOverTime, PoolOverTime, ...) and
  HasUnpoolingOutputs are left out.

Which saveobj version MATLAB gives these classes is unknown: they are written as version
1. The field tables live here, not in :mod:`.schema`, so this family stays in one
module; the objects are built exactly as :func:`.schema.builtin_layer` builds them. The
batch normalization and fully connected builders reuse their real classes' tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from codegen.testing.dltwriter.convolution import trained_bias
from codegen.testing.dltwriter.normalization import batchnorm
from codegen.testing.dltwriter.schema import (
    LAYER_DEFAULTS,
    NNET,
    DltObject,
    Layer,
    bias_learnable,
    builtin_layer,
    glorot_dense,
    initializer,
    learnable,
    weight_learnable,
    with_fields,
)
from codegen.testing.dltwriter.values import (
    char,
    char_or_double,
    double,
    empty,
    logical,
    matlab_shape,
    padded_shape,
    single,
    struct,
)

# A 3-D PaddingSize/CroppingSize as MATLAB documents it: rows (t, l, f) and (b, r, k).
Pad3 = tuple[Sequence[float], Sequence[float]]
_NO_PAD: Pad3 = ((0, 0, 0), (0, 0, 0))

_WINDOW = ("Stride", "PaddingMode", "PaddingSize")
_KERNEL = ("Version", "Name", "FilterSize", "NumChannels", "NumFilters", "Stride")
# `any` field order per class (all inferred: see the module docstring), saveobj version 1.
_ANY_FIELDS: dict[str, tuple[str, ...]] = {
    "Image3DInputLayer": (
        "Version",
        "Name",
        "InputSize",
        "Normalization",
        "NormalizationDimension",
        "SplitComplexInputs",
    ),
    "Convolution3DLayer": (
        *_KERNEL,
        "DilationFactor",
        "PaddingMode",
        "PaddingSize",
        "PaddingValue",
        "Weights",
        "Bias",
    ),
    "TransposedConvolution3DLayer": (
        *_KERNEL,
        "CroppingMode",
        "CroppingSize",
        "Weights",
        "Bias",
    ),
    "MaxPooling3DLayer": ("Version", "Name", "PoolSize", *_WINDOW),
    "AveragePooling3DLayer": ("Version", "Name", "PoolSize", *_WINDOW, "PaddingValue"),
    "GlobalAveragePooling3DLayer": ("Version", "Name"),
    "GlobalMaxPooling3DLayer": ("Version", "Name"),
}

# Which statistics each input normalization stores (as ImageInputLayer's struct does).
_STATISTICS = {
    "zerocenter": ("AverageImage",),
    "zscore": ("Mean", "Std"),
    "rescale-symmetric": ("Min", "Max"),
    "rescale-zero-one": ("Min", "Max"),
}


def _layer(cls: str, fields: Mapping[str, Any]) -> Layer:
    """A built-in 3-D layer: its saveobj struct (version 1) in ``any``, fields in table order."""
    values = {"Version": double(1), **fields}
    names = _ANY_FIELDS[cls]
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"{cls} needs fields the builder did not set: {missing}")
    return DltObject(
        NNET + cls, {"any": struct({n: values[n] for n in names})}, LAYER_DEFAULTS
    )


def _pad_matrix(padding: Pad3 | None) -> np.ndarray:
    """[t l f; b r k] as the 2×3 double MATLAB documents; ``None`` is [] (unresolved 'same')."""
    if padding is None:
        return empty()
    matrix = np.asarray(padding, dtype=np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(
            f"3-D padding/cropping is [t l f; b r k] (2×3), got shape {matrix.shape}"
        )
    return matrix


def _per_channel(values: Any) -> np.ndarray:
    """A statistic: a 1-D vector is per channel (1×1×1×C); other arrays keep their shape."""
    array = np.asarray(values, dtype=np.float32)
    if array.ndim <= 1:
        array = array.reshape((1, 1, 1, -1))
    return array.reshape(matlab_shape(array.shape))


def image3d_input(
    name: str,
    input_size: Sequence[float],
    normalization: str = "zerocenter",
    mean: Any = None,
    std: Any = None,
    min: Any = None,
    max: Any = None,
    *,
    normalization_dimension: str = "auto",
) -> Layer:
    """Image3DInputLayer — schema inferred, no real sample (ImageInputLayer v5's fields
    without Augmentations). ``input_size`` is [h w d c]; statistics are H×W×D×C, 1×1×1×C
    (a 1-D vector) or scalar; ``None`` = untrained, stored 0×0."""
    if normalization == "none":
        norm: np.ndarray = np.empty((1, 0))
    elif normalization in _STATISTICS:
        given = {"AverageImage": mean, "Mean": mean, "Std": std, "Min": min, "Max": max}
        fields: dict[str, Any] = {
            "Version": double(2),
            "Type": char(normalization),
            "ImageSize": double(input_size),
        }
        for key in _STATISTICS[normalization]:
            value = given[key]
            fields[key] = (
                np.empty((0, 0), np.float32) if value is None else _per_channel(value)
            )
        fields["NumTrainingSamples"] = double(0)
        norm = struct(fields)
    else:
        raise ValueError(
            f"unknown normalization {normalization!r}; use 'none' or one of {sorted(_STATISTICS)}"
        )
    return _layer(
        "Image3DInputLayer",
        {
            "Name": char(name),
            "InputSize": double(input_size),
            "Normalization": norm,
            "NormalizationDimension": char(normalization_dimension),
            "SplitComplexInputs": logical(False),
        },
    )


def _kernel_fields(
    name: str,
    weights: Any,
    bias: Any,
    filter_size: Sequence[int] | None,
    num_filters: int | None,
    transposed: bool,
) -> dict[str, Any]:
    """What both 3-D convolutions store about their kernel; weights FH×FW×FD×A×B with
    (A, B) = (Cin, Cout), or (Cout, Cin) when ``transposed``. A trained layer's missing
    bias is zeros."""
    filters_axis = 3 if transposed else 4
    if weights is None:
        if filter_size is None or num_filters is None:
            raise ValueError("an untrained layer needs filter_size and num_filters")
        dims: list[int | None] = [*filter_size, None, None]
        dims[filters_axis] = num_filters
    else:
        dims = list(padded_shape(np.shape(weights), 5))
        if filter_size is not None and tuple(filter_size) != tuple(dims[:3]):
            raise ValueError(
                f"filter_size {tuple(filter_size)} does not match weights {tuple(dims)}"
            )
    cout, cin = dims[filters_axis], dims[7 - filters_axis]
    init = initializer(
        "Glorot", (1, 2, 3, 5 if transposed else 4), (1, 2, 3, 4 if transposed else 5)
    )
    return {
        "Name": char(name),
        "FilterSize": double(tuple(d or 0 for d in dims[:3])),
        "NumChannels": double(cin),
        "NumFilters": double(cout),
        "Weights": weight_learnable(weights, init),
        "Bias": bias_learnable(trained_bias(weights, bias, cout), (1, 1, 1, cout or 0)),
    }


def conv3d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
    stride: Sequence[float] = (1, 1, 1),
    dilation: Sequence[float] = (1, 1, 1),
    padding_mode: str = "manual",
    padding: Pad3 | None = _NO_PAD,
    padding_value: float | str = 0,
) -> Layer:
    """Convolution3DLayer — schema inferred, no real sample (Convolution2DLayer v6's
    fields). Weights FH×FW×FD×Cin×Cout, bias 1×1×1×Cout; ``padding`` is the 2×3
    [t l f; b r k] as rows ``((t, l, f), (b, r, k))`` (``None`` → [], an unresolved
    'same' in an untrained network)."""
    fields = {
        **_kernel_fields(name, weights, bias, filter_size, num_filters, False),
        "Stride": double(stride),
        "DilationFactor": double(dilation),
        "PaddingMode": char(padding_mode),
        "PaddingSize": _pad_matrix(padding),
        "PaddingValue": char_or_double(padding_value),
    }
    return _layer("Convolution3DLayer", fields)


def transposed_conv3d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
    stride: Sequence[float] = (1, 1, 1),
    cropping_mode: str = "manual",
    cropping: Pad3 | None = _NO_PAD,
) -> Layer:
    """TransposedConvolution3DLayer — schema inferred, no real sample
    (TransposedConvolution2DLayer v2's fields without OutputSizeOffset). Weights
    FH×FW×FD×Cout×Cin (MATLAB's transposed layout), bias 1×1×1×Cout; ``cropping`` is
    the 2×3 [t l f; b r k] as rows ``((t, l, f), (b, r, k))``."""
    fields = {
        **_kernel_fields(name, weights, bias, filter_size, num_filters, True),
        "Stride": double(stride),
        "CroppingMode": char(cropping_mode),
        "CroppingSize": _pad_matrix(cropping),
    }
    return _layer("TransposedConvolution3DLayer", fields)


def max_pool3d(
    name: str,
    pool_size: Sequence[float],
    *,
    stride: Sequence[float] = (1, 1, 1),
    padding_mode: str = "manual",
    padding: Pad3 | None = _NO_PAD,
) -> Layer:
    """MaxPooling3DLayer — schema inferred, no real sample (MaxPooling2DLayer v2's fields
    without HasUnpoolingOutputs); ``padding`` is [t l f; b r k] as two rows."""
    fields = {
        "Name": char(name),
        "PoolSize": double(pool_size),
        "Stride": double(stride),
        "PaddingMode": char(padding_mode),
        "PaddingSize": _pad_matrix(padding),
    }
    return _layer("MaxPooling3DLayer", fields)


def avg_pool3d(
    name: str,
    pool_size: Sequence[float],
    *,
    padding_value: float | str = 0,
    stride: Sequence[float] = (1, 1, 1),
    padding_mode: str = "manual",
    padding: Pad3 | None = _NO_PAD,
) -> Layer:
    """AveragePooling3DLayer — schema inferred, no real sample (MaxPooling3DLayer's fields
    plus PaddingValue: 0, or 'mean' to leave padding out of the average)."""
    fields = {
        "Name": char(name),
        "PoolSize": double(pool_size),
        "Stride": double(stride),
        "PaddingMode": char(padding_mode),
        "PaddingSize": _pad_matrix(padding),
        "PaddingValue": char_or_double(padding_value),
    }
    return _layer("AveragePooling3DLayer", fields)


def global_avg_pool3d(name: str) -> Layer:
    """GlobalAveragePooling3DLayer — schema inferred, no real sample (Name only)."""
    return _layer("GlobalAveragePooling3DLayer", {"Name": char(name)})


def global_max_pool3d(name: str) -> Layer:
    """GlobalMaxPooling3DLayer — schema inferred, no real sample (Name only)."""
    return _layer("GlobalMaxPooling3DLayer", {"Name": char(name)})


def batchnorm3d(
    name: str,
    mean: Any,
    var: Any,
    offset: Any,
    scale: Any,
    epsilon: float = 1e-5,
) -> Layer:
    """BatchNormalizationLayer in a 3-D network — the real class's v3 schema with the
    per-channel arrays stored 1×1×1×C and ChannelDim 4 (inferred: no 3-D sample)."""
    n = int(np.size(mean))
    shape = (1, 1, 1, n)
    layer = batchnorm(name, mean, var, offset, scale, epsilon)
    return with_fields(
        layer,
        ChannelDim=double(4),
        TrainedMean=single(mean, shape),
        TrainedVariance=single(var, shape),
        Offset=learnable(offset, 1.0, initializer("Zeros"), shape),
        Scale=learnable(scale, 1.0, initializer("Ones"), shape),
    )


def fully_connected3d(name: str, weights: Any, bias: Any = None) -> Layer:
    """FullyConnectedLayer on a 3-D input — the real class's v3 schema with weights
    H×W×D×C×Out (trailing singletons dropped), InputSize [H W D C] and OutputSize
    [1 1 1 Out] (inferred from the 2-D image form). For Out×In weights use
    :func:`.convolution.fully_connected`."""
    h, w, d, c, out = padded_shape(np.shape(weights), 5)
    fields = {
        "Name": char(name),
        "InputSize": double((h, w, d, c)),
        "OutputSize": double((1, 1, 1, out)),
        "Weights": weight_learnable(weights, glorot_dense()),
        "Bias": bias_learnable(trained_bias(weights, bias, out), (1, 1, 1, out)),
    }
    return builtin_layer("FullyConnectedLayer", fields)
