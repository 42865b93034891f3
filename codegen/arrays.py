"""Weights whose PyTorch-layout copy is made only when they are written.

Converters turn MATLAB arrays into PyTorch layout with transposes and reshapes: free
views, until something makes them contiguous. For the large arrays (convolution
filters, fully connected weights) that copy is deferred to the safetensors writer,
which makes it a block of rows at a time and writes each block at once: the weights go
from the reader's arrays to the file without a second full copy in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import numpy as np

# Smaller arrays are copied at once: deferring them saves nothing worth the indirection.
DEFER_BYTES = 1 << 20
BLOCK_BYTES = 4 << 20


class DeferredCopy:
    """A float32 view in PyTorch's axis order, presented with its final ``shape``.

    Row ``i`` of the result is ``view[i]`` made C-contiguous and reshaped; the view may
    be strided any way. Anything numpy does with it goes through ``__array__`` (one full
    copy, correct), so only the writer's block-wise path is special.
    """

    __slots__ = ("_view", "dtype", "shape")

    def __init__(self, view: np.ndarray, shape: tuple[int, ...]) -> None:
        if view.dtype != np.float32:
            raise TypeError("DeferredCopy holds float32 views only")
        if not shape or shape[0] != view.shape[0] or view.size != int(np.prod(shape)):
            raise ValueError(f"cannot present a {view.shape} view as {shape}")
        self._view = view
        self.shape = tuple(int(n) for n in shape)
        self.dtype = view.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = np.ascontiguousarray(self._view).reshape(self.shape)
        return array if dtype is None else array.astype(dtype, copy=False)

    def values_any_order(self) -> np.ndarray:
        """Every value, in whatever order the view holds them (no copy): enough for
        order-free checks such as counting NaN."""
        return self._view

    def chunks_c_order(self) -> Iterator[np.ndarray]:
        """The C-order data, in contiguous blocks of whole rows (about BLOCK_BYTES each)."""
        row = max(self.nbytes // max(self.shape[0], 1), 1)
        step = max(BLOCK_BYTES // row, 1)
        for start in range(0, self.shape[0], step):
            block = self._view[start : start + step]
            yield np.ascontiguousarray(block).reshape((block.shape[0], *self.shape[1:]))

    def __repr__(self) -> str:
        return f"DeferredCopy(shape={self.shape}, dtype={self.dtype})"


def f32_deferred(view: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``view`` as float32 in C order and ``shape`` (default: its own), copied now when
    small, already contiguous or not float32, else when written (see DeferredCopy)."""
    view = np.asarray(view)
    final = tuple(view.shape) if shape is None else tuple(shape)
    if (
        view.dtype != np.float32
        or view.nbytes < DEFER_BYTES
        or view.flags.c_contiguous
        or not final
        or final[0] != view.shape[0]
    ):
        return np.ascontiguousarray(view, dtype=np.float32).reshape(final)
    # Typed as an array for the converters' signatures; it quacks like one where used.
    return cast(np.ndarray, DeferredCopy(view, final))
