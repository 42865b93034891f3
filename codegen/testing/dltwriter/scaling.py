"""The Reinforcement Learning Toolbox's scaling layer (actors) — schema inferred, no real
sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import DltObject, Layer, custom_layer


def scaling_layer(name: str, scale: Any = 1.0, bias: Any = 0.0) -> Layer:
    """rl.layer.ScalingLayer (Reinforcement Learning Toolbox ``scalingLayer``) — schema
    inferred, no real sample: an ``nnet.layer.Layer`` subclass with plain properties (like
    ELULayer), Scale and Bias double arrays in MATLAB layout (scalars 1×1)."""

    def as_double(value: Any) -> np.ndarray:
        array = np.asarray(value, dtype=np.float64)
        return array.reshape(1, 1) if array.ndim == 0 else array

    own = {"Scale": as_double(scale), "Bias": as_double(bias)}
    layer = custom_layer("ScalingLayer", own, name, "Scaling layer", "ScalingLayer")
    return DltObject("rl.layer.ScalingLayer", layer.properties, layer.class_defaults)
