"""2-D convolution, plain and grouped.

Convolution2DLayer and GroupedConvolution2DLayer store FilterSize, Stride,
DilationFactor, PaddingSize/PaddingMode and PaddingValue alike and differ only in how their channels are counted, so :func:`convolution` turns either into a
node once the caller has settled the channels.

Grouped convolution: Weights (FH, FW, Cin/G, Cout/G, G); group g's filter f is output
channel f + (Cout/G)·g, which is what a column-major reshape to (FH, FW, Cin/G, Cout)
gives; then the usual ``permute(3, 2, 0, 1)`` is PyTorch's grouped layout. Bias
(1, 1, Cout/G, G) flattens column-major into the same order. NumGroups 'channel-wise'
(depthwise) means one group per input channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import Node, TensorInfo
from codegen.layers.common import (
    conv2d_node,
    filter_params,
    pair,
    refuse_options,
    require_image,
    resolve_padding,
)
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def padding_value(layer: LayerRecord) -> tuple[str, float]:
    """PaddingValue as an F.pad mode and constant (SEMANTICS.md: mapping uncertain)."""
    raw = layer.raw("PaddingValue", None)
    text = layer.text("PaddingValue")
    if text:
        modes = {
            "replicate": "replicate",
            "symmetric-exclude-edge": "reflect",
            "symmetric-include-edge": "symmetric",  # no F.pad mode: a helper in model.py
        }
        if text not in modes:
            raise layer.error(
                f"uses PaddingValue '{text}', which mat2torch does not support."
            )
        return modes[text], 0.0
    if raw is None or np.asarray(raw).size == 0:
        return "constant", 0.0
    return "constant", layer.num("PaddingValue", 0.0, finite=False) or 0.0


def input_channels(layer: LayerRecord, info: TensorInfo) -> int:
    """NumChannels if stored (an untrained layer may not know it), else the input's; they must agree."""
    stored = layer.integer("NumChannels")
    in_channels = stored if stored is not None else info.channels
    if in_channels is None:
        raise layer.error("has no NumChannels and its input channel count is unknown.")
    if info.channels is not None and info.channels != in_channels:
        raise layer.error(
            f"expects {in_channels} input channels but receives {info.channels}."
        )
    return in_channels


def convolution(
    layer: LayerRecord,
    info: TensorInfo,
    in_channels: int,
    out_channels: int,
    groups: int = 1,
    comment: str = "",
    explain_pad: bool = True,
) -> Node:
    """A (grouped) convolution layer as nn.Conv2d, its channels already checked.

    Weights are FH×FW×(Cin/G)×(Cout/G)×G and Bias 1×1×(Cout/G)×G (G = 1 for a plain
    convolution, which saves them without the trailing singletons). ``explain_pad``
    comments an explicit F.pad in forward.
    """
    kernel = pair(layer.ints("FilterSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    dilation = pair(layer.ints("DilationFactor"), 1)
    pad = resolve_padding(layer, info, kernel, stride, dilation)
    pad_mode = padding_value(layer)
    shape = (
        kernel[0],
        kernel[1],
        in_channels // groups,
        out_channels // groups,
        groups,
    )
    params = filter_params(
        layer,
        layer.array("Weights", lazy=True),
        layer.array("Bias"),
        shape,
        out_channels,
    )
    return conv2d_node(
        layer,
        info,
        params,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        pad=pad,
        pad_mode=pad_mode,
        pad_source="MATLAB PaddingSize" if explain_pad else None,
        comment=comment,
        groups=groups,
    )


@register("nnet.cnn.layer.Convolution2DLayer", ops=("conv2d",), versions=(3, 5, 6, 8))
def conv2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    refuse_options(
        layer, ("ConvolveOverTime", "DistributeOverTime"), ("ConvolutionDimIdx",)
    )
    out_channels = layer.integer("NumFilters") or 0
    return convolution(layer, info, input_channels(layer, info), out_channels)


def _groups(layer: LayerRecord, info: TensorInfo) -> tuple[int, int]:
    """(number of groups, input channels per group), channel-wise resolved from the input."""
    text = layer.text("NumGroups")
    per_group = layer.integer("NumChannelsPerGroup")
    if text is not None and text.lower() == "channel-wise":
        if info.channels is None:
            raise layer.error("is channel-wise but its input channel count is unknown.")
        return info.channels, 1
    g = layer.integer("NumGroups")
    if g is None or g <= 0:
        raise layer.error("has no NumGroups.")
    if per_group is not None:
        return g, per_group
    if info.channels is None:
        raise layer.error(
            "has no NumChannelsPerGroup and its input channel count is unknown."
        )
    if info.channels % g:
        raise layer.error(
            f"splits {info.channels} input channels into {g} groups, which does not divide evenly."
        )
    return g, info.channels // g


@register("nnet.cnn.layer.GroupedConvolution2DLayer", ops=("conv2d",), versions=(1,))
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
