"""3-D (volumetric) convolution and pooling: the layers of medical-imaging networks.

Layout (``ir.VOLUME``): MATLAB holds a batch of volumes as H×W×D×C×N; PyTorch's 3-D
modules want (N, C, D, H, W). MATLAB states every per-dimension setting (FilterSize,
PoolSize, Stride, DilationFactor) as [h w d]; the converters read them in that order and
hand PyTorch (d, h, w), so the generated modules read like ordinary PyTorch code.

PaddingSize and CroppingSize: MATLAB documents a 2×3 matrix [t l f; b r k] — rows before
and after, columns height, width and depth (top/bottom, left/right, front/back). Read
column-major, as :meth:`LayerRecord.ints` reads every field, that is [t b l r f k]: the
2-D [top bottom left right] followed by [front back] (:data:`Pad3`). F.pad wants the last
dimension first: (left, right, top, bottom, front, back). 'same' padding puts the extra
voxel at the end of each dimension (bottom, right, back), as 2-D 'same' does.

Filters: Convolution3DLayer Weights are FH×FW×FD×Cin×Cout and Conv3d's weight is
(Cout, Cin, FD, FH, FW), so ``transpose(4, 3, 2, 0, 1)``; TransposedConvolution3DLayer
stores FH×FW×FD×Cout×Cin and ConvTranspose3d wants (Cin, Cout, FD, FH, FW): the same
transpose. Biases (1×1×1×Cout) flatten to Cout.

No real MATLAB file with these classes has been seen: the field names and shapes follow
MATLAB's documentation and the 2-D classes' real schemas (see the writer's
``codegen/testing/dltwriter/volume.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import VOLUME, Node, TensorInfo
from codegen.layers.common import (
    channel_vector,
    f32,
    layer_node,
    out_size,
    rebuild,
    same_padding,
)
from codegen.layers.conv import input_channels, padding_value
from codegen.layers.conv_transposed import (
    same_totals,
    transposed_channels,
    unstored_same_split,
)
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register

Triple = tuple[int, int, int]  # MATLAB order [h w d] unless named *_dhw
# MATLAB order, the 2×3 [t l f; b r k] read column-major: [top bottom left right front back].
Pad3 = tuple[int, int, int, int, int, int]


def triple(values: tuple[int, ...] | None, default: int) -> Triple:
    """MATLAB's [h w d] (or one number for all three) as (h, w, d)."""
    if not values:
        return (default, default, default)
    if len(values) == 1:
        return (values[0], values[0], values[0])
    return (values[0], values[1], values[2])


def dhw(hwd: Triple) -> Triple:
    """MATLAB's (h, w, d) as PyTorch's (d, h, w)."""
    return (hwd[2], hwd[0], hwd[1])


def require_volume(layer: LayerRecord, info: TensorInfo) -> None:
    """Refuse, in one sentence, a 3-D layer fed with anything but a volume."""
    if info.layout != VOLUME:
        raise layer.error(
            f"expects a 3-D image (C×D×H×W) input but receives {info.describe()}; this layer arrangement is not supported."
        )


def stored_pad3(layer: LayerRecord, key: str) -> Pad3 | None:
    """PaddingSize/CroppingSize as [t b l r f k]; one value for all, or [h w d] per dimension."""
    stored = layer.ints(key)
    if not stored:
        return None
    if len(stored) == 6:
        return (stored[0], stored[1], stored[2], stored[3], stored[4], stored[5])
    if len(stored) in (1, 3):
        h, w, d = triple(stored, 0)
        return (h, h, w, w, d, d)
    raise layer.error(
        f"has a {key} of {len(stored)} values; expected a 2×3 matrix [t l f; b r k], 3 values or 1."
    )


def _sizes_hwd(info: TensorInfo) -> tuple[int | None, int | None, int | None]:
    """The input's (H, W, D) from its (C, D, H, W) shape."""
    return (info.shape[2], info.shape[3], info.shape[1])


def resolve_padding3(
    layer: LayerRecord,
    info: TensorInfo,
    kernel: Triple,
    stride: Triple,
    dilation: Triple = (1, 1, 1),
) -> Pad3:
    """PaddingSize as [t b l r f k], resolving an unstored 'same' from the input size."""
    mode = layer.enum("PaddingMode", ("manual", "same"), "manual")
    stored = stored_pad3(layer, "PaddingSize")
    # A trained network stores the resolved 'same' sizes (six of them): they win.
    if stored is not None and (
        mode != "same" or len(layer.ints("PaddingSize") or ()) == 6
    ):
        return stored
    if mode != "same":
        return (0, 0, 0, 0, 0, 0)
    pads: list[int] = []
    for size, k, s, d in zip(_sizes_hwd(info), kernel, stride, dilation, strict=True):
        split = same_padding(size, k, s, d)
        if split is None:
            raise layer.error(
                "uses 'same' padding but its input size is unknown; give the network's input layer an InputSize."
            )
        pads += split
    return (pads[0], pads[1], pads[2], pads[3], pads[4], pads[5])


def torch_pad(pad: Pad3) -> Pad3:
    """[t b l r f k] in F.pad's order for (N, C, D, H, W): (left, right, top, bottom, front, back)."""
    top, bottom, left, right, front, back = pad
    return (left, right, top, bottom, front, back)


def matlab_pad_text(pad: Pad3) -> str:
    """[t l f; b r k], the way MATLAB displays a 3-D PaddingSize."""
    top, bottom, left, right, front, back = pad
    return f"[{top} {left} {front}; {bottom} {right} {back}]"


def symmetric_dhw(pad: Pad3) -> Triple | None:
    """The per-dimension (d, h, w) amount when both sides of every dimension agree, else None."""
    top, bottom, left, right, front, back = pad
    if top == bottom and left == right and front == back:
        return (front, top, left)
    return None


def volume_out(
    info: TensorInfo,
    channels: int | None,
    kernel: Triple,
    stride: Triple,
    dilation: Triple,
    pad: Pad3,
) -> TensorInfo:
    """The volume a convolution or pooling makes of ``info`` (sizes in MATLAB's h, w, d)."""
    h, w, d = (
        out_size(n, k, s, dl, pad[2 * i], pad[2 * i + 1])
        for i, (n, k, s, dl) in enumerate(
            zip(_sizes_hwd(info), kernel, stride, dilation, strict=True)
        )
    )
    return TensorInfo(VOLUME, (channels, d, h, w))


def _filters(
    layer: LayerRecord, filters: np.ndarray | None, shape: tuple[int, ...]
) -> np.ndarray | None:
    """FH×FW×FD×A×B (trailing singletons possibly dropped) as PyTorch's (B, A, FD, FH, FW)."""
    if filters is None:
        return None
    try:
        w = rebuild(filters, shape)
    except ValueError as exc:
        raise layer.error(
            f"stores filters that do not match its size ({exc})."
        ) from None
    return f32(w.transpose(4, 3, 2, 0, 1))


# --------------------------------------------------------------------------- convolution


@register("nnet.cnn.layer.Convolution3DLayer", ops=("conv3d",), versions=(1,))
def conv3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_volume(layer, info)
    kernel = triple(layer.ints("FilterSize"), 1)
    stride = triple(layer.ints("Stride"), 1)
    dilation = triple(layer.ints("DilationFactor"), 1)
    out_channels = layer.integer("NumFilters") or 0
    if out_channels <= 0:
        raise layer.error("has no NumFilters.")
    in_channels = input_channels(layer, info)
    pad = resolve_padding3(layer, info, kernel, stride, dilation)
    mode, value = padding_value(layer)
    if mode == "symmetric":
        raise layer.error(
            "uses PaddingValue 'symmetric-include-edge', which mat2torch does not support for 3-D convolution yet."
        )
    params = {
        "weight": _filters(
            layer, layer.array("Weights"), (*kernel, in_channels, out_channels)
        ),
        "bias": channel_vector(layer, layer.array("Bias"), out_channels, "bias"),
    }
    symmetric = symmetric_dhw(pad)
    explicit = symmetric is None or mode != "constant" or value != 0.0
    attrs: dict[str, object] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": dhw(kernel),
        "stride": dhw(stride),
        "dilation": dhw(dilation),
        "padding": symmetric if symmetric is not None and not explicit else (0, 0, 0),
        "pad": torch_pad(pad) if explicit else None,
        "pad_mode": mode,
        "pad_value": value,
    }
    note = (
        f"MATLAB PaddingSize [t l f; b r k] = {matlab_pad_text(pad)}; F.pad takes (left, right, top, bottom, front, back)"
        if explicit
        else ""
    )
    return layer_node(
        layer,
        "conv3d",
        volume_out(info, out_channels, kernel, stride, dilation, pad),
        attrs,
        params=params,
        comment="MATLAB sizes are [h w d], PyTorch's (d, h, w); filters permuted from FH×FW×FD×Cin×Cout",
        forward_comment=note,
    )


def _cropping3(layer: LayerRecord, kernel: Triple, stride: Triple) -> Pad3:
    """CroppingSize as [t b l r f k], resolving CroppingMode 'same' like the 2-D layer does."""
    mode = (layer.text("CroppingMode", "manual") or "manual").lower()
    stored = stored_pad3(layer, "CroppingSize")
    if mode != "same":
        return stored or (0, 0, 0, 0, 0, 0)
    if any(k < s for k, s in zip(kernel, stride, strict=True)):
        raise layer.error(
            f"uses 'same' cropping with a filter {list(kernel)} smaller than its stride {list(stride)}, which MATLAB cannot crop to stride × input."
        )
    totals = same_totals(kernel, stride)
    # A stored split that crops the same totals is MATLAB's own choice: keep it.
    if stored is not None and all(
        stored[2 * i] + stored[2 * i + 1] == totals[i] for i in range(3)
    ):
        return stored
    split = unstored_same_split(layer, totals)  # odd totals refused, as in 2-D
    return (split[0], split[1], split[2], split[3], split[4], split[5])


@register(
    "nnet.cnn.layer.TransposedConvolution3DLayer",
    ops=("conv_transpose3d",),
    versions=(1,),
)
def transposed_conv3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_volume(layer, info)
    kernel = triple(layer.ints("FilterSize"), 1)
    stride = triple(layer.ints("Stride"), 1)
    out_channels, in_channels = transposed_channels(layer, info, 3)
    crop = _cropping3(layer, kernel, stride)
    params = {
        "weight": _filters(
            layer, layer.array("Weights"), (*kernel, out_channels, in_channels)
        ),
        "bias": channel_vector(layer, layer.array("Bias"), out_channels, "bias"),
    }
    sizes: list[int | None] = []
    for i, (n, k, s) in enumerate(zip(_sizes_hwd(info), kernel, stride, strict=True)):
        sizes.append(
            None if n is None else (n - 1) * s + k - crop[2 * i] - crop[2 * i + 1]
        )
    if any(size is not None and size <= 0 for size in sizes):
        raise layer.error(
            f"crops [t l f; b r k] = {matlab_pad_text(crop)} from a {info.describe()} input, leaving nothing."
        )
    symmetric = symmetric_dhw(crop)
    attrs: dict[str, object] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": dhw(kernel),
        "stride": dhw(stride),
        "padding": symmetric or (0, 0, 0),
        # Voxels to slice away after the module, MATLAB's [t b l r f k], or None.
        "crop": None if symmetric else crop,
    }
    out = TensorInfo(VOLUME, (out_channels, sizes[2], sizes[0], sizes[1]))
    return layer_node(
        layer,
        "conv_transpose3d",
        out,
        attrs,
        params=params,
        comment="MATLAB sizes are [h w d], PyTorch's (d, h, w); filters permuted from FH×FW×FD×Cout×Cin",
    )


# --------------------------------------------------------------------------- pooling


def _pool3d(layer: LayerRecord, inputs: Sequence[TensorInfo], op: str) -> Node:
    info = inputs[0]
    require_volume(layer, info)
    kernel = triple(layer.ints("PoolSize"), 1)
    stride = triple(layer.ints("Stride"), 1)
    pad = resolve_padding3(layer, info, kernel, stride)
    symmetric = symmetric_dhw(pad)
    # PyTorch pads symmetrically and at most half a window; anything else is an F.pad.
    fits = symmetric is not None and all(
        p <= k // 2 for p, k in zip(symmetric, dhw(kernel), strict=True)
    )
    attrs: dict[str, object] = {
        "kernel_size": dhw(kernel),
        "stride": dhw(stride),
        "padding": symmetric if fits and symmetric is not None else (0, 0, 0),
        "pad": None if fits else torch_pad(pad),
    }
    if op == "avg_pool3d":
        # PaddingValue 0 (the default) counts padded zeros; 'mean' excludes them.
        include = layer.text("PaddingValue") != "mean"
        if not include and not fits:
            raise layer.error(
                "combines PaddingValue 'mean' with padding PyTorch cannot apply itself, which mat2torch does not support yet."
            )
        attrs["count_include_pad"] = include
    note = ""
    if not fits:
        note = f"MATLAB PaddingSize [t l f; b r k] = {matlab_pad_text(pad)}; F.pad takes (left, right, top, bottom, front, back)"
        note += (
            "; max pooling pads with -inf"
            if op == "max_pool3d"
            else "; padded zeros count in the average"
        )
    out = volume_out(info, info.channels, kernel, stride, (1, 1, 1), pad)
    return layer_node(layer, op, out, attrs, forward_comment=note)


@register("nnet.cnn.layer.MaxPooling3DLayer", ops=("max_pool3d",), versions=(1,))
def max_pool3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    if layer.flag("HasUnpoolingOutputs"):
        raise layer.error(
            "has unpooling outputs (HasUnpoolingOutputs true), which mat2torch does not support yet."
        )
    return _pool3d(layer, inputs, "max_pool3d")


@register("nnet.cnn.layer.AveragePooling3DLayer", ops=("avg_pool3d",), versions=(1,))
def avg_pool3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _pool3d(layer, inputs, "avg_pool3d")


def _global3d(layer: LayerRecord, inputs: Sequence[TensorInfo], op: str) -> Node:
    info = inputs[0]
    require_volume(layer, info)
    # MATLAB keeps the pooled spatial dimensions as 1×1×1.
    return layer_node(layer, op, TensorInfo(VOLUME, (info.channels, 1, 1, 1)))


@register(
    "nnet.cnn.layer.GlobalAveragePooling3DLayer",
    ops=("global_avg_pool3d",),
    versions=(1,),
)
def global_avg_pool3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _global3d(layer, inputs, "global_avg_pool3d")


@register(
    "nnet.cnn.layer.GlobalMaxPooling3DLayer", ops=("global_max_pool3d",), versions=(1,)
)
def global_max_pool3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _global3d(layer, inputs, "global_max_pool3d")
