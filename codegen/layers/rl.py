"""Reinforcement Learning Toolbox layers (``rl.layer.*``), common at the end of actors.

They are ``nnet.layer.Layer`` subclasses: plain properties, which LayerRecord reads like
any other field.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import Node, TensorInfo
from codegen.layers.common import broadcast_operand, layer_node
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
    buffers = {
        key: value
        for key, value in (("scale", scale), ("bias", bias))
        if isinstance(value, np.ndarray)
    }
    attrs = {
        "scale": scale if isinstance(scale, float) else None,
        "bias": bias if isinstance(bias, float) else None,
    }
    node = layer_node(layer, "scaling", info, attrs, buffers=buffers)
    if buffers:
        node.comment = (
            "scalingLayer: "
            + " and ".join("Scale" if k == "scale" else "Bias" for k in buffers)
            + " in PyTorch's layout, broadcast as MATLAB's implicit expansion does"
        )
    return node
