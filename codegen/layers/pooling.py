"""Max, average and global pooling with MATLAB's padding semantics."""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import IMAGE, Node, TensorInfo
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


@register("nnet.cnn.layer.MaxPooling2DLayer", ops=("max_pool2d",), versions=(2, 3))
def max_pool2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    if layer.flag("HasUnpoolingOutputs"):
        raise layer.error(
            "has unpooling outputs (HasUnpoolingOutputs true), which mat2torch does not support yet."
        )
    refuse_options(layer, ("PoolOverTime", "DistributeOverTime"), ("PoolingDimIdx",))
    return _pool(layer, inputs, "max_pool2d")


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
