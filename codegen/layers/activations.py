"""Elementwise activations, softmax and dropout: shape-preserving, one module each."""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import IMAGE_SEQUENCE, SEQUENCE, Node, TensorInfo
from codegen.layers.common import layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _node(
    layer: LayerRecord, inputs: Sequence[TensorInfo], op: str, **attrs: object
) -> Node:
    """Activations keep their input's shape; only the op and its few settings differ."""
    return layer_node(layer, op, inputs[0], dict(attrs))


@register("nnet.cnn.layer.ReLULayer", ops=("relu",))
def relu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "relu")


@register("nnet.cnn.layer.LeakyReLULayer", ops=("leaky_relu",))
def leaky_relu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(
        layer,
        inputs,
        "leaky_relu",
        negative_slope=float(layer.num("Scale", 0.01) or 0.0),
    )


@register("nnet.cnn.layer.ClippedReLULayer", ops=("clipped_relu",))
def clipped_relu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    ceiling = layer.num("Ceiling")
    if ceiling is None:
        raise layer.error("has no Ceiling.")
    return _node(layer, inputs, "clipped_relu", ceiling=float(ceiling))


@register("nnet.cnn.layer.ELULayer", ops=("elu",))
def elu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "elu", alpha=float(layer.num("Alpha", 1.0) or 0.0))


@register("nnet.cnn.layer.TanhLayer", ops=("tanh",))
def tanh(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "tanh")


@register("nnet.cnn.layer.SigmoidLayer", ops=("sigmoid",))
def sigmoid(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "sigmoid")


@register("nnet.cnn.layer.SwishLayer", ops=("swish",))
def swish(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "swish")


@register("nnet.cnn.layer.GELULayer", ops=("gelu",))
def gelu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    approximation = (layer.text("Approximation", "none") or "none").lower()
    if approximation not in ("none", "tanh"):
        raise layer.error(
            f"uses Approximation '{approximation}'; only 'none' and 'tanh' exist."
        )
    return _node(layer, inputs, "gelu", approximate=approximation)


@register("nnet.cnn.layer.SoftmaxLayer", ops=("softmax",))
def softmax(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    # MATLAB's softmax normalizes over channels only: (N, T, C) → -1, (N, T, C, H, W) → 2.
    dims = {SEQUENCE: -1, IMAGE_SEQUENCE: 2}
    return _node(layer, inputs, "softmax", dim=dims.get(inputs[0].layout, 1))


@register("nnet.cnn.layer.DropoutLayer", ops=("dropout",))
def dropout(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(
        layer,
        inputs,
        "dropout",
        p=layer.num("Probability", 0.5, between=(0.0, 1.0)) or 0.0,
    )
