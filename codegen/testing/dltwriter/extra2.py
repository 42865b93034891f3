"""Group and instance normalization, PReLU, softplus, depth-to-space and space-to-depth.

No real sample of any of these classes has been seen: every builder here is "schema
inferred, no real sample". Built-in ``nnet.cnn.layer.*`` classes follow the pattern of
the closest real class (a saveobj struct in ``any``: Version 1, Name, then the documented
properties in the documentation's order; learnables as structs like
BatchNormalizationLayer's); ``rl.layer.SoftplusLayer`` follows rl.layer.ScalingLayer
(plain properties). PReLULayer (R2024a) may well be saved with plain properties instead;
``prelu(..., plain_properties=True)`` writes that form so both can be tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import (
    LAYER_DEFAULTS,
    NNET,
    DltObject,
    Layer,
    custom_layer,
    initializer,
    learnable,
)
from codegen.testing.dltwriter.values import char, double, single, struct


def _saveobj_layer(cls: str, fields: Mapping[str, Any]) -> Layer:
    """A built-in layer whose saveobj struct (``any``) is Version 1 followed by ``fields``."""
    record = struct({"Version": double(1), **fields})
    return DltObject(NNET + cls, {"any": record}, LAYER_DEFAULTS)


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
    return _saveobj_layer("GroupNormalizationLayer", fields)


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
    return _saveobj_layer("InstanceNormalizationLayer", fields)


def prelu(
    name: str,
    alpha: Any = 0.25,
    *,
    shape: Sequence[int] | None = None,
    plain_properties: bool = False,
) -> Layer:
    """PReLULayer — schema inferred, no real sample. ``alpha`` in MATLAB layout (a scalar,
    1×1×C for images, C×1 for features and sequences, or ``shape`` to reshape it
    column-major); ``None`` stores an untrained layer's empty Alpha. By default a
    built-in saveobj struct (Version 1, Name, Alpha as a learnable struct); with
    ``plain_properties`` an ``nnet.layer.Layer`` subclass whose Alpha is a plain single
    array."""
    if not plain_properties:
        value = learnable(alpha, 1.0, initializer("Constant", (0.25,)), shape)
        return _saveobj_layer("PReLULayer", {"Name": char(name), "Alpha": value})
    stored = np.empty((0, 0)) if alpha is None else single(alpha, shape)
    return custom_layer("PReLULayer", {"Alpha": stored}, name, "PReLU", "PReLU")


def softplus(name: str, *, toolbox: str = "rl") -> Layer:
    """A softplus layer — schema inferred, no real sample. ``toolbox`` 'rl':
    rl.layer.SoftplusLayer (Reinforcement Learning Toolbox ``softplusLayer``), plain
    properties like rl.layer.ScalingLayer; 'dlt': nnet.cnn.layer.SoftplusLayer, a saveobj
    struct of Version 1 and Name like ReLULayer."""
    if toolbox == "dlt":
        return _saveobj_layer("SoftplusLayer", {"Name": char(name)})
    if toolbox != "rl":
        raise ValueError(f"toolbox must be 'rl' or 'dlt', not {toolbox!r}")
    layer = custom_layer("SoftplusLayer", {}, name, "Softplus layer", "Softplus")
    return DltObject("rl.layer.SoftplusLayer", layer.properties, layer.class_defaults)


def _block(block_size: int | Sequence[int]) -> np.ndarray:
    """BlockSize as MATLAB keeps it: always [h w] (a scalar given at creation is doubled)."""
    sizes = [block_size] * 2 if isinstance(block_size, int) else list(block_size)
    return double(sizes)


def depth_to_space(
    name: str, block_size: int | Sequence[int], mode: str = "dcr"
) -> Layer:
    """DepthToSpace2DLayer — schema inferred, no real sample: Version 1, Name, BlockSize
    [h w], Mode ('dcr' or 'crd')."""
    fields = {"Name": char(name), "BlockSize": _block(block_size), "Mode": char(mode)}
    return _saveobj_layer("DepthToSpace2DLayer", fields)


def space_to_depth(name: str, block_size: int | Sequence[int]) -> Layer:
    """SpaceToDepthLayer — schema inferred, no real sample: Version 1, Name, BlockSize [h w]."""
    fields = {"Name": char(name), "BlockSize": _block(block_size)}
    return _saveobj_layer("SpaceToDepthLayer", fields)
