"""Helpers for the sequence tests: write a network with the schema writer, convert it,
run it, and build the layer classes the writer has no builder for.

Layers built here follow the schema of the real tsx_transformer_demo.mat where it has the
class (SelfAttentionLayer, PositionEmbeddingLayer, Indexing1DLayer); WordEmbeddingLayer,
AttentionLayer and the HasStateInputs/HasStateOutputs fields of recurrent layers have no
real sample: their schema is inferred from MATLAB's documented property names.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from codegen.testing import dltwriter as dw
from tests.conftest import convert_and_load

_NNET = "nnet.cnn.layer."


def rel_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual − expected| / max |expected| (the brief's 'rel')."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-12))


def convert_network(tmp_path: Path, network: Any, variable: str = "net") -> tuple[ModuleType, torch.nn.Module]:
    """Save ``network`` like MATLAB would, convert it with the public API, load it strictly."""
    path = tmp_path / f"{variable}.mat"
    dw.write_mat(path, {variable: network})
    return convert_and_load(path, tmp_path / "out")


def to_torch(x: np.ndarray) -> torch.Tensor:
    """A MATLAB-layout sequence batch (C, N, T) as the model's (N, T, C)."""
    return torch.tensor(np.asarray(x).transpose(1, 2, 0), dtype=torch.float32)


def to_matlab(y: torch.Tensor) -> np.ndarray:
    """A model output back in MATLAB layout: (N, T, C) → (C, N, T), (N, C) → (C, N)."""
    a = y.detach().numpy().astype(np.float64)
    return a.transpose(2, 0, 1) if a.ndim == 3 else a.T


def run(model: torch.nn.Module, x: np.ndarray, *extra: torch.Tensor, **kwargs: Any) -> Any:
    with torch.no_grad():
        return model(to_torch(x), *extra, **kwargs)


def with_fields(layer: Any, **fields: Any) -> Any:
    """A built-in layer with extra (or replaced) fields in its ``any`` struct, in order."""
    record = layer.properties["any"]
    values = {name: record[name][0, 0] for name in record.dtype.names}
    values.update(fields)
    layer.properties["any"] = dw._struct(values)
    return layer


def _learnable(value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    return dw._learnable(value, 1.0, dw._initializer("Zeros"), shape)


def self_attention(
    name: str,
    weights: dict[str, np.ndarray],
    num_heads: int,
    attention_mask: str | np.ndarray = "none",
    has_padding_mask_input: bool = False,
) -> Any:
    """SelfAttentionLayer v1 with the field order of tsx_transformer_demo.mat."""
    dk, channels = weights["QueryWeights"].shape
    dv = weights["ValueWeights"].shape[0]
    out = weights["OutputWeights"].shape[0]
    mask = dw._char(attention_mask) if isinstance(attention_mask, str) else np.asarray(attention_mask, np.float64)
    fields = {
        "Version": dw._double(1),
        "Name": dw._char(name),
        "InputSize": dw._double(channels),
        "NumKeyChannels": dw._double(dk),
        "NumValueChannels": dw._double(dv),
        "NumHeads": dw._double(num_heads),
        "AttentionMask": mask,
        "DropoutProbability": dw._double(0.0),
        "HasPaddingMaskInput": dw._logical(has_padding_mask_input),
        "HasScoresOutput": dw._logical(False),
        "OutputSize": dw._double(out),
    }
    for key in ("QueryWeights", "KeyWeights", "ValueWeights", "OutputWeights"):
        fields[key] = _learnable(weights[key])
    for key, rows in (("QueryBias", dk), ("KeyBias", dk), ("ValueBias", dv), ("OutputBias", out)):
        fields[key] = _learnable(weights[key], (rows, 1))
    return dw._DltObject(_NNET + "SelfAttentionLayer", {"any": dw._struct(fields)}, dw._LAYER_DEFAULTS)


def attention_layer(name: str, num_heads: int, scale: float | None = None, attention_mask: str = "none") -> Any:
    """AttentionLayer — schema inferred (documented properties, no real sample)."""
    fields = {
        "Version": dw._double(1),
        "Name": dw._char(name),
        "NumHeads": dw._double(num_heads),
        "Scale": dw._char("auto") if scale is None else dw._double(scale),
        "AttentionMask": dw._char(attention_mask),
        "DropoutProbability": dw._double(0.0),
        "HasPaddingMaskInput": dw._logical(False),
        "HasScoresOutput": dw._logical(False),
    }
    return dw._DltObject(_NNET + "AttentionLayer", {"any": dw._struct(fields)}, dw._LAYER_DEFAULTS)


def _custom_layer(cls: str, name: str, props: dict[str, Any], description: str, kind: str) -> Any:
    properties = {
        "Name": dw._char(name),
        "Description": dw._char(description),
        "Type": dw._char(kind),
        "nnet.layer.Layer.PrivateInputs": dw._cell([dw._char("in")]),
        "nnet.layer.Layer.PrivateOutputs": dw._cell([dw._char("out")]),
        **props,
    }
    return dw._DltObject(_NNET + cls, properties, dw._CUSTOM_LAYER_DEFAULTS)


def position_embedding(name: str, weights: np.ndarray) -> Any:
    """PositionEmbeddingLayer with tsx_transformer_demo.mat's plain properties (Weights a
    plain OutputSize×MaxPosition array; the nested PositionStrategy object left out)."""
    props = {
        "OutputSize": dw._double(weights.shape[0]),
        "MaxPosition": dw._double(weights.shape[1]),
        "PositionDimension": dw._char("auto"),
        "Weights": np.asarray(weights, np.float32),
        "WeightsInitializer": dw._char("narrow-normal"),
        "WeightLearnRateFactor": dw._double(1),
        "WeightL2Factor": dw._double(1),
    }
    return _custom_layer("PositionEmbeddingLayer", name, props, "", "")


def indexing1d(name: str, index: str | int = "last", has_padding_mask_input: bool = False) -> Any:
    """Indexing1DLayer with tsx_transformer_demo.mat's plain properties."""
    value = dw._char(index) if isinstance(index, str) else dw._double(index)
    props = {"Index": value, "HasPaddingMaskInput": dw._logical(has_padding_mask_input)}
    return _custom_layer("Indexing1DLayer", name, props, "1-D indexing", "1-D Indexing")


def word_embedding(name: str, weights: np.ndarray, num_words: int, oov_mode: str | None = "map-to-last") -> Any:
    """WordEmbeddingLayer — schema inferred (documented properties, no real sample);
    ``oov_mode`` None leaves OOVMode out, as releases before R2023b would."""
    fields = {
        "Version": dw._double(1),
        "Name": dw._char(name),
        "Dimension": dw._double(weights.shape[0]),
        "NumWords": dw._double(num_words),
    }
    if oov_mode is not None:
        fields["OOVMode"] = dw._char(oov_mode)
    fields["Weights"] = _learnable(weights)
    return dw._DltObject(_NNET + "WordEmbeddingLayer", {"any": dw._struct(fields)}, dw._LAYER_DEFAULTS)
