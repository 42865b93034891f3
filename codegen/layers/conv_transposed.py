"""Transposed 2-D convolution.

Transposed convolution (SEMANTICS.md §Convolution): MATLAB Weights are (FH, FW, Cout, Cin)
— NumFilters before NumChannels — and PyTorch's ConvTranspose2d wants (Cin, Cout, FH, FW),
so ``permute(3, 2, 0, 1)``. The full output is ((H−1)·s + FH) × ((W−1)·s + FW); MATLAB
then removes CroppingSize [top bottom left right]. Symmetric cropping is ConvTranspose2d's
``padding``; anything else is an explicit slice after a padding-free ConvTranspose2d.

CroppingMode 'same' makes the output stride × input, so the total cropping is
FilterSize − Stride per dimension, whatever the input size. A trained network stores the
split MATLAB chose in CroppingSize, and that split is used. Without it an even total is
halved; an odd total is refused: MATLAB's documentation puts the extra row on top and the
extra column on the left, its implementation crops floor(total/2) first (SEMANTICS.md
marks the split uncertain), and a guess would silently shift the output by a pixel.
Schema version 1 (older releases) stores neither CroppingMode nor CroppingSize but
``Cropping`` [a b], cropped on both sides (see ``_cropping_v1``).
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
from codegen.layers.conv import input_channels
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def same_totals(kernel: Sequence[int], stride: Sequence[int]) -> list[int]:
    """What CroppingMode 'same' crops in all per dimension: FilterSize − Stride."""
    return [k - s for k, s in zip(kernel, stride, strict=True)]


def unstored_same_split(layer: LayerRecord, totals: Sequence[int]) -> list[int]:
    """[before after, ...] for 'same' cropping a file stores no split of: even totals
    halved; an odd total refused (see the module docstring)."""
    odd = [t for t in totals if t % 2]
    if odd:
        raise layer.error(
            f"uses 'same' cropping whose total per dimension (FilterSize − Stride = "
            f"{list(totals)}) is odd, and stores no CroppingSize saying which side MATLAB "
            "crops the extra row or column from (its documentation and implementation "
            "disagree); give the layer an explicit 'Cropping' in MATLAB, or save the "
            "network after training, which stores the split."
        )
    return [half for t in totals for half in (t // 2, t // 2)]


def _cropping_v1(layer: LayerRecord) -> Pad:
    """Schema version 1 (the first releases of transposedConv2dLayer, before CroppingMode
    and CroppingSize existed) stores ``Cropping`` = [a b]: MATLAB's documentation of that
    release crops a rows from the top AND from the bottom and b columns from the left AND
    from the right, so the output is Stride·(in − 1) + FilterSize − 2·[a b].
    """
    if layer.has("CroppingMode") or layer.has("CroppingSize"):
        raise layer.error(
            "is stored in schema version 1 but has CroppingMode/CroppingSize fields, "
            "which that version does not have; mat2torch cannot tell which cropping applies."
        )
    stored = layer.ints("Cropping")
    if stored is None:
        raise layer.error(
            "is stored in schema version 1 but has no Cropping field, which carries its "
            "cropping in that version."
        )
    if len(stored) != 2 or min(stored) < 0:
        raise layer.error(
            f"has Cropping {list(stored)}; schema version 1 stores [a b] (two "
            "non-negative numbers)."
        )
    return (stored[0], stored[0], stored[1], stored[1])


def _cropping(
    layer: LayerRecord, kernel: tuple[int, int], stride: tuple[int, int]
) -> Pad:
    """CroppingSize as [top bottom left right], resolving CroppingMode 'same' (see the module docstring)."""
    if layer.num("Version") == 1:
        return _cropping_v1(layer)
    if "Cropping" in layer.fields:
        raise layer.error(
            "has a Cropping field, which only schema version 1 stores; mat2torch cannot "
            "tell which cropping applies."
        )
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
        totals = same_totals(kernel, stride)
        # A stored split that crops the same totals is MATLAB's own choice: keep it.
        if (
            stored
            and len(stored) == 4
            and stored[0] + stored[1] == totals[0]
            and stored[2] + stored[3] == totals[1]
        ):
            return (stored[0], stored[1], stored[2], stored[3])
        split = unstored_same_split(layer, totals)
        return (split[0], split[1], split[2], split[3])
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


@register(
    "nnet.cnn.layer.TransposedConvolution2DLayer",
    ops=("conv_transpose2d",),
    versions=(1, 2),
)
def transposed_conv2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    kernel = pair(layer.ints("FilterSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    out_channels, in_channels = transposed_channels(layer, info, 2)
    crop = _cropping(layer, kernel, stride)
    shape = (kernel[0], kernel[1], out_channels, in_channels)
    params = filter_params(
        layer,
        layer.array("Weights", lazy=True),
        layer.array("Bias"),
        shape,
        out_channels,
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
    )
