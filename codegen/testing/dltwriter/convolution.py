"""Weighted image layers: convolution (plain, transposed, grouped) and fully connected.

Weights are given in MATLAB layout; the builders derive every size MATLAB stores next to
them (NumChannels, NumFilters, InputSize, ...) so a test only states the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from codegen.testing.dltwriter.schema import (
    Layer,
    bias_learnable,
    builtin_layer,
    glorot_conv,
    glorot_dense,
    initializer,
    old_learnable,
    weight_learnable,
)
from codegen.testing.dltwriter.values import (
    Size,
    char,
    char_or_double,
    double,
    empty,
    logical,
    padded_shape,
)

_AUTO: Literal["auto"] = "auto"


def trained_bias(weights: Any, bias: Any, count: int | None) -> Any:
    """MATLAB never saves a trained layer without its bias: a missing one is ``count`` zeros."""
    if weights is not None and bias is None:
        return np.zeros(count or 0, dtype=np.float32)
    return bias


def window_fields(
    stride: Sequence[float],
    padding_mode: str,
    padding: Sequence[float] | None,
    dilation: Sequence[float] = (1, 1),
    padding_value: float | str = 0,
) -> dict[str, Any]:
    """Sliding-window fields of convolution and pooling layers; the schema of each class
    keeps the ones it has (pooling has no DilationFactor, max pooling no PaddingValue).
    """
    return {
        "Stride": double(stride),
        "DilationFactor": double(dilation),
        "PaddingMode": char(padding_mode),
        "PaddingSize": double(padding),
        "PaddingValue": char_or_double(padding_value),
    }


def over_time_fields(over_time: str, dim_index: str, placed: bool) -> dict[str, Any]:
    """The 2-D/time flags MATLAB fills in when a layer is placed in an initialized network;
    a layer never placed stores them as []."""
    return {
        over_time: logical(False) if placed else empty(),
        "DistributeOverTime": logical(False) if placed else empty(),
        dim_index: double((1, 2)) if placed else empty(),
    }


def _kernel_dims(
    weights: Any,
    filter_size: Sequence[int] | None,
    num_filters: int | None,
    filters_axis: int,
) -> list[int | None]:
    """The 4-D weight shape (restoring dropped singletons); untrained: channels unknown."""
    if weights is None:
        if filter_size is None or num_filters is None:
            raise ValueError("an untrained layer needs filter_size and num_filters")
        dims: list[int | None] = [*filter_size, None, None]
        dims[filters_axis] = num_filters
        return dims
    dims = list(padded_shape(np.shape(weights), 4))
    if filter_size is not None and tuple(filter_size) != tuple(dims[:2]):
        raise ValueError(
            f"filter_size {tuple(filter_size)} does not match weights {tuple(dims)}"
        )
    return dims


def _kernel_fields(
    name: str,
    weights: Any,
    bias: Any,
    filter_size: Sequence[int] | None,
    num_filters: int | None,
    transposed: bool,
    init: np.ndarray,
) -> dict[str, Any]:
    """What Convolution2DLayer (weights FH×FW×Cin×Cout) and TransposedConvolution2DLayer
    (FH×FW×Cout×Cin) both store about their kernel; a trained layer's missing bias is zeros.
    """
    filters_axis = 2 if transposed else 3
    dims = _kernel_dims(weights, filter_size, num_filters, filters_axis)
    cout, cin = dims[filters_axis], dims[5 - filters_axis]
    return {
        "Name": char(name),
        "FilterSize": double((dims[0] or 0, dims[1] or 0)),
        "NumChannels": double(cin),
        "NumFilters": double(cout),
        "Weights": weight_learnable(weights, init),
        "Bias": bias_learnable(trained_bias(weights, bias, cout), (1, 1, cout or 0)),
    }


def conv2d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
    stride: Sequence[float] = (1, 1),
    dilation: Sequence[float] = (1, 1),
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    padding_value: float | str = 0,
    version: int | None = None,
) -> Layer:
    """Convolution2DLayer (v8 default; v5, v6 for older files). Weights FH×FW×Cin×Cout;
    ``padding`` is [top bottom left right] (MATLAB stores the resolved size for 'same' in
    trained networks and ``None`` → [] in untrained graphs). A missing bias is zeros."""
    fields = {
        **_kernel_fields(
            name, weights, bias, filter_size, num_filters, False, glorot_conv()
        ),
        **window_fields(stride, padding_mode, padding, dilation, padding_value),
        **over_time_fields(
            "ConvolveOverTime", "ConvolutionDimIdx", weights is not None
        ),
        "CudnnGPUAlgoForward": double(-1),
    }
    return builtin_layer("Convolution2DLayer", fields, version)


def transposed_conv2d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
    stride: Sequence[float] = (1, 1),
    cropping_mode: str = "manual",
    cropping: Sequence[float] | None = (0, 0, 0, 0),
    output_size_offset: Sequence[float] | None = None,
) -> Layer:
    """TransposedConvolution2DLayer v2. Weights FH×FW×Cout×Cin (MATLAB's transposed
    layout); ``cropping`` is [top bottom left right]. A missing bias is zeros."""
    init = initializer("Glorot", (1, 2, 4), (1, 2, 3))
    fields = {
        **_kernel_fields(name, weights, bias, filter_size, num_filters, True, init),
        "Stride": double(stride),
        "CroppingMode": char(cropping_mode),
        "CroppingSize": double(cropping),
        "OutputSizeOffset": double(output_size_offset),
    }
    return builtin_layer("TransposedConvolution2DLayer", fields)


def transposed_conv2d_v1(
    name: str,
    weights: Any,
    bias: Any = None,
    *,
    stride: Sequence[float] = (1, 1),
    cropping: Sequence[float] = (0, 0),
) -> Layer:
    """TransposedConvolution2DLayer schema version 1 — inferred, no real sample: the
    first releases' documented properties (FilterSize, NumChannels, NumFilters, Stride
    and ``Cropping`` = [a b], cropped from top and bottom / left and right), with no
    CroppingMode, CroppingSize or OutputSizeOffset, and the learnable structs of that
    time ({Value, LearnRateFactor, L2Factor}, as in specsense_trainedNet.mat).
    Weights FH×FW×Cout×Cin. A missing bias is zeros."""
    dims = _kernel_dims(weights, None, None, 2)
    cout, cin = dims[2], dims[3]
    fields = {
        "Name": char(name),
        "FilterSize": double((dims[0], dims[1])),
        "NumChannels": double(cin),
        "NumFilters": double(cout),
        "Stride": double(stride),
        "Cropping": double(cropping),
        "Weights": old_learnable(weights, 1.0),
        "Bias": old_learnable(
            trained_bias(weights, bias, cout), 0.0, (1, 1, cout or 0)
        ),
    }
    return builtin_layer("TransposedConvolution2DLayer", fields, 1)


def grouped_conv2d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_groups: int | None = None,
    num_filters_per_group: int | None = None,
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    padding_value: float | str = 0,
    stride: Sequence[float] = (1, 1),
    dilation: Sequence[float] = (1, 1),
) -> Layer:
    """GroupedConvolution2DLayer — schema inferred, no real sample (Convolution2DLayer v6
    layout with MATLAB's per-group property names). Weights FH×FW×(Cin/G)×(F/G)×G, bias
    1×1×(F/G)×G."""
    if weights is None:
        if filter_size is None or num_filters_per_group is None or num_groups is None:
            raise ValueError(
                "an untrained grouped conv needs filter_size, num_filters_per_group, num_groups"
            )
        fh, fw = filter_size
        cin_g, f_g, groups = None, num_filters_per_group, num_groups
    else:
        fh, fw, cin_g, f_g, groups = padded_shape(np.shape(weights), 5)
    bias = trained_bias(weights, bias, f_g * groups)
    fields = {
        "Name": char(name),
        "FilterSize": double((fh, fw)),
        "NumChannelsPerGroup": double(cin_g),
        "NumFiltersPerGroup": double(f_g),
        "NumGroups": double(groups),
        **window_fields(stride, padding_mode, padding, dilation, padding_value),
        "Weights": weight_learnable(weights, glorot_conv()),
        "Bias": bias_learnable(bias, (1, 1, f_g, groups)),
    }
    return builtin_layer("GroupedConvolution2DLayer", fields)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == _AUTO


def fully_connected(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    output_size: Size | Literal["auto"] = _AUTO,
    input_size: Size | Literal["auto"] | None = _AUTO,
) -> Layer:
    """FullyConnectedLayer v3. Weights Out×In, or H×W×C×Out in image networks (any weights
    with 3 or more dimensions are image-style, e.g. 1×1×64 for one output). 'auto' sizes
    are what trainNetwork stores ([H W C] / [1 1 Out] for image-style); dlnetworks keep
    ``input_size=None`` ([]) and a scalar ``output_size``. A missing bias is zeros."""
    if weights is None:
        if _is_auto(output_size):
            raise ValueError("an untrained fully connected layer needs output_size")
        auto_in: Size | None = None
        auto_out: Size = output_size
        bias_shape: tuple[int, ...] = (int(np.prod(output_size)), 1)
    elif np.ndim(weights) >= 3:
        h, w, c, out = padded_shape(np.shape(weights), 4)
        auto_in, auto_out, bias_shape = (h, w, c), (1, 1, out), (1, 1, out)
    else:
        out, inputs = np.shape(weights)
        auto_in, auto_out, bias_shape = inputs, out, (out, 1)
    bias = trained_bias(weights, bias, int(np.prod(bias_shape)))
    fields = {
        "Name": char(name),
        "InputSize": double(auto_in if _is_auto(input_size) else input_size),
        "OutputSize": double(auto_out if _is_auto(output_size) else output_size),
        "Weights": weight_learnable(weights, glorot_dense()),
        "Bias": bias_learnable(bias, bias_shape),
    }
    return builtin_layer("FullyConnectedLayer", fields)
