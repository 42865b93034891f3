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
    has_unpooling_outputs: bool = False,
) -> Layer:
    """MaxPooling2DLayer (v3 default, v2). ``padding`` is [top bottom left right].

    ``has_unpooling_outputs`` — schema inferred for true (the real files store the flag
    false): the same fields with HasUnpoolingOutputs true; the outputs 'out', 'indices'
    and 'size' follow from the flag, so no port names are stored. A network connects
    them with ``("pool/indices", "unpool/indices")`` and ``("pool/size",
    "unpool/size")``."""
    fields = {
        "Name": char(name),
        "PoolSize": double(pool_size),
        **window_fields(stride, padding_mode, padding),
        "HasUnpoolingOutputs": logical(has_unpooling_outputs),
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
max_unpool2d = name_only(
    "MaxUnpooling2DLayer",
    "MaxUnpooling2DLayer — schema inferred, no real sample (ReLULayer's pattern: Version "
    "1 and Name; its inputs 'in', 'indices' and 'size' are fixed by the class).",
)
