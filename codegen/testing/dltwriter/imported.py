"""Layers of MATLAB's Keras, TensorFlow and ONNX importers (``nnet.keras.layer.*``,
``nnet.onnx.layer.*``) — schema inferred, no real sample.

They are ``nnet.layer.Layer`` subclasses written by MathWorks, so MATLAB saves them like
the user-defined layers of the corpus (mimo_trainedNet.mat's sigmoidLayer,
eeg_eegNet.mat's identityLayer): their own properties (the ones their class files
declare) followed by the Layer base class's Name, Description and Type and the
Learnable mixin's empty bookkeeping. Numbers the importers take from a model's
configuration (paddings, clip bounds) are stored as double scalars; arrays taken from a
model's weights (an ONNX affine layer's Scale and Offset) as single, in MATLAB layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import DltObject, Layer, custom_layer
from codegen.testing.dltwriter.values import double, logical

KERAS = "nnet.keras.layer."
ONNX = "nnet.onnx.layer."


def _importer_layer(
    classname: str, own: dict[str, Any], name: str, description: str, kind: str
) -> Layer:
    short = classname.rsplit(".", 1)[-1]
    layer = custom_layer(short, own, name, description, kind)
    return DltObject(classname, layer.properties, layer.class_defaults)


def keras_flatten_cstyle(name: str) -> Layer:
    """nnet.keras.layer.FlattenCStyleLayer: no properties of its own."""
    return _importer_layer(
        KERAS + "FlattenCStyleLayer", {}, name, "Flatten activations", "Flatten"
    )


def keras_flatten_cstyle_tf(name: str) -> Layer:
    """nnet.keras.layer.FlattenCStyleTFLayer (TensorFlow importer): no properties."""
    return _importer_layer(
        KERAS + "FlattenCStyleTFLayer", {}, name, "Flatten activations", "Flatten"
    )


def keras_time_distributed_flatten(name: str) -> Layer:
    """nnet.keras.layer.TimeDistributedFlattenCStyleLayer: no properties of its own."""
    return _importer_layer(
        KERAS + "TimeDistributedFlattenCStyleLayer",
        {},
        name,
        "Flatten activations",
        "Flatten",
    )


def keras_zero_padding2d(
    name: str, amounts: int | tuple[int, int] | tuple[int, int, int, int]
) -> Layer:
    """nnet.keras.layer.ZeroPadding2dLayer: Top, Bottom, Left, Right, as its constructor
    sets them from a scalar, [vertical horizontal] or [top bottom left right]."""
    values = (amounts,) if isinstance(amounts, int) else tuple(amounts)
    if len(values) == 1:
        top = bottom = left = right = values[0]
    elif len(values) == 2:
        top = bottom = values[0]
        left = right = values[1]
    else:
        top, bottom, left, right = values
    own = {
        "Top": double(top),
        "Bottom": double(bottom),
        "Left": double(left),
        "Right": double(right),
    }
    return _importer_layer(
        KERAS + "ZeroPadding2dLayer", own, name, "Zero padding", "Zero padding"
    )


def keras_zero_padding1d(name: str, left: int, right: int) -> Layer:
    """nnet.keras.layer.ZeroPadding1dLayer: leftPad and rightPad (the class's own
    lower-case property names)."""
    own = {"leftPad": double(left), "rightPad": double(right)}
    return _importer_layer(
        KERAS + "ZeroPadding1dLayer", own, name, "Zero padding", "Zero padding"
    )


def keras_clip(name: str, minimum: float, maximum: float) -> Layer:
    """nnet.keras.layer.ClipLayer: Min and Max, scalars."""
    own = {"Min": double(minimum), "Max": double(maximum)}
    return _importer_layer(
        KERAS + "ClipLayer", own, name, f"Clip to [{minimum}, {maximum}]", "Clip"
    )


def keras_softsign(name: str) -> Layer:
    """nnet.keras.layer.SoftsignLayer: no properties of its own."""
    return _importer_layer(KERAS + "SoftsignLayer", {}, name, "Softsign", "Softsign")


def keras_prelu(name: str, alpha: Any) -> Layer:
    """nnet.keras.layer.PreluLayer: Alpha (single, MATLAB layout: a scalar or 1×…×1×C)
    and the hidden ChannelDim and NumChannels its set.Alpha derives from it (0 and 1 for
    a scalar, else the dimension along which Alpha runs and its length); RawAlpha []."""
    array = np.asarray(alpha, dtype=np.float32)
    array = array.reshape(1, 1) if array.ndim < 2 else array
    if array.size == 1:
        channel_dim, channels = 0, 1
    else:
        channel_dim = int(np.flatnonzero(np.array(array.shape) != 1)[0]) + 1
        channels = int(array.size)
    own = {
        "Alpha": array,
        "ChannelDim": double(channel_dim),
        "NumChannels": double(channels),
        "RawAlpha": np.empty((0, 0)),
    }
    return _importer_layer(KERAS + "PreluLayer", own, name, "PReLU", "PReLU")


def importer_global_avg_pool2d(name: str, importer: str = "keras") -> Layer:
    """nnet.keras.layer.GlobalAveragePooling2dLayer (``importer`` 'keras') or
    nnet.onnx.layer.GlobalAveragePooling2dLayer ('onnx'): no properties of their own."""
    package = KERAS if importer == "keras" else ONNX
    return _importer_layer(
        package + "GlobalAveragePooling2dLayer",
        {},
        name,
        "Global average pooling",
        "GAP",
    )


def onnx_activation(
    name: str, kind: str, bounds: tuple[float, float] | None = None
) -> Layer:
    """nnet.onnx.layer.SigmoidLayer / TanhLayer ('sigmoid', 'tanh': no properties of
    their own) or ClipLayer ('clip': Min and Max, doubles, ±Inf where ONNX gave none).
    """
    if kind == "clip":
        low, high = bounds or (-np.inf, np.inf)
        own = {"Min": double(low), "Max": double(high)}
        return _importer_layer(ONNX + "ClipLayer", own, name, "Clip", "Clip")
    short = {"sigmoid": "SigmoidLayer", "tanh": "TanhLayer"}[kind]
    return _importer_layer(ONNX + short, {}, name, kind.title(), kind.title())


def onnx_identity(name: str) -> Layer:
    """nnet.onnx.layer.IdentityLayer: no properties of its own."""
    return _importer_layer(ONNX + "IdentityLayer", {}, name, "Identity", "Identity")


def onnx_verify_batch_size(name: str, batch_size: int = 1) -> Layer:
    """nnet.onnx.layer.VerifyBatchSizeLayer. Its stored properties were not seen: the
    expected batch size is written as ``BatchSize`` (inferred), which the converter
    does not read."""
    return _importer_layer(
        ONNX + "VerifyBatchSizeLayer",
        {"BatchSize": double(batch_size)},
        name,
        "Verify batch size",
        "Verify batch size",
    )


def keras_sigmoid(name: str) -> Layer:
    """nnet.keras.layer.SigmoidLayer: no properties of its own."""
    return _importer_layer(KERAS + "SigmoidLayer", {}, name, "Sigmoid", "Sigmoid")


def keras_tanh(name: str) -> Layer:
    """nnet.keras.layer.TanhLayer: no properties of its own."""
    return _importer_layer(KERAS + "TanhLayer", {}, name, "Tanh", "Tanh")


def onnx_flatten(name: str) -> Layer:
    """nnet.onnx.layer.FlattenLayer: no properties of its own."""
    return _importer_layer(ONNX + "FlattenLayer", {}, name, "Flatten", "Flatten")


def onnx_flatten_into_2d(name: str) -> Layer:
    """nnet.onnx.layer.FlattenInto2dLayer: no properties of its own."""
    return _importer_layer(
        ONNX + "FlattenInto2dLayer", {}, name, "Flatten into 2-D", "Flatten"
    )


def onnx_elementwise_affine(
    name: str, scale: Any = 1.0, offset: Any = 0.0, *, flags: bool = True
) -> Layer:
    """nnet.onnx.layer.ElementwiseAffineLayer: Scale and Offset (single, MATLAB layout)
    and, as its constructor sets them, DoScale = any(Scale(:) ~= 1) and DoOffset =
    any(Offset(:) ~= 0); ``flags=False`` leaves them out (an older form of the class).
    """

    def as_single(value: Any) -> np.ndarray:
        array = np.asarray(value, dtype=np.float32)
        return array.reshape(1, 1) if array.ndim < 2 else array

    own: dict[str, Any] = {"Scale": as_single(scale), "Offset": as_single(offset)}
    if flags:
        own["DoScale"] = logical(bool(np.any(own["Scale"] != 1)))
        own["DoOffset"] = logical(bool(np.any(own["Offset"] != 0)))
    return _importer_layer(
        ONNX + "ElementwiseAffineLayer", own, name, "Elementwise affine", "Affine"
    )
