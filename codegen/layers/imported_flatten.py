"""The flattens of MATLAB's Keras, TensorFlow and ONNX importers: row-major (C-style)
orders, unlike MATLAB's own flattenLayer (column-major, h fastest), so the fully
connected layer after them sees its inputs in the order the original framework used.
From MathWorks' class files (see :mod:`codegen.layers.imported` for the rest):

* ``nnet.keras.layer.FlattenCStyleLayer.predict`` flattens in Keras' row-major
  (C-style) order: H×W×C×N (format SSCB) is permuted to C×W×H×N and reshaped to
  1×1×HWC×N, so output index k = (h·W + w)·C + c; H×W×D×C×N (SSSCB) is permuted to
  C×D×W×H×N and reshaped to 1×1×1×K×N; C×N×T (CBT) is permuted to C×T×N and reshaped
  to (C·T)×N (format CB); CB passes unchanged. Other formats (SCB, and image sequences,
  whose only accepted form SSCT has no batch) are refused. The order differs from
  MATLAB's own flattenLayer (h fastest): an FC after it sees its inputs in Keras' order.
* ``nnet.keras.layer.FlattenCStyleTFLayer`` (the TensorFlow importer's) permutes the
  same way and always returns CB; it also takes image sequences H×W×C×N×T (SSCBT),
  permuted to C×W×H×T×N and reshaped to (H·W·C·T)×N.
* ``nnet.keras.layer.TimeDistributedFlattenCStyleLayer`` (between sequence folding and
  unfolding) flattens the folded H×W×C×(N·T) images the same way to (H·W·C)×(N·T), CB;
  CB passes unchanged.
* ``nnet.onnx.layer.FlattenLayer`` (MATLAB Coder's redirect
  ``coder.internal.layer.FlattenOnnxLayer``: permute(X, [2 1 3 4]) then reshape to
  1×1×HWC×N) flattens H×W×C×N row-major over (C, H, W), ONNX's NCHW order: exactly
  ``torch.flatten`` of (N, C, H, W); the output stays a 1×1 image.
  ``nnet.onnx.layer.FlattenInto2dLayer`` is the same flattening with a CB output (per
  MATLAB's TensorFlow exporter for the class: "SSCB --> CB", a row-major flatten of
  BCHW). Images are accepted, and feature vectors (a fully connected layer's 1×1×C×N
  output), which they leave as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import (
    FEATURE,
    IMAGE,
    IMAGE_SEQUENCE,
    SEQUENCE,
    VOLUME,
    Node,
    TensorInfo,
)
from codegen.layers.common import layer_node
from codegen.layers.imported import BASE_VERSION, KERAS, ONNX, product, refuse
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _unchanged(layer: LayerRecord, info: TensorInfo) -> Node:
    """Format CB: predict returns X as it is (a flatten of vectors reorders nothing)."""
    return layer_node(
        layer,
        "flatten_c_order",
        info,
        {"permute": None, "singletons": 0},
        forward_comment="Keras flatten of feature vectors: nothing to reorder",
    )


@register(
    KERAS + "FlattenCStyleLayer",
    ops=("flatten_c_order",),
    versions=BASE_VERSION,
    properties=(),
)
def keras_flatten(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout == FEATURE:
        return _unchanged(layer, info)
    size = product(info.shape)
    if info.layout == IMAGE:
        return layer_node(
            layer,
            "flatten_c_order",
            TensorInfo(IMAGE, (size, 1, 1)),
            {"permute": (0, 2, 3, 1), "singletons": 2},
            forward_comment="Keras flatten (C-style over H, W, C; channels fastest), "
            "kept as a 1×1 image like MATLAB",
        )
    if info.layout == VOLUME:
        return layer_node(
            layer,
            "flatten_c_order",
            TensorInfo(VOLUME, (size, 1, 1, 1)),
            {"permute": (0, 3, 4, 2, 1), "singletons": 3},
            forward_comment="Keras flatten (C-style over MATLAB's H, W, D, C; channels "
            "fastest), kept as a 1×1×1 volume like MATLAB",
        )
    if info.layout == SEQUENCE:
        # (N, T, C) flattened is t·C + c: MATLAB's permute of C×N×T to C×T×N.
        return layer_node(
            layer,
            "flatten_c_order",
            TensorInfo(FEATURE, (None,)),
            {"permute": None, "singletons": 0},
            forward_comment="Keras flatten of a sequence: time steps one after another, "
            "channels fastest",
        )
    raise refuse(
        layer,
        info,
        "images (SSCB), volumes (SSSCB), sequences of vectors (CBT) and features (CB)",
    )


@register(
    KERAS + "FlattenCStyleTFLayer",
    ops=("flatten_c_order",),
    versions=BASE_VERSION,
    properties=(),
)
def keras_flatten_tf(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """The TensorFlow importer's flatten: FlattenCStyleLayer's orders, always a CB
    output; image sequences (SSCBT) flatten time steps outermost, channels fastest."""
    info = inputs[0]
    if info.layout == FEATURE:
        return _unchanged(layer, info)
    permutes = {
        IMAGE: ((0, 2, 3, 1), "over H, W, C"),
        VOLUME: ((0, 3, 4, 2, 1), "over MATLAB's H, W, D, C"),
        SEQUENCE: (None, "over T, C"),
        IMAGE_SEQUENCE: ((0, 1, 3, 4, 2), "over T, H, W, C"),
    }
    if info.layout not in permutes:
        raise refuse(layer, info, "images, volumes, sequences and features")
    permute, order = permutes[info.layout]
    size = product(info.shape) if info.layout in (IMAGE, VOLUME) else None
    return layer_node(
        layer,
        "flatten_c_order",
        TensorInfo(FEATURE, (size,)),
        {"permute": permute, "singletons": 0},
        forward_comment=f"TensorFlow flatten (C-style {order}; channels fastest)",
    )


@register(
    KERAS + "TimeDistributedFlattenCStyleLayer",
    ops=("flatten_c_order",),
    versions=BASE_VERSION,
    properties=(),
)
def keras_time_distributed_flatten(
    layer: LayerRecord, inputs: Sequence[TensorInfo]
) -> Node:
    """Keras' TimeDistributed(Flatten()) between sequence folding and unfolding: the
    folded images H×W×C×(N·T) flattened C-style to (H·W·C)×(N·T) (format CB)."""
    info = inputs[0]
    if info.layout == FEATURE:
        return _unchanged(layer, info)
    if info.layout != IMAGE:
        raise refuse(
            layer, info, "images (folded image sequences, SSCB) and features (CB)"
        )
    return layer_node(
        layer,
        "flatten_c_order",
        TensorInfo(FEATURE, (product(info.shape),)),
        {"permute": (0, 2, 3, 1), "singletons": 0},
        forward_comment="Keras flatten of each folded image (C-style over H, W, C; "
        "channels fastest)",
    )


@register(
    ONNX + "FlattenLayer",
    ONNX + "FlattenInto2dLayer",
    ops=("flatten_c_order",),
    versions=BASE_VERSION,
    properties=(),
)
def onnx_flatten(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """Images flatten row-major over C, H, W. Feature vectors (the 1×1×C×N output of a
    fully connected layer in an image network: MATLAB's ONNX importer puts a FlattenLayer
    before every Gemm) have nothing to reorder. Literally, the redirect's predict would
    mix the batch of a C×N array with N > 1 into one 1×1×(C·N) observation, which no
    following layer accepts; that case is taken to be the 1×1×C×N one."""
    info = inputs[0]
    if info.layout not in (IMAGE, FEATURE):
        # The redirect's predict reads four dimensions; what MATLAB's own class does
        # with other data was not seen.
        raise layer.error(
            f"receives {info.describe()}; mat2torch converts it for images (H×W×C×N) "
            "and feature vectors only, the data its predict is known for."
        )
    size = product(info.shape)
    into_2d = layer.short_class == "FlattenInto2dLayer"
    comment = (
        "ONNX flatten: row-major over C, H, W, as torch.flatten"
        if info.layout == IMAGE
        else "ONNX flatten of feature vectors: nothing to reorder"
    )
    return layer_node(
        layer,
        "flatten_c_order",
        TensorInfo(FEATURE, (size,)) if into_2d else TensorInfo(IMAGE, (size, 1, 1)),
        {"permute": None, "singletons": 0 if into_2d else 2},
        forward_comment=comment
        + ("" if into_2d else "; kept as a 1×1 image like MATLAB"),
    )
