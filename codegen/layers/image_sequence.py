"""Sequence folding and unfolding: MATLAB's classic CNN + LSTM pattern for image sequences.

``sequenceFoldingLayer`` turns a batch of image sequences into a batch of images so that
2-D layers act on every time step independently; its second output, ``miniBatchSize``,
carries N to the matching ``sequenceUnfoldingLayer``, which restores the sequences. In
PyTorch both are reshapes of the leading dimensions: (N, T, C, H, W) → (N·T, C, H, W) →
(N, T, C', H', W'). The order of the N·T images inside the fold does not matter — every
layer between the two acts on each image alone, and the unfold undoes the same flatten.

Saved schema of both classes: inferred (no real sample), see
codegen/testing/dltwriter/image_sequence.py; only Name is read here.
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import FEATURE, IMAGE, IMAGE_SEQUENCE, SEQUENCE, Node, TensorInfo
from codegen.layers.common import layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register

# MATLAB's port names of the two layers.
FOLD_OUTPUTS = ("out", "miniBatchSize")
UNFOLD_INPUTS = ("in", "miniBatchSize")

# What the 'miniBatchSize' output is in the IR: a Python int in forward, one number.
BATCH_SIZE = TensorInfo(FEATURE, (1,))


@register("nnet.cnn.layer.SequenceFoldingLayer", ops=("sequence_fold",), versions=(1,))
def sequence_folding(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0] if inputs else None
    if info is None or info.layout != IMAGE_SEQUENCE:
        got = info.describe() if info else "nothing"
        raise layer.error(
            f"expects a sequence of images (C×H×W×T) but receives {got}; mat2torch folds image sequences only."
        )
    images = TensorInfo(IMAGE, info.shape)
    return layer_node(
        layer,
        "sequence_fold",
        images,
        {"output_ports": FOLD_OUTPUTS, "output_infos": [images, BATCH_SIZE]},
        forward_comment="MATLAB sequence folding: every time step becomes an image, "
        "(N, T, C, H, W) → (N·T, C, H, W); miniBatchSize = N for the unfolding layer",
    )


@register(
    "nnet.cnn.layer.SequenceUnfoldingLayer",
    ops=("sequence_unfold",),
    input_names=UNFOLD_INPUTS,
    versions=(1,),
)
def sequence_unfolding(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    if len(inputs) != 2:
        raise layer.error(
            "has no miniBatchSize input connected; connect the 'miniBatchSize' output of the "
            "matching sequence folding layer to it in MATLAB."
        )
    info, batch = inputs
    if batch != BATCH_SIZE:
        raise layer.error(
            f"receives {batch.describe()} at its miniBatchSize input, which must come from the "
            "'miniBatchSize' output of a sequence folding layer."
        )
    # Images unfold into image sequences; what a fully connected layer made of them
    # (MATLAB's 1×1×C×(N·T)) unfolds into a sequence of vectors.
    if info.layout == IMAGE:
        out = TensorInfo(IMAGE_SEQUENCE, info.shape)
    elif info.layout == FEATURE:
        out = TensorInfo(SEQUENCE, info.shape)
    else:
        raise layer.error(
            f"expects the folded images of a sequence folding layer but receives {info.describe()}."
        )
    return layer_node(
        layer,
        "sequence_unfold",
        out,
        forward_comment="MATLAB sequence unfolding: (N·T, ...) back to (N, T, ...)",
    )
