"""Training-only output layers: they vanish from forward; what they know stays."""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import TensorInfo
from codegen.layers.record import LayerRecord, text_list
from codegen.layers.registry import ANY_VERSION, Dropped, register


@register(
    "nnet.cnn.layer.ClassificationOutputLayer",
    "nnet.cnn.layer.PixelClassificationLayer",
    "nnet.cnn.layer.DicePixelClassificationLayer",
    "nnet.cnn.layer.FocalLossLayer",
    # Object-detection training heads (Computer Vision Toolbox): losses, not inference.
    "nnet.cnn.layer.YOLOv2OutputLayer",
    "nnet.cnn.layer.RPNClassificationLayer",
    "nnet.cnn.layer.RCNNBoxRegressionLayer",
    ops=(),
    # Seen: ClassificationOutputLayer 3 and 4. The others have no sample; they leave
    # nothing in forward, and a missing Classes field only loses the class names.
    versions={
        "nnet.cnn.layer.ClassificationOutputLayer": (3, 4),
        "nnet.cnn.layer.PixelClassificationLayer": ANY_VERSION,
        "nnet.cnn.layer.DicePixelClassificationLayer": ANY_VERSION,
        "nnet.cnn.layer.FocalLossLayer": ANY_VERSION,
        "nnet.cnn.layer.YOLOv2OutputLayer": ANY_VERSION,
        "nnet.cnn.layer.RPNClassificationLayer": ANY_VERSION,
        "nnet.cnn.layer.RCNNBoxRegressionLayer": ANY_VERSION,
    },
)
def classification_output(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Dropped:
    names = text_list(layer.raw("Categories", None)) or text_list(
        layer.raw("Classes", None)
    )
    for k, name in enumerate(names):
        if not name:
            raise layer.error(
                f"stores an empty class name (class {k + 1} of {len(names)}), which MATLAB "
                "never saves: the file is damaged; re-save the network from MATLAB."
            )
    return Dropped(classes=tuple(names) or None)


@register("nnet.cnn.layer.RegressionOutputLayer", ops=(), versions=(2,))
def regression_output(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Dropped:
    names = text_list(layer.raw("ResponseNames", None))
    return Dropped(response_names=tuple(names) or None)
