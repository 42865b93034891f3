"""Pooling layers: max and average pooling over windows, and their global forms."""

from __future__ import annotations

from collections.abc import Sequence

from codegen.testing.dltwriter.activations import name_only
from codegen.testing.dltwriter.convolution import over_time_fields, window_fields
from codegen.testing.dltwriter.schema import Layer, builtin_layer
from codegen.testing.dltwriter.values import char, double, logical


def max_pool2d(
    name: str,
    pool_size: Sequence[float],
    *,
    stride: Sequence[float] = (1, 1),
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    initialized: bool = True,
    version: int | None = None,
) -> Layer:
    """MaxPooling2DLayer (v3 default, v2). ``padding`` is [top bottom left right]."""
    fields = {
        "Name": char(name),
        "PoolSize": double(pool_size),
        **window_fields(stride, padding_mode, padding),
        "HasUnpoolingOutputs": logical(False),
        **over_time_fields("PoolOverTime", "PoolingDimIdx", initialized),
    }
    return builtin_layer("MaxPooling2DLayer", fields, version)


def avg_pool2d(
    name: str,
    pool_size: Sequence[float],
    *,
    padding_value: float | str = 0,
    stride: Sequence[float] = (1, 1),
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    initialized: bool = True,
) -> Layer:
    """AveragePooling2DLayer — schema inferred, no real sample (MaxPooling2DLayer v3's
    layout plus PaddingValue, without HasUnpoolingOutputs)."""
    fields = {
        "Name": char(name),
        "PoolSize": double(pool_size),
        **window_fields(stride, padding_mode, padding, padding_value=padding_value),
        **over_time_fields("PoolOverTime", "PoolingDimIdx", initialized),
    }
    return builtin_layer("AveragePooling2DLayer", fields)


global_avg_pool2d = name_only(
    "GlobalAveragePooling2DLayer",
    "GlobalAveragePooling2DLayer — schema inferred, no real sample (Name only).",
)
global_max_pool2d = name_only(
    "GlobalMaxPooling2DLayer",
    "GlobalMaxPooling2DLayer — schema inferred, no real sample (Name only).",
)
