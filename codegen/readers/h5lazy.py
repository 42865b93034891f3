"""Large numeric arrays of v7.3 (HDF5) files, read only when their values are needed.

mat-io decompresses every dataset of a v7.3 file as it reads it. Weights then take a
second full copy when they are put into PyTorch's layout. While :func:`lazy_numeric`
is active, mat-io's reader instead returns an :class:`H5Array` for each large float
dataset (and :func:`read_all_but_weights` then reads every one not holding weights): its
shape and dtype are known, and reshapes and transposes are recorded, not applied. The
safetensors writer then reads it a block of rows at a time, each block aligned to the
dataset's chunks, so each chunk is decompressed once and the whole array is never in
memory. Anything else done with it (indexing, arithmetic, ``np.asarray``) reads the
whole array first and works on that, so code that does not know about lazy arrays gets
the same values as before, only later.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from codegen.readers import inflate

# A chunk that cannot be read or inflated: h5py reads the dataset instead (and says why).
_CHUNK_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, *inflate.ERRORS)

# Smaller datasets are read at once, as mat-io reads them.
LAZY_BYTES = 1 << 20
_LAZY_CLASSES = (b"single",)
_LOCK = threading.RLock()


class H5File:
    """The file lazy arrays read from: opened on the first read, kept open after.

    A hyperslab of a dataset stored as deflate-compressed chunks (MATLAB's v7.3 layout)
    is read chunk by chunk: each chunk's bytes are read from the file and inflated in a
    pool of threads (inflating releases the GIL; h5py does not), then put in place. Anything
    else — other filters, a chunk stored unfiltered or not at all, a selection not on
    chunk boundaries, a chunk that does not inflate to its exact size — is read by h5py.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: Any = None
        self._fd: int | None = None
        self._lock = threading.Lock()

    def read(self, name: Any, selection: tuple[slice, ...] | None = None) -> np.ndarray:
        """A dataset's values (all, or the hyperslab ``selection``), in HDF5's own axis
        order; ``name`` is its path or an object reference to it."""
        import h5py

        with self._lock:
            if self._file is None:
                self._file = h5py.File(self.path, "r")
                self._fd = os.open(self.path, os.O_RDONLY)
            dataset = self._file[name]
            if selection is None:
                return np.asarray(dataset[()])
            plan = _chunk_plan(dataset, selection)
        if plan is not None:
            out = _inflate(self._fd, *plan)
            if out is not None:
                return out
        with self._lock:
            return np.asarray(self._file[name][selection])

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # type: ignore[arg-type]


_DEFLATE = 1  # HDF5's filter id for deflate (gzip)
_POOL: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it starts its own pool."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _chunk_plan(
    dataset: Any, selection: tuple[slice, ...]
) -> tuple[tuple[int, ...], np.dtype, tuple[int, ...], list[tuple[Any, ...]]] | None:
    """What to read for ``dataset[selection]`` chunk by chunk: the output shape and
    dtype, the chunk shape and each chunk's (offset, file address, size); None when
    h5py must read it."""
    chunks = dataset.chunks
    if chunks is None or dataset.dtype.names is not None or not dataset.shape:
        return None
    plist = dataset.id.get_create_plist()
    if plist.get_nfilters() != 1 or plist.get_filter(0)[0] != _DEFLATE:
        return None
    if len(selection) != len(dataset.shape):
        return None
    bounds = []
    for part, size, chunk in zip(selection, dataset.shape, chunks, strict=True):
        if not isinstance(part, slice) or part.step not in (None, 1):
            return None
        start, stop, _ = part.indices(size)
        if start % chunk or (stop % chunk and stop != size) or stop <= start:
            return None
        bounds.append((start, stop))
    items = []
    for corner in itertools.product(
        *(range(a, b, c) for (a, b), c in zip(bounds, chunks, strict=True))
    ):
        info = dataset.id.get_chunk_info_by_coord(corner)
        if info.byte_offset is None or info.filter_mask != 0:
            return None
        items.append((corner, info.byte_offset, info.size))
    shape = tuple(b - a for a, b in bounds)
    starts = tuple(a for a, _ in bounds)
    return shape, dataset.dtype, tuple(chunks), [(*i, starts) for i in items]


def _inflate(
    fd: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    chunks: tuple[int, ...],
    items: list[tuple[Any, ...]],
) -> np.ndarray | None:
    """The chunks read and inflated in threads into one array (None on any doubt)."""
    global _POOL
    out = np.empty(shape, dtype)
    expected = int(np.prod(chunks)) * dtype.itemsize

    def work(group: list[tuple[Any, ...]]) -> None:
        for corner, address, size, starts in group:
            data = inflate.decompress(os.pread(fd, size, address))
            if len(data) != expected:
                raise ValueError("a chunk inflated to the wrong size")
            chunk = np.frombuffer(data, dtype).reshape(chunks)
            dst, src = [], []
            for c, n, s, full in zip(corner, chunks, starts, shape, strict=True):
                stop = min(c + n, s + full)
                dst.append(slice(c - s, stop - s))
                src.append(slice(0, stop - c))
            out[tuple(dst)] = chunk[tuple(src)]

    workers = max(min(os.cpu_count() or 1, 4), 1)
    if _POOL is None:
        _POOL = ThreadPoolExecutor(workers, thread_name_prefix="inflate")
    groups = [items[k::workers] for k in range(workers)]
    try:
        for future in [_POOL.submit(work, g) for g in groups if g]:
            future.result()
    except _CHUNK_ERRORS:
        return None
    return out


class _Dataset:
    """One dataset of an :class:`H5File`, shared by the lazy views of it. Read whole,
    its values are kept (code that reads it whole may ask again); read by rows, never.
    """

    __slots__ = ("file", "name", "values")

    def __init__(self, file: H5File, name: Any) -> None:
        self.file = file
        self.name = name
        self.values: np.ndarray | None = None

    def read(self, selection: tuple[slice, ...] | None = None) -> np.ndarray:
        if selection is not None:
            if self.values is not None:
                return self.values[selection]
            return self.file.read(self.name, selection)
        if self.values is None:
            self.values = self.file.read(self.name)
        return self.values


class H5Array:
    """A MATLAB numeric array stored in a v7.3 file, read on demand.

    The values are those of ``D.reshape(c_shape).transpose(perm)``, where ``D`` is the
    dataset as HDF5 stores it (C order, MATLAB's dimensions reversed); as read, that is
    ``D.T``, what mat-io returns. ``reshape`` (in the order that keeps the data's
    memory order) and ``transpose`` give new lazy arrays; everything else reads.
    """

    __slots__ = ("_c_shape", "_chunks", "_data", "_h5shape", "_perm", "dtype")

    def __init__(
        self,
        file: H5File | _Dataset,
        name: Any,
        h5shape: Sequence[int],
        dtype: Any,
        chunks: Sequence[int] | None,
        c_shape: Sequence[int] | None = None,
        perm: Sequence[int] | None = None,
    ) -> None:
        self._data = file if isinstance(file, _Dataset) else _Dataset(file, name)
        self._h5shape = tuple(int(n) for n in h5shape)
        self._chunks = None if chunks is None else tuple(int(n) for n in chunks)
        self._c_shape = self._h5shape if c_shape is None else tuple(c_shape)
        ndim = len(self._c_shape)
        self._perm = tuple(range(ndim))[::-1] if perm is None else tuple(perm)
        self.dtype = np.dtype(dtype)

    def _derive(self, c_shape: Sequence[int], perm: Sequence[int]) -> H5Array:
        return H5Array(
            self._data,
            self._data.name,
            self._h5shape,
            self.dtype,
            self._chunks,
            tuple(int(n) for n in c_shape),
            tuple(int(p) for p in perm),
        )

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._c_shape[p] for p in self._perm)

    @property
    def ndim(self) -> int:
        return len(self._perm)

    @property
    def size(self) -> int:
        return int(np.prod(self._h5shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def reshape(self, *shape: Any, order: str = "C") -> Any:
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        new = _resolve_shape(tuple(int(n) for n in shape), self.size)
        identity = self._perm == tuple(range(self.ndim))
        reverse = self._perm == tuple(range(self.ndim))[::-1]
        if order == "F" and reverse:
            return self._derive(new[::-1], tuple(range(len(new)))[::-1])
        if order == "C" and identity:
            return self._derive(new, tuple(range(len(new))))
        return np.asarray(self).reshape(new, order=order)  # type: ignore[call-overload]

    def transpose(self, *axes: Any) -> H5Array:
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = tuple(axes[0]) if axes[0] is not None else ()
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        if sorted(int(a) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"axes {axes} do not match an array of {self.ndim} dims")
        return self._derive(self._c_shape, tuple(self._perm[int(a)] for a in axes))

    @property
    def T(self) -> H5Array:
        return self.transpose()

    def astype(self, dtype: Any, copy: bool = True, **kwargs: Any) -> Any:
        if np.dtype(dtype) == self.dtype and not copy and not kwargs:
            return self
        return np.asarray(self).astype(dtype, copy=copy, **kwargs)

    # ------------------------------------------------------------------ reading
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self._data.read().reshape(self._c_shape).transpose(self._perm)
        return data if dtype is None else data.astype(dtype, copy=False)

    def block_rows(self, rows: int) -> int | None:
        """About ``rows`` (at least one) rows per block, rounded up so that blocks
        start on chunk boundaries of the dataset; None when rows cannot be read apart
        (the whole array must be read)."""
        rows = max(int(rows), 1)
        axis = self._perm[0]
        if self._c_shape == self._h5shape:
            unit = self._chunks[axis] if self._chunks else 1
            return -(-rows // unit) * unit
        if axis != 0 or not self._h5shape:
            return None
        row = int(np.prod(self._c_shape[1:], dtype=np.int64))
        h5row = int(np.prod(self._h5shape[1:], dtype=np.int64))
        span = h5row * (self._chunks[0] if self._chunks else 1)
        if row == 0 or span == 0:
            return None
        unit = span // math.gcd(row, span)  # rows per whole chunk row of the dataset
        return -(-rows // unit) * unit

    def rows(self, start: int, stop: int) -> np.ndarray:
        """``self[start:stop]`` as an array, reading only those rows' hyperslab (start
        and, unless it is the end, stop on :meth:`block_rows` boundaries)."""
        stop = min(stop, self.shape[0])
        axis = self._perm[0]
        if self._c_shape == self._h5shape:
            selection = [slice(None)] * len(self._h5shape)
            selection[axis] = slice(start, stop)
            return self._data.read(tuple(selection)).transpose(self._perm)
        row = int(np.prod(self._c_shape[1:], dtype=np.int64))
        h5row = int(np.prod(self._h5shape[1:], dtype=np.int64))
        if axis != 0 or (start * row) % h5row or (stop * row) % h5row:
            raise ValueError(f"rows {start}:{stop} do not fall on whole stored rows")
        data = self._data.read((slice(start * row // h5row, stop * row // h5row),))
        return data.reshape((stop - start, *self._c_shape[1:])).transpose(self._perm)

    # ------------------------------------------------------------------ fallbacks
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(np.asarray(self), name)

    def __getitem__(self, key: Any) -> Any:
        return np.asarray(self)[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(np.asarray(self))

    def __repr__(self) -> str:
        return f"H5Array(shape={self.shape}, dtype={self.dtype})"


def _materialising(op: str) -> Callable[..., Any]:
    def method(self: H5Array, *args: Any) -> Any:
        return getattr(np.asarray(self), op)(*args)

    method.__name__ = op
    return method


for _op in [
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__pow__",
    "__rpow__",
    "__matmul__",
    "__rmatmul__",
    "__neg__",
    "__pos__",
    "__abs__",
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__and__",
    "__or__",
    "__xor__",
    "__invert__",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
]:
    setattr(H5Array, _op, _materialising(_op))
H5Array.__hash__ = None  # type: ignore[assignment]


def _resolve_shape(shape: tuple[int, ...], size: int) -> tuple[int, ...]:
    if shape.count(-1) == 1:
        known = int(np.prod([n for n in shape if n != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape an array of size {size} into {shape}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ValueError(f"cannot reshape an array of size {size} into {shape}")
    return shape


@contextlib.contextmanager
def lazy_numeric(path: str, threshold: int | None = None) -> Iterator[H5File]:
    """While active, mat-io's v7.3 reader returns an :class:`H5Array` for each real
    ``single`` dataset of at least ``threshold`` (default LAZY_BYTES) bytes; the arrays
    read from the returned :class:`H5File`. Use :func:`read_all_but_weights` on what
    was read."""
    limit = LAZY_BYTES if threshold is None else threshold
    from matio.utils.matclass import IntegerDecodingHint
    from matio.utils.matheaders import MAT_HDF_ATTRS
    from matio.v7.matreader7 import MatRead7

    source = H5File(path)
    original = MatRead7.read_numeric

    def read_numeric(self: Any, obj: Any, is_empty: int = 0) -> Any:
        attrs = obj.attrs
        # (h5py's Dataset.name is slow for datasets reached by reference: not asked)
        if (
            not is_empty
            and obj.size * obj.dtype.itemsize >= limit
            and obj.dtype.names is None
            and obj.dtype.kind == "f"
            and attrs.get(MAT_HDF_ATTRS.CLASS, None) in _LAZY_CLASSES
            and attrs.get(MAT_HDF_ATTRS.INT_DECODE, None)
            != IntegerDecodingHint.LOGICAL_HINT
        ):
            return H5Array(source, obj.ref, obj.shape, obj.dtype, obj.chunks)
        return original(self, obj, is_empty)

    with _LOCK:
        MatRead7.read_numeric = read_numeric  # type: ignore[method-assign]
        try:
            yield source
        finally:
            MatRead7.read_numeric = original  # type: ignore[method-assign]


# Where weights sit: a DLT learnable parameter's ``Value``, MatConvNet's pre-2015
# ``filters``, a DagNN parameter's ``value``; and every element of a SimpleNN layer's
# ``weights`` cell.
_LAZY_FIELDS = frozenset({"Value", "filters", "value"})
_LAZY_CELL_FIELDS = frozenset({"weights"})


def read_all_but_weights(variables: dict[str, Any]) -> None:
    """Read (in place) every lazy array that is not where weights are stored.

    Only the code that reads weights knows lazy arrays (``LayerRecord.array(...,
    lazy=True)`` and MatConvNet's parameter cells); any other array — an average image,
    a detector's anchor boxes, a top-level matrix — is a plain numpy array, as mat-io
    would have returned it.
    """
    from matio.utils.matclass import MatlabOpaque, MatlabOpaqueArray

    seen: set[int] = set()

    def fix(value: Any, keep: bool, cell_keeps: bool, depth: int) -> Any:
        if isinstance(value, H5Array):
            return value if keep else np.asarray(value)
        if depth > 64 or id(value) in seen:
            return value
        if isinstance(value, MatlabOpaque):
            seen.add(id(value))
            props = value.properties
            if isinstance(props, dict):
                for key in list(props):
                    props[key] = fix(props[key], False, False, depth + 1)
            return value
        if isinstance(value, dict):
            seen.add(id(value))
            for key in list(value):
                value[key] = fix(value[key], False, False, depth + 1)
            return value
        if isinstance(value, np.ndarray) and value.dtype.names:
            seen.add(id(value))
            for name in value.dtype.names:
                if value.dtype.fields[name][0] != np.dtype(object):
                    continue
                column = value[name]  # a view: assignments reach the struct
                for index in np.ndindex(value.shape):
                    column[index] = fix(
                        column[index],
                        name in _LAZY_FIELDS,
                        name in _LAZY_CELL_FIELDS,
                        depth + 1,
                    )
            return value
        if isinstance(value, np.ndarray) and value.dtype == object:
            seen.add(id(value))
            keep_items = cell_keeps and not isinstance(value, MatlabOpaqueArray)
            for index in np.ndindex(value.shape):
                value[index] = fix(value[index], keep_items, False, depth + 1)
            return value
        return value

    for key in list(variables):
        variables[key] = fix(variables[key], False, False, 0)
