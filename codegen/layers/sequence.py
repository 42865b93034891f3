"""Sequence layers: attention, position and word embeddings, 1-D indexing, layer
normalization and flatten.

Sequences are batch first, (N, T, C): channel-wise layers (fully connected, layer norm over
channels, softmax) act per time step on the last dimension. Attention splits its query,
key and value channels into heads as contiguous blocks, which is how MATLAB splits them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import (
    FEATURE,
    IMAGE,
    IMAGE_SEQUENCE,
    SEQUENCE,
    VOLUME,
    Node,
    TensorInfo,
)
from codegen.layers.common import channels_of, f32, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import Dropped, register


def _sequence_input(
    layer: LayerRecord, inputs: Sequence[TensorInfo], what: str = ""
) -> TensorInfo:
    if not inputs or inputs[0].layout != SEQUENCE:
        got = inputs[0].describe() if inputs else "nothing"
        raise layer.error(
            f"expects a sequence (C×T) input{what} but receives {got}; mat2torch supports this layer on sequences only."
        )
    return inputs[0]


def _channels(layer: LayerRecord, info: TensorInfo, key: str = "InputSize") -> int:
    size = info.channels
    stored = layer.ints(key)
    if size is None and stored:
        size = stored[-1]
    if size is None:
        raise layer.error(
            "has an unknown input size; give the network's input layer an InputSize."
        )
    return int(size)


def _matrix(
    layer: LayerRecord, key: str, rows: int | None, cols: int
) -> np.ndarray | None:
    """A stored (rows, cols) weight matrix, as float32 in PyTorch's (out, in) layout."""
    value = layer.array(key)
    if value is None:
        return None
    if rows is None:
        rows = value.size // cols
    if value.size != rows * cols:
        raise layer.error(f"stores {key} with {value.size} values, not {rows}×{cols}.")
    return f32(np.asarray(value).reshape((rows, cols), order="F"))


def _vector(layer: LayerRecord, key: str, size: int) -> np.ndarray | None:
    value = layer.array(key)
    if value is None:
        return None
    if value.size != size:
        raise layer.error(f"stores {key} with {value.size} values, not {size}.")
    return f32(np.asarray(value).reshape(size, order="F"))


def _padding_mask(layer: LayerRecord, inputs: Sequence[TensorInfo], count: int) -> bool:
    """HasPaddingMaskInput: the last input is MATLAB's padding mask (1 = data, 0 = padding)."""
    if not layer.flag("HasPaddingMaskInput"):
        return False
    if len(inputs) != count + 1:
        raise layer.error(
            f"has HasPaddingMaskInput set but receives {len(inputs)} inputs instead of {count + 1}; connect its mask input."
        )
    return True


def _attention_mask(layer: LayerRecord) -> tuple[bool, dict[str, np.ndarray]]:
    """AttentionMask: 'none', 'causal', or a custom array (stored Nk×Nq, 1 = may attend).

    Returns whether it is causal and the node's buffers: a custom mask is buffer 'mask'.
    """
    text = layer.text("AttentionMask")
    if text is not None:
        mode = text.lower() or "none"
        if mode not in ("none", "causal"):
            raise layer.error(
                f"uses AttentionMask '{text}'; mat2torch supports 'none', 'causal' or an array."
            )
        return mode == "causal", {}
    value = layer.raw("AttentionMask", None)
    if value is None or np.asarray(value).size == 0:
        return False, {}
    array = np.asarray(value)
    if array.dtype.kind not in "biuf" or array.ndim != 2:
        raise layer.error(
            "stores an AttentionMask that is neither 'none', 'causal' nor a keys×queries matrix; mat2torch cannot use it."
        )
    # MATLAB: keys × queries; PyTorch's attention wants queries × keys.
    return False, {"mask": f32(array.T != 0)}


def _embedding(
    layer: LayerRecord, rows: int, cols: int
) -> dict[str, np.ndarray | None]:
    """Weights stored one embedding per column (rows × cols) as nn.Embedding's (cols, rows) weight."""
    matrix = _matrix(layer, "Weights", rows, cols)
    return {"weight": None if matrix is None else f32(matrix.T)}


def _scores_output(layer: LayerRecord) -> None:
    if layer.flag("HasScoresOutput"):
        raise layer.error(
            "has HasScoresOutput set; mat2torch does not export attention scores — set HasScoresOutput to false in MATLAB."
        )


@register(
    "nnet.cnn.layer.SelfAttentionLayer",
    ops=("self_attention",),
    input_names=("in", "mask"),
    versions=(1,),
)
def self_attention(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = _sequence_input(layer, inputs)
    _scores_output(layer)
    channels = _channels(layer, info)
    heads = layer.integer("NumHeads") or 1
    key_weights = layer.array("KeyWeights")
    value_weights = layer.array("ValueWeights")
    output_weights = layer.array("OutputWeights")
    key_channels = (layer.integer("NumKeyChannels") or 0) or (
        key_weights.shape[0] if key_weights is not None else 0
    )
    value_channels = (layer.integer("NumValueChannels") or 0) or (
        value_weights.shape[0] if value_weights is not None else key_channels
    )
    output_size = (layer.integer("OutputSize") or 0) or (
        output_weights.shape[0] if output_weights is not None else channels
    )
    if not key_channels:
        raise layer.error("has no NumKeyChannels.")
    if key_channels % heads or value_channels % heads:
        raise layer.error(
            f"has {key_channels} key and {value_channels} value channels, which do not split into {heads} heads."
        )
    causal, buffers = _attention_mask(layer)
    padding = _padding_mask(layer, inputs, 1)
    params = {
        "query.weight": _matrix(layer, "QueryWeights", key_channels, channels),
        "query.bias": _vector(layer, "QueryBias", key_channels),
        "key.weight": _matrix(layer, "KeyWeights", key_channels, channels),
        "key.bias": _vector(layer, "KeyBias", key_channels),
        "value.weight": _matrix(layer, "ValueWeights", value_channels, channels),
        "value.bias": _vector(layer, "ValueBias", value_channels),
        "output.weight": _matrix(layer, "OutputWeights", output_size, value_channels),
        "output.bias": _vector(layer, "OutputBias", output_size),
    }
    attrs = {
        "input_size": channels,
        "key_channels": key_channels,
        "value_channels": value_channels,
        "output_size": output_size,
        "num_heads": heads,
        "causal": causal,
        "padding_mask": padding,
        "uses_lengths": True,
    }
    comment = f"{heads} heads, each a contiguous block of {key_channels // heads} query/key channels, as MATLAB splits them"
    out = TensorInfo(SEQUENCE, (output_size,))
    return layer_node(
        layer,
        "self_attention",
        out,
        attrs,
        params=params,
        buffers=buffers,
        comment=comment,
    )


@register(
    "nnet.cnn.layer.AttentionLayer",
    ops=("attention",),
    input_names=("query", "key", "value", "mask"),
    versions=(1,),
)
def attention(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    if len(inputs) < 3 or any(i.layout != SEQUENCE for i in inputs[:3]):
        got = ", ".join(i.describe() for i in inputs) or "nothing"
        raise layer.error(f"expects query, key and value sequences but receives {got}.")
    _scores_output(layer)
    heads = layer.integer("NumHeads") or 1
    scale = layer.num("Scale")  # 'auto' (text) → None: 1/sqrt(channels per head)
    causal, buffers = _attention_mask(layer)
    padding = _padding_mask(layer, inputs, 3)
    query, key, value = inputs[:3]
    for info, what in ((query, "query"), (key, "key"), (value, "value")):
        if info.channels is not None and info.channels % heads:
            raise layer.error(
                f"receives {info.channels} {what} channels, which do not split into {heads} heads."
            )
    attrs = {
        "num_heads": heads,
        "scale": scale,
        "causal": causal,
        "padding_mask": padding,
        "uses_lengths": True,
    }
    return layer_node(
        layer,
        "attention",
        TensorInfo(SEQUENCE, (value.channels,)),
        attrs,
        buffers=buffers,
    )


@register(
    "nnet.cnn.layer.PositionEmbeddingLayer", ops=("position_embedding",), versions=(1,)
)
def position_embedding(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    _sequence_input(layer, inputs)
    dimension = (layer.text("PositionDimension", "auto") or "auto").lower()
    if dimension not in ("auto", "temporal"):
        raise layer.error(
            f"embeds PositionDimension '{dimension}'; mat2torch supports positions along time only."
        )
    output_size = layer.integer("OutputSize") or 0
    max_position = layer.integer("MaxPosition") or 0
    weights = layer.array("Weights")
    if weights is not None and not (output_size and max_position):
        output_size, max_position = weights.shape[0], weights.shape[1]
    if not (output_size and max_position):
        raise layer.error("has no OutputSize or MaxPosition.")
    return layer_node(
        layer,
        "position_embedding",
        TensorInfo(SEQUENCE, (output_size,)),
        {"max_position": max_position, "output_size": output_size},
        params=_embedding(layer, output_size, max_position),
        comment="MATLAB Weights (OutputSize, MaxPosition) transposed; outputs each time step's embedding",
    )


@register("nnet.cnn.layer.WordEmbeddingLayer", ops=("word_embedding",), versions=(1, 2))
def word_embedding(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = _sequence_input(layer, inputs, " of word indices")
    if info.channels not in (None, 1):
        raise layer.error(
            f"expects one channel of word indices but receives {info.channels}."
        )
    weights = layer.array("Weights")
    dimension = (layer.integer("Dimension") or 0) or (
        weights.shape[0] if weights is not None else 0
    )
    num_words = layer.integer("NumWords") or 0
    if not dimension or not num_words:
        raise layer.error("has no Dimension or NumWords.")
    oov_mode = (layer.text("OOVMode", "map-to-last") or "map-to-last").lower()
    if oov_mode not in ("map-to-last", "error"):
        raise layer.error(
            f"uses OOVMode '{oov_mode}'; only 'map-to-last' and 'error' exist."
        )
    # MATLAB keeps one column per word, plus the out-of-vocabulary vector when it maps to it.
    columns = (
        weights.size // dimension
        if weights is not None
        else num_words + (oov_mode == "map-to-last")
    )
    if columns not in (num_words, num_words + 1):
        raise layer.error(
            f"stores {columns} embedding vectors for NumWords {num_words}."
        )
    oov = columns - 1 if oov_mode == "map-to-last" else None
    return layer_node(
        layer,
        "word_embedding",
        TensorInfo(SEQUENCE, (dimension,)),
        {
            "num_embeddings": columns,
            "dimension": dimension,
            "num_words": num_words,
            "oov": oov,
        },
        params=_embedding(layer, dimension, columns),
        comment="MATLAB Weights (Dimension, words) transposed; MATLAB's word indices are 1-based",
    )


@register(
    "nnet.cnn.layer.Indexing1DLayer",
    ops=("indexing1d",),
    input_names=("in", "mask"),
    versions=(1,),
    properties=("Index", "HasPaddingMaskInput"),
)
def indexing1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = _sequence_input(layer, inputs)
    text = layer.text("Index")
    index: int | None = None
    if text is None:
        number = layer.num("Index")
        if number is None:
            raise layer.error("has no Index.")
        index = int(number)
    elif text.strip().lower() != "last":
        if not text.strip().isdigit():
            raise layer.error(
                f"uses Index '{text}'; mat2torch supports 'last' or a time step number."
            )
        index = int(text.strip())
    if index is not None and index < 1:
        raise layer.error(f"uses Index {index}; MATLAB time steps start at 1.")
    padding = _padding_mask(layer, inputs, 1)
    attrs = {"index": index, "padding_mask": padding, "uses_lengths": index is None}
    comment = "" if index is None else f"MATLAB time step {index} (1-based)"
    return layer_node(
        layer, "indexing1d", TensorInfo(FEATURE, info.shape), attrs, comment=comment
    )


@register("nnet.cnn.layer.LayerNormalizationLayer", ops=("layer_norm",), versions=(1,))
def layer_norm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    channels = channels_of(layer, info)
    dimension = (layer.text("OperationDimension", "auto") or "auto").lower()
    if dimension not in ("auto", "channel-only", "spatial-channel", "batch-excluded"):
        raise layer.error(
            f"uses OperationDimension '{dimension}', which mat2torch does not support."
        )
    if info.layout == VOLUME:
        raise layer.error(
            "receives a volume (C×D×H×W); layer normalization of volumes is not supported yet."
        )
    if info.layout == IMAGE_SEQUENCE:
        raise layer.error(
            "receives a sequence of images (C×H×W×T); layer normalization of image sequences is not supported yet."
        )
    # What MATLAB normalizes over, per observation, and the PyTorch construct for it.
    if info.layout == IMAGE:
        form = "channels_first" if dimension == "channel-only" else "group"
    elif info.layout == SEQUENCE and dimension == "batch-excluded":
        form = "sequence_all"
    else:
        form = "last"
    comments = {
        "last": "normalizes over channels at each time step",
        "channels_first": "normalizes over channels at each pixel",
        "group": "normalizes over C, H, W per observation (GroupNorm with one group), per-channel scale",
        "sequence_all": "'batch-excluded': normalizes over C and T per observation, per-channel scale",
    }
    attrs = {
        "num_channels": channels,
        "eps": layer.num("Epsilon", 1e-5, positive=True) or 1e-5,
        "form": form,
    }
    params = {
        "weight": _vector(layer, "Scale", channels),
        "bias": _vector(layer, "Offset", channels),
    }
    return layer_node(
        layer,
        "layer_norm",
        info,
        attrs,
        params=params,
        comment=f"MATLAB layer normalization {comments[form]}",
    )


@register("nnet.cnn.layer.FlattenLayer", ops=("flatten",), versions=(1,))
def flatten(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node | Dropped:
    info = inputs[0]
    if info.layout not in (IMAGE, VOLUME, IMAGE_SEQUENCE):
        # Features and sequences of vectors are already flat: MATLAB's flatten changes nothing.
        return Dropped()
    size = (
        None if None in info.shape else int(np.prod([int(s or 0) for s in info.shape]))
    )
    if info.layout == IMAGE_SEQUENCE:
        # (N, T, C, H, W) → (N, T, C·H·W): each time step flattens like an image.
        return layer_node(
            layer,
            "flatten",
            TensorInfo(SEQUENCE, (size,)),
            {"per_time_step": True},
            comment="MATLAB flattens H, W, C column-major (h fastest) at each time step: "
            "swap H and W before torch.flatten",
        )
    spatial = "H, W, C" if info.layout == IMAGE else "H, W, D, C"
    node = layer_node(
        layer,
        "flatten",
        TensorInfo(FEATURE, (size,)),
        comment=f"MATLAB flattens {spatial} column-major (h fastest): "
        "swap H and W before torch.flatten",
    )
    node.attrs["dims"] = len(info.shape) + 1
    return node
