"""Layers that MATLAB's Keras, TensorFlow and ONNX importers put into networks
(``importKerasNetwork``, ``importTensorFlowNetwork``, ``importONNXNetwork``).

They are ``nnet.layer.Layer`` subclasses shipped by MathWorks (``nnet.keras.layer.*``,
``nnet.onnx.layer.*``), saved with plain properties like user-defined layers. Their
semantics come from MathWorks' own class files:

* the flattens (Keras', TensorFlow's and ONNX's): :mod:`codegen.layers.imported_flatten`.
* ``nnet.onnx.layer.ElementwiseAffineLayer.predict``: Z = X; if DoScale, Z = Z.*Scale;
  if DoOffset, Z = Z + Offset (MATLAB's implicit expansion of the stored arrays against
  one observation), with DoScale = any(Scale(:) ~= 1), DoOffset = any(Offset(:) ~= 0)
  set by its constructor.
* ``nnet.keras.layer.ZeroPadding2dLayer``: zeros around H×W images (Top, Bottom, Left,
  Right); ``ZeroPadding1dLayer``: zeros before and after the time steps of C×N×T
  sequences (leftPad, rightPad). Other formats are refused, as predict refuses them.
* ``nnet.keras.layer.SigmoidLayer`` 1./(1+exp(-X)), ``TanhLayer`` tanh(X), ``ClipLayer``
  min(Max, max(Min, X)), ``SoftsignLayer`` X./(1+abs(X)), ``PreluLayer``
  max(0,X) + Alpha.*min(0,X): elementwise. ``GlobalAveragePooling2dLayer``
  mean(mean(X,1),2) of H×W×C×N images.
* ``nnet.onnx.layer.IdentityLayer`` and ``VerifyBatchSizeLayer`` pass their input on at
  prediction: MATLAB Coder's own layer map generates both as pass-through layers.
* ``nnet.onnx.layer.SigmoidLayer``, ``TanhLayer``, ``ClipLayer`` and
  ``GlobalAveragePooling2dLayer`` are what MATLAB's ONNX importer makes of ONNX's
  Sigmoid, Tanh, Clip (Min/Max from its attributes, ±Inf when absent) and
  GlobalAveragePool operators (``translateONNX``, ``translateClip``); MATLAB Coder maps
  them to its sigmoid, tanh and average-pooling layers. Their predict source was not
  seen: they follow those operators' definitions, as the Keras classes do.

No MATLAB file with one of these layers has been seen: the property names are those the
class files declare.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import (
    FEATURE,
    IMAGE,
    SEQUENCE,
    Dropped,
    Node,
    TensorInfo,
)
from codegen.layers.activations import prelu
from codegen.layers.common import broadcast_operand, f32, layer_node, scaling_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import PASS_THROUGH_PROPERTIES, register

KERAS = "nnet.keras.layer."
ONNX = "nnet.onnx.layer."
# The stored Version of nnet.layer.Layer subclasses is the base class's (1, as in the
# corpus's user-defined layers); the property set is what tells a class's versions apart.
BASE_VERSION = (1,)


def product(shape: Sequence[int | None]) -> int | None:
    """The number of values of a per-sample shape; None when a size is unknown."""
    return None if None in shape else int(np.prod([int(s or 0) for s in shape]))


def refuse(layer: LayerRecord, info: TensorInfo, accepted: str) -> Exception:
    """The error for a format the class's predict throws on."""
    return layer.error(
        f"receives {info.describe()}; its predict accepts only {accepted}, so MATLAB "
        "cannot run this network either."
    )


@register(
    ONNX + "ElementwiseAffineLayer",
    ops=("scaling",),
    versions=BASE_VERSION,
    properties=("Scale", "Offset", "DoScale", "DoOffset"),
)
def onnx_elementwise_affine(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout not in (IMAGE, FEATURE, SEQUENCE):
        raise layer.error(
            f"receives {info.describe()}; mat2torch applies it to images, features and "
            "sequences of vectors only."
        )
    stored_scale = layer.array("Scale")
    stored_offset = layer.array("Offset")
    # The constructor's flags; an object without them applies both, as they would.
    do_scale = layer.flag(
        "DoScale",
        default=stored_scale is None or bool(np.any(np.asarray(stored_scale) != 1)),
    )
    do_offset = layer.flag(
        "DoOffset",
        default=stored_offset is None or bool(np.any(np.asarray(stored_offset) != 0)),
    )
    scale = _affine_operand(layer, "Scale", 1.0, info) if do_scale else 1.0
    offset = _affine_operand(layer, "Offset", 0.0, info) if do_offset else 0.0
    return scaling_node(
        layer, info, scale, offset, "ONNX elementwise affine", ("Scale", "Offset")
    )


def _affine_operand(
    layer: LayerRecord, key: str, default: float, info: TensorInfo
) -> float | np.ndarray:
    """Scale or Offset in PyTorch's layout. Feature vectors are C×N to MATLAB, except
    after a fully connected layer in an image network, where they are 1×1×C×N; the
    importer shapes the operand for the form it saw, so a 1×1×C operand against
    features is one value per channel, as a C×1 one is."""
    value = layer.array(key)
    if info.layout == FEATURE and value is not None and value.ndim == 3:
        if value.shape[:2] != (1, 1) or (
            info.channels is not None and value.shape[2] not in (1, info.channels)
        ):
            raise layer.error(
                f"has a {'×'.join(map(str, value.shape))} {key}, which does not "
                f"broadcast against its input ({info.describe()})."
            )
        return f32(np.asarray(value, dtype=np.float64).reshape(1, -1))
    return broadcast_operand(layer, key, default, info)


@register(
    KERAS + "ZeroPadding2dLayer",
    ops=("zero_pad",),
    versions=BASE_VERSION,
    properties=("Top", "Bottom", "Left", "Right"),
)
def keras_zero_padding2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout != IMAGE:
        raise refuse(layer, info, "images (SSCB)")
    top, bottom, left, right = (
        _amount(layer, key) for key in ("Top", "Bottom", "Left", "Right")
    )
    c, h, w = info.shape
    out = TensorInfo(
        IMAGE,
        (
            c,
            None if h is None else h + top + bottom,
            None if w is None else w + left + right,
        ),
    )
    return layer_node(
        layer,
        "zero_pad",
        out,
        {"pad": (left, right, top, bottom), "dims": 2},
        comment=f"Keras zero padding [top bottom left right] = [{top} {bottom} {left} "
        f"{right}]; nn.ZeroPad2d takes (left, right, top, bottom)",
    )


@register(
    KERAS + "ZeroPadding1dLayer",
    ops=("zero_pad",),
    versions=BASE_VERSION,
    properties=("leftPad", "rightPad"),
)
def keras_zero_padding1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout != SEQUENCE:
        raise refuse(layer, info, "sequences of vectors (CBT)")
    left, right = _amount(layer, "leftPad"), _amount(layer, "rightPad")
    node = layer_node(layer, "zero_pad", info, {"pad": (left, right), "dims": 1})
    node.forward_comment = (
        f"Keras zero padding of the time steps: {left} before, {right} after; F.pad's "
        f"pairs run from the last dim: C by (0, 0), T by ({left}, {right})"
    )
    return node


def _amount(layer: LayerRecord, key: str) -> int:
    value = layer.integer(key)
    if value is None:
        raise layer.error(f"has no {key}.")
    return value


@register(
    ONNX + "IdentityLayer", ops=("identity",), versions=BASE_VERSION, properties=()
)
def onnx_identity(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """nnet.onnx.layer.IdentityLayer (ONNX's Identity): output = input."""
    return layer_node(layer, "identity", inputs[0])


@register(
    ONNX + "VerifyBatchSizeLayer",
    ops=("identity",),
    versions=BASE_VERSION,
    properties=PASS_THROUGH_PROPERTIES,
)
def onnx_verify_batch_size(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """nnet.onnx.layer.VerifyBatchSizeLayer: MATLAB's ONNX importer puts it after an
    input whose ONNX batch size is fixed; it checks the batch size and passes the data
    on (MATLAB Coder generates it as a pass-through). The port takes any batch."""
    node = layer_node(layer, "identity", inputs[0])
    node.comment = "ONNX importer's batch-size check: passes the data on"
    return node


@register(
    KERAS + "SigmoidLayer",
    ONNX + "SigmoidLayer",
    ops=("sigmoid",),
    versions=BASE_VERSION,
    properties=(),
)
def sigmoid(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return layer_node(layer, "sigmoid", inputs[0])


@register(
    KERAS + "TanhLayer",
    ONNX + "TanhLayer",
    ops=("tanh",),
    versions=BASE_VERSION,
    properties=(),
)
def tanh(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return layer_node(layer, "tanh", inputs[0])


@register(
    KERAS + "ClipLayer",
    ONNX + "ClipLayer",
    ops=("clip",),
    versions=BASE_VERSION,
    properties=("Min", "Max"),
)
def clip(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    # ONNX's Clip without a bound is imported with Min = -Inf or Max = Inf.
    low, high = layer.num("Min", finite=False), layer.num("Max", finite=False)
    if low is None or high is None:
        raise layer.error("has no Min or no Max.")
    attrs = {
        "min": low,
        "max": high,
        "finite_min": bool(np.isfinite(low)),
        "finite_max": bool(np.isfinite(high)),
    }
    return layer_node(layer, "clip", inputs[0], attrs)


@register(
    KERAS + "SoftsignLayer", ops=("softsign",), versions=BASE_VERSION, properties=()
)
def keras_softsign(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return layer_node(layer, "softsign", inputs[0])


@register(
    KERAS + "GlobalAveragePooling2dLayer",
    ONNX + "GlobalAveragePooling2dLayer",
    ops=("global_avg_pool2d",),
    versions=BASE_VERSION,
    properties=(),
)
def global_avg_pool2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout != IMAGE:
        raise refuse(layer, info, "images (H×W×C×N)")
    # mean(mean(X, 1), 2): MATLAB keeps the pooled dimensions as 1×1.
    return layer_node(
        layer, "global_avg_pool2d", TensorInfo(IMAGE, (info.channels, 1, 1))
    )


@register(
    KERAS + "PreluLayer",
    ops=("prelu",),
    versions=BASE_VERSION,
    properties=("Alpha", "ChannelDim", "NumChannels", "RawAlpha"),
)
def keras_prelu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node | Dropped:
    """max(0, X) + Alpha.*min(0, X): the built-in PReLU's semantics and Alpha layout (a
    scalar or one value per channel; other shapes are refused there). ChannelDim and
    NumChannels are derived from Alpha; RawAlpha is not used by predict."""
    if layer.array("Alpha") is None:
        raise layer.error("has no Alpha.")
    return prelu(layer, inputs)
