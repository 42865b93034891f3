"""embeddingConcatenationLayer (R2023b): a learned vector put before the first time step
of a sequence — the class token of vision transformers.

MATLAB stores the vector as Weights, one value per channel, and concatenates it along the
sequence's time dimension in front of the input (MATLAB's TensorFlow exporter writes
``concat([embedding, input], axis=time)``): C×T in, C×(T + 1) out. The layer also takes a
single spatial dimension (SCB data, as a patch embedding layer makes); the IR has no
such layout, so only sequences are converted.

The output has one more step than the input, so per-sequence ``lengths`` no longer
describe it: forward refuses them, as the 1-D layers that change T do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import SEQUENCE, Node, TensorInfo
from codegen.layers.common import f32, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


@register(
    "nnet.cnn.layer.EmbeddingConcatenationLayer",
    ops=("embedding_concat",),
    versions=(1,),
)
def embedding_concatenation(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout != SEQUENCE:
        raise layer.error(
            f"receives {info.describe()}; mat2torch converts this layer on sequences "
            "(C×T) only, where MATLAB puts its embedding before the first time step."
        )
    stored = layer.array("Weights")
    weights = None if stored is None else np.asarray(stored, np.float64).ravel()
    channels = info.channels
    if weights is not None and channels is not None and weights.size != channels:
        raise layer.error(
            f"stores {weights.size} Weights for an input of {channels} channels; "
            "it needs one value per channel."
        )
    if channels is None:
        if weights is None:
            raise layer.error("stores no Weights and its input's channels are unknown.")
        channels = weights.size
    node = layer_node(
        layer,
        "embedding_concat",
        TensorInfo(SEQUENCE, (channels,)),
        {
            "channels": channels,
            "uses_lengths": True,
            "lengths_reason": f"MATLAB layer {layer.name!r} adds a time step before "
            "each sequence",
        },
        params={"weight": None if weights is None else f32(weights)},
        comment="MATLAB Weights: one value per channel, the embedding put before time step 1",
    )
    node.forward_comment = (
        "(N, T, C) → (N, T + 1, C): the learned embedding is the first time step"
    )
    return node
