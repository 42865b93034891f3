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

from codegen.ir import Node, TensorInfo
from codegen.layers.common import (
    Pad,
    conv_transpose2d_node,
    filter_params,
    pair,
    require_image,
    transposed_out,
)
from codegen.layers.conv import convolution, input_channels
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def same_cropping(kernel: tuple[int, int], stride: tuple[int, int]) -> Pad:
    """[top bottom left right] for CroppingMode 'same': the extra row/column goes top/left."""
    crop: list[int] = []
    for k, s in zip(kernel, stride, strict=True):
        total = k - s
        crop += [total - total // 2, total // 2]
    return (crop[0], crop[1], crop[2], crop[3])


def _cropping(
    layer: LayerRecord, kernel: tuple[int, int], stride: tuple[int, int]
) -> Pad:
    """CroppingSize as [top bottom left right], resolving CroppingMode 'same' (see the module docstring)."""
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
        if (
            stored
            and len(stored) == 4
            and stored[0] + stored[1] == wanted[0] + wanted[1]
            and stored[2] + stored[3] == wanted[2] + wanted[3]
        ):
            return (stored[0], stored[1], stored[2], stored[3])
        return wanted
    if stored and len(stored) == 4:
        return (stored[0], stored[1], stored[2], stored[3])
    if stored:
        raise layer.error(
            f"has a CroppingSize of {len(stored)} values; expected 1, 2 or 4."
        )
    return (0, 0, 0, 0)


def transposed_channels(
    layer: LayerRecord, info: TensorInfo, dims: int
) -> tuple[int, int]:
    """(out, in) channels of a 2-D or 3-D transposed convolution, refusing what PyTorch's
    ConvTranspose cannot express exactly (an output size offset, dilation)."""
    out_channels = layer.integer("NumFilters") or 0
    if out_channels <= 0:
        raise layer.error("has no NumFilters.")
    offset = layer.ints("OutputSizeOffset")
    if offset and any(offset):
        raise layer.error(
            f"has OutputSizeOffset {list(offset)}, which mat2torch does not support yet."
        )
    dilation = layer.ints("DilationFactor")
    if dilation and any(d != 1 for d in dilation[:dims]):
        raise layer.error(
            f"has DilationFactor {list(dilation)}, which mat2torch does not support for transposed convolution yet."
        )
    return out_channels, input_channels(layer, info)


@register("nnet.cnn.layer.TransposedConvolution2DLayer", ops=("conv_transpose2d",))
def transposed_conv2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    kernel = pair(layer.ints("FilterSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    out_channels, in_channels = transposed_channels(layer, info, 2)
    crop = _cropping(layer, kernel, stride)
    shape = (kernel[0], kernel[1], out_channels, in_channels)
    params = filter_params(
        layer, layer.array("Weights"), layer.array("Bias"), shape, out_channels
    )
    out = transposed_out(info, out_channels, kernel, stride, crop)
    if any(size is not None and size <= 0 for size in out.shape[1:]):
        raise layer.error(
            f"crops [top bottom left right] = {list(crop)} from a {info.describe()} input, leaving nothing."
        )
    return conv_transpose2d_node(
        layer,
        params,
        out,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel=kernel,
        stride=stride,
        crop=crop,
        same_split=(layer.text("CroppingMode", "") or "").lower() == "same",
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
        raise layer.error(
            "has no NumChannelsPerGroup and its input channel count is unknown."
        )
    if info.channels % g:
        raise layer.error(
            f"splits {info.channels} input channels into {g} groups, which does not divide evenly."
        )
    return g, info.channels // g


@register("nnet.cnn.layer.GroupedConvolution2DLayer", ops=("conv2d",))
def grouped_conv2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    groups, per_group = _groups(layer, info)
    filters_per_group = layer.integer("NumFiltersPerGroup") or 0
    if filters_per_group <= 0:
        raise layer.error("has no NumFiltersPerGroup.")
    in_channels = groups * per_group
    if info.channels is not None and info.channels != in_channels:
        raise layer.error(
            f"expects {in_channels} input channels ({groups} groups of {per_group}) but receives {info.channels}."
        )
    comment = (
        "channel-wise (depthwise) convolution" if per_group == 1 and groups > 1 else ""
    )
    return convolution(
        layer,
        info,
        in_channels,
        groups * filters_per_group,
        groups,
        comment,
        explain_pad=False,
    )
