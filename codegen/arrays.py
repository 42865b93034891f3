"""Weights whose PyTorch-layout copy is made only when they are written.

Converters turn MATLAB arrays into PyTorch layout with transposes and reshapes: free
views, until something makes them contiguous. For the large arrays (convolution
filters, fully connected weights) that copy is deferred to the safetensors writer,
which makes it a block of rows at a time and writes each block at once: the weights go
from the reader's arrays to the file without a second full copy in memory. A view of a
lazily read v7.3 dataset (:class:`~codegen.readers.h5lazy.H5Array`) is read a block of
rows at a time too, so it is decompressed while it is written, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import numpy as np

from codegen.readers.h5lazy import H5Array

# Smaller arrays are copied at once: deferring them saves nothing worth the indirection.
DEFER_BYTES = 1 << 20
BLOCK_BYTES = 4 << 20


class DeferredCopy:
    """A float32 view in PyTorch's axis order, presented with its final ``shape``.

    Row ``i`` of the result is ``view[i]`` made C-contiguous and reshaped; the view may
    be strided any way. Anything numpy does with it goes through ``__array__`` (one full
    copy, correct), so only the writer's block-wise path is special.
    """

    __slots__ = ("_view", "dtype", "nonfinite", "shape")

    def __init__(self, view: np.ndarray | H5Array, shape: tuple[int, ...]) -> None:
        if view.dtype != np.float32:
            raise TypeError("DeferredCopy holds float32 views only")
        if not shape or shape[0] != view.shape[0] or view.size != int(np.prod(shape)):
            raise ValueError(f"cannot present a {view.shape} view as {shape}")
        self._view = view
        self.shape = tuple(int(n) for n in shape)
        self.dtype = view.dtype
        # NaN and Inf values, counted when every block has been made (None until then).
        self.nonfinite: int | None = None

    @property
    def lazy(self) -> bool:
        """Whether the values are still in the file (read when written)."""
        return isinstance(self._view, H5Array)

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
        order-free checks such as counting NaN. A lazy view is read whole."""
        return np.asarray(self._view)

    def chunks_c_order(self) -> Iterator[np.ndarray]:
        """The C-order data, in contiguous blocks of whole rows (about BLOCK_BYTES each;
        a lazy view's blocks start on the dataset's chunk boundaries). Once every block
        has been made, ``nonfinite`` holds the count of NaN and Inf values (counted
        here unless known already)."""
        row = max(self.nbytes // max(self.shape[0], 1), 1)
        step = max(BLOCK_BYTES // row, 1)
        view: Any = self._view
        if isinstance(view, H5Array):
            aligned = view.block_rows(step)
            if aligned is None:
                view = np.asarray(view)  # rows cannot be read apart: read it whole
            else:
                step = aligned
        count = self.nonfinite is None
        bad = 0
        for start in range(0, self.shape[0], step):
            if isinstance(view, H5Array):
                block = view.rows(start, start + step)
            else:
                block = view[start : start + step]
            out = np.ascontiguousarray(block).reshape((block.shape[0], *self.shape[1:]))
            if count:
                bad += count_nonfinite(out)
            yield out
        if count:
            self.nonfinite = bad

    def __repr__(self) -> str:
        return f"DeferredCopy(shape={self.shape}, dtype={self.dtype})"


def count_nonfinite(array: np.ndarray) -> int:
    """NaN and Inf values of a block of memory (any layout), with no full-size
    temporary: a stretch whose sum is finite has only finite values, so the exact count
    runs only where it is not."""
    flat = np.ravel(array, order="K")  # a view for any axis order of one block
    step = 1 << 20
    bad = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, flat.size, step):
            block = flat[start : start + step]
            if not np.isfinite(np.sum(block)):
                bad += int(np.count_nonzero(~np.isfinite(block)))
    return bad


def f32_deferred(
    view: np.ndarray | H5Array, shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """``view`` as float32 in C order and ``shape`` (default: its own), copied now when
    small, already contiguous or not float32, else when written (see DeferredCopy). A
    lazily read array (H5Array) is left in the file until written."""
    final = tuple(view.shape) if shape is None else tuple(shape)
    if (
        isinstance(view, H5Array)
        and view.dtype == np.float32
        and view.nbytes >= DEFER_BYTES
        and final
        and final[0] == view.shape[0]
    ):
        return cast(np.ndarray, DeferredCopy(view, final))
    view = np.asarray(view)
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
