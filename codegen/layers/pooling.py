"""Max, average and global pooling with MATLAB's padding semantics, and max unpooling.

Max unpooling (SegNet's ``segnetLayers``): a ``maxPooling2dLayer`` with
``HasUnpoolingOutputs`` true has three outputs, 'out', 'indices' (where each maximum
was) and 'size' (its input's size), and a ``maxUnpooling2dLayer`` takes them back at its
inputs 'in', 'indices' and 'size', putting each value where the maximum was and zeros
elsewhere. The generated code uses ``F.max_pool2d(return_indices=True)`` and a small
``max_unpool`` helper (a scatter: ``nn.MaxUnpool2d`` and ``F.max_unpool2d`` with an
output size fail under torch.jit.script or torch.jit.trace). Their indices are
PyTorch's (h·W + w per channel), not MATLAB's, so the 'indices' and 'size' outputs may
only feed the 'indices' and 'size' inputs of a max unpooling layer (the importer refuses
any other reader, :class:`codegen.ir.PortReader`), and an unpooling layer takes both
from one pooling layer.

What MATLAB's documentation leaves open is refused rather than guessed: overlapping
windows (Stride below PoolSize: a position can be the maximum of several windows, and
how MATLAB's unpooling combines them is not documented) and padding (which position a
window of padding reports). Ties inside a window are not documented either: PyTorch
points to the first maximum in row order, and a generated comment says so.

MaxUnpooling2DLayer's saved schema is inferred (no real sample): Version 1 and Name,
ReLULayer's pattern (see codegen/testing/dltwriter/pooling.py); only Name is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codegen.ir import FEATURE, IMAGE, Node, PortReader, TensorInfo
from codegen.layers.common import (
    layer_node,
    pad_comment,
    pair,
    pool_padding_attrs,
    refuse_options,
    require_image,
    resolve_padding,
    spatial_out,
)
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _pool(layer: LayerRecord, inputs: Sequence[TensorInfo], op: str) -> Node:
    info = inputs[0]
    require_image(layer, info)
    kernel = pair(layer.ints("PoolSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    pad = resolve_padding(layer, info, kernel, stride)
    attrs: dict[str, object] = {
        "kernel_size": kernel,
        "stride": stride,
        **pool_padding_attrs(pad, kernel),
    }
    symmetric = attrs["pad"] is None
    if op == "avg_pool2d":
        value = layer.text("PaddingValue")
        # PaddingValue 0 (the default) counts padded zeros; 'mean' excludes them.
        include = value != "mean"
        if not include and not symmetric:
            raise layer.error(
                "combines PaddingValue 'mean' with asymmetric padding, which mat2torch does not support yet."
            )
        attrs["count_include_pad"] = include
    out = spatial_out(info, info.channels, kernel, stride, (1, 1), pad)
    note = ""
    if not symmetric:
        note = pad_comment(pad)
        note += (
            "; max pooling pads with -inf"
            if op == "max_pool2d"
            else "; padded zeros count in the average"
        )
    return layer_node(layer, op, out, attrs, forward_comment=note)


UNPOOLING_CLASS = "nnet.cnn.layer.MaxUnpooling2DLayer"
# MATLAB's port names: a max pooling layer with unpooling outputs, a max unpooling layer.
POOL_OUTPUTS = ("out", "indices", "size")
UNPOOL_INPUTS = ("in", "indices", "size")
_ONLY_UNPOOLING = (
    "its values are PyTorch's max pooling indices, which mean something only to the "
    "max unpooling that mat2torch translates with them"
)


@dataclass(frozen=True)
class PoolingIndices(TensorInfo):
    """The 'indices' output of max pooling ``pool``: one index per pooled value (so
    ``shape`` is the pooled output's)."""

    pool: str


@dataclass(frozen=True)
class PoolingSize(TensorInfo):
    """The 'size' output of max pooling ``pool``: in forward, its input's (H, W), two
    numbers; ``image`` is what is known of that input."""

    pool: str
    image: TensorInfo


@register(
    "nnet.cnn.layer.MaxPooling2DLayer",
    ops=("max_pool2d", "max_pool2d_indices"),
    versions=(2, 3),
)
def max_pool2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    refuse_options(layer, ("PoolOverTime", "DistributeOverTime"), ("PoolingDimIdx",))
    if layer.flag("HasUnpoolingOutputs"):
        return _pool_with_indices(layer, inputs)
    return _pool(layer, inputs, "max_pool2d")


def _pool_with_indices(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """Max pooling whose 'indices' and 'size' outputs feed max unpooling layers."""
    info = inputs[0]
    require_image(layer, info)
    kernel = pair(layer.ints("PoolSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    pad = resolve_padding(layer, info, kernel, stride)
    if any(pad):
        top, bottom, left, right = pad
        raise layer.error(
            f"has unpooling outputs (HasUnpoolingOutputs true) and padding [{top} {bottom} "
            f"{left} {right}]; MATLAB does not document which position its indices give for "
            "padded windows, so mat2torch converts unpooling outputs only without padding."
        )
    if stride[0] < kernel[0] or stride[1] < kernel[1]:
        raise layer.error(
            f"has unpooling outputs (HasUnpoolingOutputs true) and overlapping pooling "
            f"windows (PoolSize [{kernel[0]} {kernel[1]}], Stride [{stride[0]} {stride[1]}]); "
            "MATLAB does not document how unpooling combines the values that overlapping "
            "windows send to one position, so mat2torch converts unpooling outputs only "
            "with a Stride at least the PoolSize."
        )
    out = spatial_out(info, info.channels, kernel, stride, (1, 1), pad)
    indices = PoolingIndices(IMAGE, out.shape, layer.name)
    size = PoolingSize(FEATURE, (2,), layer.name, info)
    attrs: dict[str, object] = {
        "kernel_size": kernel,
        "stride": stride,
        "output_ports": POOL_OUTPUTS,
        "output_infos": [out, indices, size],
        "port_readers": {
            port: PortReader(UNPOOLING_CLASS, port, _ONLY_UNPOOLING)
            for port in POOL_OUTPUTS[1:]
        },
    }
    return layer_node(
        layer,
        "max_pool2d_indices",
        out,
        attrs,
        forward_comment=(
            "max pooling with MATLAB's unpooling outputs (indices in PyTorch's encoding, "
            "the input's (H, W)); of tied maxima PyTorch takes the first in row order, "
            "MATLAB's choice is undocumented"
        ),
    )


@register(
    UNPOOLING_CLASS,
    ops=("max_unpool2d",),
    input_names=UNPOOL_INPUTS,
    versions=(1,),
)
def max_unpool2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    if len(inputs) != len(UNPOOL_INPUTS):
        raise layer.error(
            f"has {len(inputs)} of its 3 inputs connected; connect 'in', and the 'indices' "
            "and 'size' outputs of a max pooling layer with HasUnpoolingOutputs true, in MATLAB."
        )
    info, indices, size = inputs
    if not isinstance(indices, PoolingIndices) or not isinstance(size, PoolingSize):
        raise layer.error(
            "receives at its 'indices' or 'size' input something other than the 'indices' "
            "and 'size' outputs of a max pooling layer with HasUnpoolingOutputs true, which "
            "is all mat2torch can unpool with."
        )
    if indices.pool != size.pool:
        raise layer.error(
            f"takes its 'indices' from max pooling layer '{indices.pool}' but its 'size' "
            f"from '{size.pool}'; mat2torch unpools only with the indices and size of one "
            "pooling layer."
        )
    require_image(layer, info)
    if any(
        a is not None and b is not None and a != b
        for a, b in zip(info.shape, indices.shape, strict=True)
    ):
        raise layer.error(
            f"receives {info.describe()} at its 'in' input, but the indices of max pooling "
            f"layer '{indices.pool}' are for {indices.describe()}; the sizes must agree."
        )
    out = TensorInfo(IMAGE, (info.channels, *size.image.shape[1:]))
    return layer_node(
        layer,
        "max_unpool2d",
        out,
        forward_comment=(
            f"MATLAB max unpooling: values back where '{indices.pool}' found the "
            "maxima, zeros elsewhere"
        ),
    )


@register("nnet.cnn.layer.AveragePooling2DLayer", ops=("avg_pool2d",), versions=(2, 3))
def avg_pool2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    refuse_options(layer, ("PoolOverTime", "DistributeOverTime"), ("PoolingDimIdx",))
    return _pool(layer, inputs, "avg_pool2d")


def _global(layer: LayerRecord, inputs: Sequence[TensorInfo], op: str) -> Node:
    info = inputs[0]
    require_image(layer, info)
    # MATLAB keeps the pooled spatial dimensions as 1×1.
    return layer_node(layer, op, TensorInfo(IMAGE, (info.channels, 1, 1)))


@register(
    "nnet.cnn.layer.GlobalAveragePooling2DLayer",
    ops=("global_avg_pool2d",),
    versions=(1,),
)
def global_avg_pool2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _global(layer, inputs, "global_avg_pool2d")


@register(
    "nnet.cnn.layer.GlobalMaxPooling2DLayer", ops=("global_max_pool2d",), versions=(1,)
)
def global_max_pool2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _global(layer, inputs, "global_max_pool2d")
