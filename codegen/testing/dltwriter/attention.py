"""Transformer pieces: self-attention, attention, position and word embeddings, 1-D indexing.

SelfAttentionLayer, PositionEmbeddingLayer and Indexing1DLayer copy the schema of the
real ``tsx_transformer_demo.mat`` exactly (its faithful rebuild is a test). AttentionLayer,
WordEmbeddingLayer and EmbeddingConcatenationLayer have no real sample: their schemas are
inferred from MATLAB's documented property names and the closest real class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import (
    CUSTOM_LAYER_DEFAULTS,
    DltObject,
    Layer,
    bias_learnable,
    builtin_layer,
    custom_layer,
    glorot_dense,
    initializer,
    learnable,
    weight_learnable,
)
from codegen.testing.dltwriter.values import (
    char,
    char_or_double,
    double,
    empty,
    logical,
    single,
    string,
)

_PROJECTIONS = ("Query", "Key", "Value", "Output")
_TEMPORAL = "nnet.internal.cnn.util.positionencoding.TemporalPositionStrategy"
_INDEXING_DEFAULTS = {
    "Index": string("first"),
    "HasPaddingMaskInput": logical(False),
    **CUSTOM_LAYER_DEFAULTS,
}


def _attention_options(
    attention_mask: str | np.ndarray,
    dropout_probability: float,
    has_padding_mask_input: bool,
    has_scores_output: bool,
) -> dict[str, Any]:
    """The masking and output options self-attention and attention layers share."""
    mask = (
        char(attention_mask)
        if isinstance(attention_mask, str)
        else np.asarray(attention_mask, np.float64)
    )
    return {
        "AttentionMask": mask,
        "DropoutProbability": double(dropout_probability),
        "HasPaddingMaskInput": logical(has_padding_mask_input),
        "HasScoresOutput": logical(has_scores_output),
    }


def self_attention(
    name: str,
    projections: Mapping[str, np.ndarray],
    num_heads: int,
    attention_mask: str | np.ndarray = "none",
    has_padding_mask_input: bool = False,
    *,
    dropout_probability: float = 0.0,
    has_scores_output: bool = False,
) -> Layer:
    """SelfAttentionLayer v1, as in tsx_transformer_demo.mat. ``projections`` maps
    QueryWeights/KeyWeights/ValueWeights (dk×C, dk×C, dv×C), OutputWeights (out×dv) and
    the four biases (any shape with the right count, stored as a column) to arrays.
    ``attention_mask`` is 'none', 'causal' or a keys×queries array (array: inferred)."""
    dk, channels = np.shape(projections["QueryWeights"])
    rows = {"Query": dk, "Key": dk, "Value": np.shape(projections["ValueWeights"])[0]}
    rows["Output"] = np.shape(projections["OutputWeights"])[0]
    fields = {
        "Name": char(name),
        "InputSize": double(channels),
        "NumKeyChannels": double(dk),
        "NumValueChannels": double(rows["Value"]),
        "NumHeads": double(num_heads),
        **_attention_options(
            attention_mask,
            dropout_probability,
            has_padding_mask_input,
            has_scores_output,
        ),
        "OutputSize": double(rows["Output"]),
    }
    for part in _PROJECTIONS:
        fields[f"{part}Weights"] = weight_learnable(
            projections[f"{part}Weights"], glorot_dense()
        )
    for part in _PROJECTIONS:
        fields[f"{part}Bias"] = bias_learnable(
            projections[f"{part}Bias"], (rows[part], 1)
        )
    return builtin_layer("SelfAttentionLayer", fields)


def attention_layer(
    name: str,
    num_heads: int,
    scale: float | None = None,
    attention_mask: str = "none",
    *,
    dropout_probability: float = 0.0,
    has_padding_mask_input: bool = False,
    has_scores_output: bool = False,
) -> Layer:
    """AttentionLayer (query, key and value inputs) — schema inferred, no real sample
    (SelfAttentionLayer's options plus Scale, 'auto' when ``None``)."""
    fields = {
        "Name": char(name),
        "NumHeads": double(num_heads),
        "Scale": char_or_double("auto" if scale is None else scale),
        **_attention_options(
            attention_mask,
            dropout_probability,
            has_padding_mask_input,
            has_scores_output,
        ),
    }
    return builtin_layer("AttentionLayer", fields)


def position_embedding(
    name: str, weights: Any, *, weights_initializer: str = "narrow-normal"
) -> Layer:
    """PositionEmbeddingLayer v1 for positions along time, as in tsx_transformer_demo.mat:
    an ``nnet.layer.Layer`` subclass saved through saveobj (``any``), Weights a plain
    single OutputSize×MaxPosition array, and the nested TemporalPositionStrategy object.
    """
    matrix = single(weights)
    strategy = DltObject(
        _TEMPORAL,
        {
            "EmptyDimensionID": char(
                "nnet_cnn:layer:PositionEmbeddingLayer:EmptyTemporalDim"
            ),
            "MissingDimensionID": char(
                "nnet_cnn:layer:PositionEmbeddingLayer:TemporalPositionDimMismatch"
            ),
        },
        {},
    )
    fields = {
        "Name": char(name),
        "OutputSize": double(matrix.shape[0]),
        "MaxPosition": double(matrix.shape[1]),
        "PositionDimension": char("auto"),
        "Weights": matrix,
        "WeightsInitializer": char(weights_initializer),
        "WeightLearnRateFactor": double(1),
        "WeightL2Factor": double(1),
        "PositionStrategy": strategy,
    }
    return builtin_layer(
        "PositionEmbeddingLayer", fields, defaults=CUSTOM_LAYER_DEFAULTS
    )


def embedding_concatenation(
    name: str, weights: Any, *, weights_initializer: str = "narrow-normal"
) -> Layer:
    """EmbeddingConcatenationLayer (R2023b) — schema inferred, no real sample: like
    PositionEmbeddingLayer of the same release (an ``nnet.layer.Layer`` subclass saved
    through saveobj, Weights a plain single array), Weights one value per channel (C×1);
    ``None`` stores an uninitialized layer's empty Weights."""
    fields = {
        "Name": char(name),
        "Weights": (
            empty() if weights is None else single(np.asarray(weights).reshape(-1, 1))
        ),
        "WeightsInitializer": char(weights_initializer),
        "WeightLearnRateFactor": double(1),
        "WeightL2Factor": double(1),
    }
    return builtin_layer(
        "EmbeddingConcatenationLayer", fields, defaults=CUSTOM_LAYER_DEFAULTS
    )


def indexing1d(
    name: str, index: str | int = "last", has_padding_mask_input: bool = False
) -> Layer:
    """Indexing1DLayer as in tsx_transformer_demo.mat: plain properties; Index is a MATLAB
    string ('last', 'first') or a 1-based time step (a double: inferred). Like MATLAB, a
    property equal to its class default ('first', no padding mask) is not saved."""
    own: dict[str, Any] = {}
    if index != "first":
        own["Index"] = string(index) if isinstance(index, str) else double(index)
    if has_padding_mask_input:
        own["HasPaddingMaskInput"] = logical(True)
    private = {"PrivateNumStates": double(0)}
    return custom_layer(
        "Indexing1DLayer",
        own,
        name,
        "1-D indexing",
        "1-D Indexing",
        private=private,
        defaults=_INDEXING_DEFAULTS,
    )


def word_embedding(
    name: str, weights: Any, num_words: int, oov_mode: str | None = "map-to-last"
) -> Layer:
    """WordEmbeddingLayer — schema inferred, no real sample (documented properties).
    Weights Dimension×NumWords (plus one out-of-vocabulary column for 'map-to-last').
    ``oov_mode`` None writes the older schema without OOVMode (before R2023b)."""
    fields = {
        "Name": char(name),
        "Dimension": double(np.shape(weights)[0]),
        "NumWords": double(num_words),
        "OOVMode": char(oov_mode or ""),
        "Weights": learnable(weights, 1.0, initializer("Zeros")),
    }
    return builtin_layer(
        "WordEmbeddingLayer", fields, version=1 if oov_mode is None else 2
    )
