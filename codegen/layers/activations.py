"""Elementwise activations, softmax and dropout: shape-preserving, one module each.

preluLayer (R2024a): f(x) = x for x > 0, Alpha·x otherwise, with Alpha "compatible with
the input size" by MATLAB's implicit expansion [doc]. A scalar Alpha or one value per
channel (1×1×C against images H×W×C×N; C×1 against features C×N and sequences C×N×T) is
nn.PReLU(num_parameters) with Alpha as its weight; other shapes are refused. nn.PReLU
multiplies by its weight where x < 0 and passes x where x >= 0 — the same at x = 0.

softplusLayer (Reinforcement Learning Toolbox, ``rl.layer``, and Deep Learning Toolbox,
``nnet.cnn.layer``): y = log(1 + exp(x)) → nn.Softplus(). PyTorch returns x itself above
20, where the exact value exceeds x by log(1 + exp(−x)) < 2.1e-9 (relative < 1.1e-10).
Whether MATLAB computes log(1 + exp(x)) stably is not documented: a literal single-
precision log(1 + exp(x)) would give Inf above about 88.7 where PyTorch gives x; the
generated code follows the mathematical definition. No MATLAB file with a PReLU or
softplus layer has been seen: the field name Alpha is the documented property.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import FEATURE, IMAGE, IMAGE_SEQUENCE, SEQUENCE, Node, TensorInfo
from codegen.layers.common import f32, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _node(
    layer: LayerRecord, inputs: Sequence[TensorInfo], op: str, **attrs: object
) -> Node:
    """Activations keep their input's shape; only the op and its few settings differ."""
    return layer_node(layer, op, inputs[0], dict(attrs))


@register("nnet.cnn.layer.ReLULayer", ops=("relu",), versions=(1,))
def relu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "relu")


@register("nnet.cnn.layer.LeakyReLULayer", ops=("leaky_relu",), versions=(1,))
def leaky_relu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(
        layer,
        inputs,
        "leaky_relu",
        negative_slope=float(layer.num("Scale", 0.01) or 0.0),
    )


@register("nnet.cnn.layer.ClippedReLULayer", ops=("clipped_relu",), versions=(1,))
def clipped_relu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    ceiling = layer.num("Ceiling")
    if ceiling is None:
        raise layer.error("has no Ceiling.")
    return _node(layer, inputs, "clipped_relu", ceiling=float(ceiling))


@register("nnet.cnn.layer.ELULayer", ops=("elu",), versions=(1,), properties=("Alpha",))
def elu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "elu", alpha=float(layer.num("Alpha", 1.0) or 0.0))


@register("nnet.cnn.layer.TanhLayer", ops=("tanh",), versions=(1,))
def tanh(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "tanh")


@register("nnet.cnn.layer.SigmoidLayer", ops=("sigmoid",), versions=(1,))
def sigmoid(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "sigmoid")


@register("nnet.cnn.layer.SwishLayer", ops=("swish",), versions=(1,))
def swish(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(layer, inputs, "swish")


@register("nnet.cnn.layer.GELULayer", ops=("gelu",), versions=(1,))
def gelu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    approximation = (layer.text("Approximation", "none") or "none").lower()
    if approximation not in ("none", "tanh"):
        raise layer.error(
            f"uses Approximation '{approximation}'; only 'none' and 'tanh' exist."
        )
    return _node(layer, inputs, "gelu", approximate=approximation)


@register("nnet.cnn.layer.SoftmaxLayer", ops=("softmax",), versions=(2, 3, 4))
def softmax(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    # MATLAB's softmax normalizes over channels only: (N, T, C) → -1, (N, T, C, H, W) → 2.
    dims = {SEQUENCE: -1, IMAGE_SEQUENCE: 2}
    return _node(layer, inputs, "softmax", dim=dims.get(inputs[0].layout, 1))


@register("nnet.cnn.layer.DropoutLayer", ops=("dropout",), versions=(1,))
def dropout(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _node(
        layer,
        inputs,
        "dropout",
        p=layer.num("Probability", 0.5, between=(0.0, 1.0)) or 0.0,
    )


def _alpha(layer: LayerRecord, info: TensorInfo) -> np.ndarray | None:
    """Alpha as nn.PReLU's weight: one value, or one per channel; None when unstored."""
    value = layer.array("Alpha")
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float32)
    if array.size == 1:
        return f32(array.reshape(1))
    # The stored shape without trailing singletons (MATLAB drops them; a C×1 keeps its 1).
    shape = list(array.shape)
    while shape and shape[-1] == 1:
        shape.pop()
    channels = info.channels
    # Per channel: 1×1×C against H×W×C×N, C×1 against C×N or C×N×T.
    per_channel = (
        len(shape) == 3 and shape[:2] == [1, 1]
        if info.layout == IMAGE
        else len(shape) == 1
    )
    if not per_channel or (channels is not None and shape[-1] != channels):
        wanted = "1×1×C" if info.layout == IMAGE else "C×1"
        raise layer.error(
            f"has a {'×'.join(map(str, array.shape))} Alpha for {info.describe()}; "
            f"mat2torch supports a scalar Alpha or one per channel ({wanted})."
        )
    return f32(array.reshape(-1, order="F"))


@register(
    "nnet.cnn.layer.PReLULayer", ops=("prelu",), versions=(1,), properties=("Alpha",)
)
def prelu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout not in (IMAGE, FEATURE, SEQUENCE):
        raise layer.error(f"receives {info.describe()}, which it cannot handle.")
    alpha = _alpha(layer, info)
    count = 1 if alpha is None else int(alpha.size)
    # nn.PReLU applies its weights along dim 1: the channels of (N, C, ...), but the time
    # steps of (N, T, C); per-channel Alpha on a sequence moves its channels there and back.
    transpose = info.layout == SEQUENCE and count > 1
    node = layer_node(
        layer,
        "prelu",
        info,
        {"num_parameters": count, "transpose": transpose},
        params={"weight": alpha},
        comment="MATLAB PReLU: x where x > 0, Alpha * x elsewhere; "
        + ("one Alpha for all values" if count == 1 else "one Alpha per channel"),
    )
    if transpose:
        node.forward_comment = "nn.PReLU scales dim 1: channels there and back"
    return node


@register(
    "nnet.cnn.layer.SoftplusLayer",
    "rl.layer.SoftplusLayer",
    ops=("softplus",),
    versions=(1,),
    properties=(),
)
def softplus(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return layer_node(
        layer,
        "softplus",
        inputs[0],
        comment="MATLAB softplus: log(1 + exp(x)); nn.Softplus returns x above 20 (relative difference < 2e-10)",
    )
