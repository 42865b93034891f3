"""Shared arithmetic for converters: MATLAB padding and output sizes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codegen.ir import IMAGE, TensorInfo
from codegen.layers.record import LayerRecord


def pair(values: tuple[int, ...] | None, default: int) -> tuple[int, int]:
    """MATLAB stores a square size as one number or two; PyTorch wants (h, w)."""
    if not values:
        return (default, default)
    if len(values) == 1:
        return (values[0], values[0])
    return (values[0], values[1])


def same_padding(
    size: int | None, kernel: int, stride: int, dilation: int
) -> tuple[int, int] | None:
    """MATLAB 'same': out = ceil(in/stride); the extra pixel goes bottom/right."""
    if size is None:
        return None
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return (total // 2, total - total // 2)


def resolve_padding(
    layer: LayerRecord,
    info: TensorInfo,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int, int, int]:
    """PaddingSize as (top, bottom, left, right), resolving an unstored 'same' from sizes."""
    mode = (layer.text("PaddingMode", "manual") or "manual").lower()
    stored = layer.ints("PaddingSize")
    if stored and len(stored) == 4:
        return (stored[0], stored[1], stored[2], stored[3])
    if stored and len(stored) in (1, 2) and mode != "same":
        p = pair(stored, 0)
        return (p[0], p[0], p[1], p[1])
    if mode == "same":
        if info.layout != IMAGE or len(info.shape) != 3:
            raise layer.error("uses 'same' padding but its input size is unknown; give the network's input layer an InputSize.")
        h = same_padding(info.shape[1], kernel[0], stride[0], dilation[0])
        w = same_padding(info.shape[2], kernel[1], stride[1], dilation[1])
        if h is None or w is None:
            raise layer.error("uses 'same' padding but its input height/width is unknown.")
        return (h[0], h[1], w[0], w[1])
    return (0, 0, 0, 0)


def out_size(
    size: int | None, kernel: int, stride: int, dilation: int, pad_before: int, pad_after: int
) -> int | None:
    if size is None:
        return None
    effective = (kernel - 1) * dilation + 1
    return (size + pad_before + pad_after - effective) // stride + 1


def spatial_out(
    info: TensorInfo,
    channels: int | None,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pad: Sequence[int],
) -> TensorInfo:
    h = out_size(info.shape[1], kernel[0], stride[0], dilation[0], pad[0], pad[1])
    w = out_size(info.shape[2], kernel[1], stride[1], dilation[1], pad[2], pad[3])
    return TensorInfo(IMAGE, (channels, h, w))


def require_image(layer: LayerRecord, info: TensorInfo) -> None:
    if info.layout != IMAGE:
        raise layer.error(
            f"expects an image (C×H×W) input but receives {info.describe()}; this layer arrangement is not supported."
        )


def rebuild(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Restore the trailing singleton dimensions MATLAB dropped on save."""
    if int(np.prod(shape)) != array.size:
        raise ValueError(f"cannot view an array of {array.size} values as {tuple(shape)}")
    return np.asarray(array).reshape(tuple(shape), order="F")


def f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.float32))
