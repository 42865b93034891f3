"""Transposed and grouped 2-D convolution.

Transposed convolution (SEMANTICS.md §Convolution): MATLAB Weights are (FH, FW, Cout, Cin)
— NumFilters before NumChannels — and PyTorch's ConvTranspose2d wants (Cin, Cout, FH, FW),
so ``permute(3, 2, 0, 1)``. The full output is ((H−1)·s + FH) × ((W−1)·s + FW); MATLAB
then removes CroppingSize [top bottom left right]. Symmetric cropping is ConvTranspose2d's
``padding``; anything else is an explicit slice after a padding-free ConvTranspose2d.

CroppingMode 'same' makes the output stride × input, so the total cropping is
FilterSize − Stride per dimension, whatever the input size. When the file stores no
CroppingSize, the split of an odd total is MATLAB's documented one for this layer — the
extra row from the top, the extra column from the left — the opposite of 'same' padding
(marked uncertain in SEMANTICS.md; pinned by a test and said in a code comment).

Grouped convolution: Weights (FH, FW, Cin/G, Cout/G, G); group g's filter f is output
channel f + (Cout/G)·g, which is what a column-major reshape to (FH, FW, Cin/G, Cout)
gives; then the usual ``permute(3, 2, 0, 1)`` is PyTorch's grouped layout. Bias
(1, 1, Cout/G, G) flattens column-major into the same order. NumGroups 'channel-wise'
(depthwise) means one group per input channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import IMAGE, Node, TensorInfo
from codegen.layers.common import f32, pair, rebuild, require_image, resolve_padding, spatial_out
from codegen.layers.conv import padding_attrs, padding_value
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def same_cropping(kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int, int, int]:
    """[top bottom left right] for CroppingMode 'same': the extra row/column goes top/left."""
    crop: list[int] = []
    for k, s in zip(kernel, stride):
        total = k - s
        crop += [total - total // 2, total // 2]
    return (crop[0], crop[1], crop[2], crop[3])


def _cropping(layer: LayerRecord, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int, int, int]:
    mode = (layer.text("CroppingMode", "manual") or "manual").lower()
    stored = layer.ints("CroppingSize")
    if stored and len(stored) in (1, 2):
        p = pair(stored, 0)
        stored = (p[0], p[0], p[1], p[1])
    if mode == "same":
        if kernel[0] < stride[0] or kernel[1] < stride[1]:
            raise layer.error(
                f"uses 'same' cropping with a filter {kernel} smaller than its stride {stride}, which MATLAB cannot crop to stride × input."
            )
        wanted = same_cropping(kernel, stride)
        # A stored split that crops the same totals is MATLAB's own choice: keep it.
        if stored and len(stored) == 4 and stored[0] + stored[1] == wanted[0] + wanted[1] and stored[2] + stored[3] == wanted[2] + wanted[3]:
            return (stored[0], stored[1], stored[2], stored[3])
        return wanted
    if stored and len(stored) == 4:
        return (stored[0], stored[1], stored[2], stored[3])
    if stored:
        raise layer.error(f"has a CroppingSize of {len(stored)} values; expected 1, 2 or 4.")
    return (0, 0, 0, 0)


def _out_size(size: int | None, kernel: int, stride: int, before: int, after: int) -> int | None:
    if size is None:
        return None
    return (size - 1) * stride + kernel - before - after


@register("nnet.cnn.layer.TransposedConvolution2DLayer", ops=("conv_transpose2d",))
def transposed_conv2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    kernel = pair(layer.ints("FilterSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    out_channels = int(layer.num("NumFilters") or 0)
    if out_channels <= 0:
        raise layer.error("has no NumFilters.")
    stored_channels = layer.num("NumChannels")
    in_channels = int(stored_channels) if stored_channels is not None else info.channels
    if in_channels is None:
        raise layer.error("has no NumChannels and its input channel count is unknown.")
    if info.channels is not None and info.channels != in_channels:
        raise layer.error(f"expects {in_channels} input channels but receives {info.channels}.")
    offset = layer.ints("OutputSizeOffset")
    if offset and any(offset):
        raise layer.error(f"has OutputSizeOffset {list(offset)}, which mat2torch does not support yet.")
    dilation = pair(layer.ints("DilationFactor"), 1)
    if dilation != (1, 1):
        raise layer.error(f"has DilationFactor {dilation}, which mat2torch does not support for transposed convolution yet.")
    top, bottom, left, right = _cropping(layer, kernel, stride)
    weights = layer.array("Weights")
    bias = layer.array("Bias")
    params: dict[str, np.ndarray | None] = {"weight": None, "bias": None}
    if weights is not None:
        w = rebuild(weights, (kernel[0], kernel[1], out_channels, in_channels))
        params["weight"] = f32(w.transpose(3, 2, 0, 1))
    if bias is not None:
        params["bias"] = f32(np.asarray(bias).reshape(out_channels))
    # Symmetric cropping is ConvTranspose2d's padding; otherwise the module crops nothing
    # and the forward slices [top bottom left right] away.
    symmetric = top == bottom and left == right
    attrs: dict[str, object] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "padding": (top, left) if symmetric else (0, 0),
        "crop": None if symmetric else (top, bottom, left, right),
        "same_split": (layer.text("CroppingMode", "") or "").lower() == "same" and not symmetric,
    }
    h = _out_size(info.shape[1], kernel[0], stride[0], top, bottom)
    w_ = _out_size(info.shape[2], kernel[1], stride[1], left, right)
    if (h is not None and h <= 0) or (w_ is not None and w_ <= 0):
        raise layer.error(f"crops [top bottom left right] = {[top, bottom, left, right]} from a {info.describe()} input, leaving nothing.")
    return Node(
        name=layer.name,
        op="conv_transpose2d",
        matlab_class=layer.classname,
        attrs=attrs,
        params=params,
        out=TensorInfo(IMAGE, (out_channels, h, w_)),
    )


def _groups(layer: LayerRecord, info: TensorInfo) -> tuple[int, int]:
    """(number of groups, input channels per group), channel-wise resolved from the input."""
    text = layer.text("NumGroups")
    per_group = layer.num("NumChannelsPerGroup")
    if text is not None and text.lower() == "channel-wise":
        if info.channels is None:
            raise layer.error("is channel-wise but its input channel count is unknown.")
        return info.channels, 1
    groups = layer.num("NumGroups")
    if groups is None:
        raise layer.error("has no NumGroups.")
    g = int(groups)
    if per_group is not None:
        return g, int(per_group)
    if info.channels is None:
        raise layer.error("has no NumChannelsPerGroup and its input channel count is unknown.")
    if info.channels % g:
        raise layer.error(f"splits {info.channels} input channels into {g} groups, which does not divide evenly.")
    return g, info.channels // g


@register("nnet.cnn.layer.GroupedConvolution2DLayer", ops=("conv2d",))
def grouped_conv2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    kernel = pair(layer.ints("FilterSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    dilation = pair(layer.ints("DilationFactor"), 1)
    groups, per_group = _groups(layer, info)
    filters_per_group = int(layer.num("NumFiltersPerGroup") or 0)
    if filters_per_group <= 0:
        raise layer.error("has no NumFiltersPerGroup.")
    in_channels = groups * per_group
    out_channels = groups * filters_per_group
    if info.channels is not None and info.channels != in_channels:
        raise layer.error(f"expects {in_channels} input channels ({groups} groups of {per_group}) but receives {info.channels}.")
    pad = resolve_padding(layer, info, kernel, stride, dilation)
    mode, value = padding_value(layer)
    weights = layer.array("Weights")
    bias = layer.array("Bias")
    params: dict[str, np.ndarray | None] = {"weight": None, "bias": None}
    if weights is not None:
        w = rebuild(weights, (kernel[0], kernel[1], per_group, filters_per_group, groups))
        w = w.reshape((kernel[0], kernel[1], per_group, out_channels), order="F")
        params["weight"] = f32(w.transpose(3, 2, 0, 1))
    if bias is not None:
        params["bias"] = f32(np.asarray(bias).reshape(out_channels, order="F"))
    attrs = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "dilation": dilation,
        "groups": groups,
        **padding_attrs(pad, mode, value),
    }
    return Node(
        name=layer.name,
        op="conv2d",
        matlab_class=layer.classname,
        attrs=attrs,
        params=params,
        out=spatial_out(info, out_channels, kernel, stride, dilation, pad),
        comment="channel-wise (depthwise) convolution" if per_group == 1 and groups > 1 else "",
    )
