"""Normalization layers: batch normalization (real samples) and layer normalization."""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import (
    Layer,
    builtin_layer,
    initializer,
    learnable,
)
from codegen.testing.dltwriter.values import char, double, empty, logical, single


def _channel_count(*arrays: Any) -> int | None:
    sizes = {int(np.size(a)) for a in arrays if a is not None}
    if len(sizes) > 1:
        raise ValueError(
            f"per-channel arrays disagree on the channel count: {sorted(sizes)}"
        )
    return sizes.pop() if sizes else None


def _affine_fields(
    name: str,
    epsilon: float,
    channels: int | None,
    offset: Any,
    scale: Any,
    shape: tuple[int, ...],
) -> dict[str, Any]:
    """What both normalizations store: epsilon, channel count, and the learnable Offset
    (zeros initializer) and Scale (ones), both with L2Factor 1."""
    return {
        "Name": char(name),
        "Epsilon": double(epsilon),
        "NumChannels": double(channels),
        "Offset": learnable(offset, 1.0, initializer("Zeros"), shape),
        "Scale": learnable(scale, 1.0, initializer("Ones"), shape),
    }


def batchnorm(
    name: str,
    mean: Any = None,
    var: Any = None,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-5,
    *,
    channel_dim: int | None = 3,
    mean_decay: float = 0.1,
    variance_decay: float = 0.1,
    version: int | None = None,
) -> Layer:
    """BatchNormalizationLayer (v3 default, v2). Per-channel arrays are stored 1×1×C.
    ``channel_dim`` is 3 in image networks trained with trainNetwork and ``None`` ([])
    in dlnetworks and untrained layers. NumTrainingSamples is stored as 0."""
    n = _channel_count(mean, var, offset, scale)
    shape = (1, 1, n or 0)
    fields = {
        **_affine_fields(name, epsilon, n, offset, scale, shape),
        "ChannelDim": double(channel_dim),
        "TrainedMean": empty() if mean is None else single(mean, shape),
        "TrainedVariance": empty() if var is None else single(var, shape),
        "MeanDecay": double(mean_decay),
        "VarianceDecay": double(variance_decay),
        "IsMovingAverageMode": logical(False),
        "NumTrainingSamples": double(0),
    }
    return builtin_layer("BatchNormalizationLayer", fields, version)


def layer_norm(
    name: str,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-5,
    *,
    operation_dimension: str = "auto",
    for_images: bool = True,
) -> Layer:
    """LayerNormalizationLayer — schema inferred, no real sample (BatchNormalizationLayer's
    learnables; Offset/Scale 1×1×C for images, C×1 for sequences and features)."""
    n = _channel_count(offset, scale)
    shape = (1, 1, n or 0) if for_images else (n or 0, 1)
    fields = {
        **_affine_fields(name, epsilon, n, offset, scale, shape),
        "OperationDimension": char(operation_dimension),
    }
    return builtin_layer("LayerNormalizationLayer", fields)
