"""Reinforcement Learning Toolbox layers (``rl.layer.*``), common at the end of actors.

They are ``nnet.layer.Layer`` subclasses: plain properties, which LayerRecord reads like
any other field.
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import Node, TensorInfo
from codegen.layers.common import broadcast_operand, scaling_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


@register(
    "rl.layer.ScalingLayer",
    ops=("scaling",),
    versions=(1,),
    properties=("Scale", "Bias"),
)
def scaling(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """scalingLayer: y = Scale.*x + Bias, each a scalar or an array MATLAB broadcasts."""
    info = inputs[0]
    scale = broadcast_operand(layer, "Scale", 1.0, info)
    bias = broadcast_operand(layer, "Bias", 0.0, info)
    return scaling_node(layer, info, scale, bias, "scalingLayer", ("Scale", "Bias"))
