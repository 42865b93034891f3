"""Normalization layers: batch normalization (real samples), layer, cross-channel (AlexNet,
GoogLeNet), group and instance normalization.

No real sample of a layer, cross-channel, group or instance normalization layer has been
seen: their builders are "schema inferred, no real sample", built-in
``nnet.cnn.layer.*`` classes in the pattern of the closest real class (a saveobj struct
in ``any``: Version 1, Name, then the documented properties in the documentation's
order; learnables as structs like BatchNormalizationLayer's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import (
    Layer,
    builtin_layer,
    initializer,
    learnable,
    saveobj_layer,
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


def cross_channel_norm(
    name: str,
    window_channel_size: int,
    alpha: float = 1e-4,
    beta: float = 0.75,
    k: float = 2.0,
) -> Layer:
    """CrossChannelNormalizationLayer — schema inferred, no real sample (LeakyReLULayer's
    pattern: Version 1, Name, then the documented WindowChannelSize, Alpha, Beta, K)."""
    fields = {
        "Name": char(name),
        "WindowChannelSize": double(window_channel_size),
        "Alpha": double(alpha),
        "Beta": double(beta),
        "K": double(k),
    }
    return saveobj_layer("CrossChannelNormalizationLayer", fields)


def _affine(
    offset: Any, scale: Any, for_images: bool
) -> tuple[int | None, dict[str, Any]]:
    """NumChannels and the learnable Offset (zeros initializer) and Scale (ones), stored
    1×1×C for images and C×1 for sequences and features, like LayerNormalizationLayer's.
    """
    sizes = {int(np.size(a)) for a in (offset, scale) if a is not None}
    if len(sizes) > 1:
        raise ValueError(f"Offset and Scale disagree on the channel count: {sizes}")
    n = sizes.pop() if sizes else None
    shape = (1, 1, n or 0) if for_images else (n or 0, 1)
    return n, {
        "Offset": learnable(offset, 1.0, initializer("Zeros"), shape),
        "Scale": learnable(scale, 1.0, initializer("Ones"), shape),
    }


def group_norm(
    name: str,
    num_groups: int | str,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-5,
    *,
    for_images: bool = True,
) -> Layer:
    """GroupNormalizationLayer — schema inferred, no real sample: Version 1, Name,
    NumGroups (a double, or the char 'all-channels' / 'channel-wise' as created),
    Epsilon, NumChannels, Offset, Scale."""
    n, learnables = _affine(offset, scale, for_images)
    fields = {
        "Name": char(name),
        "NumGroups": (
            char(num_groups) if isinstance(num_groups, str) else double(num_groups)
        ),
        "Epsilon": double(epsilon),
        "NumChannels": double(n),
        **learnables,
    }
    return saveobj_layer("GroupNormalizationLayer", fields)


def instance_norm(
    name: str,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-5,
    *,
    for_images: bool = True,
) -> Layer:
    """InstanceNormalizationLayer — schema inferred, no real sample: Version 1, Name,
    Epsilon, NumChannels, Offset, Scale."""
    n, learnables = _affine(offset, scale, for_images)
    fields = {
        "Name": char(name),
        "Epsilon": double(epsilon),
        "NumChannels": double(n),
        **learnables,
    }
    return saveobj_layer("InstanceNormalizationLayer", fields)
