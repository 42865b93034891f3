"""Batch normalization (eval-mode running statistics = MATLAB's trained ones)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import FEATURE, IMAGE, Node, TensorInfo
from codegen.layers.common import channels_of, f32, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


@register("nnet.cnn.layer.BatchNormalizationLayer", ops=("batchnorm",))
def batchnorm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    channels = channels_of(layer, info)
    if info.layout not in (IMAGE, FEATURE):
        raise layer.error(
            f"receives {info.describe()}; batch normalization of sequences is not supported yet."
        )

    def vec(key: str) -> np.ndarray | None:
        value = layer.array(key)
        return None if value is None else f32(np.asarray(value).reshape(channels))

    params: dict[str, np.ndarray | None] = {
        "weight": vec("Scale"),
        "bias": vec("Offset"),
        "running_mean": vec("TrainedMean"),
        "running_var": vec("TrainedVariance"),
    }
    trained = params["running_mean"] is not None
    params["num_batches_tracked"] = np.array(0, dtype=np.int64) if trained else None
    attrs = {
        "num_features": channels,
        "eps": float(layer.num("Epsilon", 1e-5) or 1e-5),
        "dims": 2 if info.layout == IMAGE else 1,
    }
    return layer_node(layer, "batchnorm", info, attrs, params=params)
