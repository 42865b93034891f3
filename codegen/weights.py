"""safetensors writing: keys are exactly the generated module's state_dict() keys."""

from __future__ import annotations

import io
import json
import queue
import struct
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from codegen import progress
from codegen.arrays import count_nonfinite
from codegen.ir import Graph


def _stored_values(graph: Graph) -> dict[str, Any]:
    """Every value that is stored, under its state_dict key, as it is held (no copies).

    A 0-d value (BatchNorm's num_batches_tracked) is stored with shape [1], as files
    written so far have it; load_state_dict accepts either.
    """
    values: dict[str, Any] = {}
    for node in graph.nodes:
        for key, value in node.params.items():
            if value is not None:
                values[f"{node.ident}.{key}"] = _at_least_1d(value)
        for key, value in node.buffers.items():
            if value is not None:
                values[f"{node.prefix}_{key}"] = _at_least_1d(value)
    return dict(sorted(values.items()))


def _at_least_1d(value: Any) -> Any:
    return (
        value.reshape(1) if isinstance(value, np.ndarray) and value.ndim == 0 else value
    )


def state_arrays(graph: Graph) -> dict[str, np.ndarray]:
    """Every array that has a value, under its state_dict key (missing values are left out)."""
    return {k: np.ascontiguousarray(v) for k, v in _stored_values(graph).items()}


def nonfinite(graph: Graph) -> dict[str, tuple[int, int]]:
    """Stored arrays with NaN or Inf values, by MATLAB layer name and array: "'fc' weight"
    → (how many values, of how many)."""
    found: dict[str, tuple[int, int]] = {}
    for node in graph.nodes:
        arrays = {**node.params, **node.buffers}
        for key, value in arrays.items():
            if value is None or not np.issubdtype(value.dtype, np.floating):
                continue
            bad = _count_nonfinite(value)
            if bad:
                found[f"{node.name!r} {key}"] = (bad, int(value.size))
    return found


def _count_nonfinite(value: Any) -> int:
    """NaN and Inf values, counted a block at a time with no full-size temporary (a
    deferred copy is checked through its view, in memory order). A weight read lazily
    from the file is counted as it is written; counted before, it is read block by
    block here, and again when written."""
    counted = getattr(value, "nonfinite", None)
    if counted is not None:
        return int(counted)
    if getattr(value, "lazy", False):
        for _ in value.chunks_c_order():
            pass
        return int(value.nonfinite)
    any_order = getattr(value, "values_any_order", None)
    if not callable(any_order):
        return count_nonfinite(np.asarray(value))
    bad = count_nonfinite(any_order())
    value.nonfinite = bad  # the writer need not count again
    return bad


def pending_nonfinite(graph: Graph) -> bool:
    """Whether some stored values are copied (or read from the file) only as they are
    written, and counted for NaN and Inf then (see :func:`write`): rendering after
    writing spares a pass over them."""
    return any(
        getattr(value, "nonfinite", 0) is None
        for node in graph.nodes
        for value in (*node.params.values(), *node.buffers.values())
    )


def nonfinite_note(graph: Graph) -> str | None:
    """One sentence for the header, the CLI and inspect; None when every value is finite."""
    found = nonfinite(graph)
    if not found:
        return None
    listed = ", ".join(f"{k} ({bad} of {size})" for k, (bad, size) in found.items())
    return (
        f"{len(found)} stored weight array{'s' if len(found) != 1 else ''} hold NaN or "
        f"Inf values: {listed}; the network probably diverged in training, and its "
        "outputs will not be finite."
    )


def expected_keys(graph: Graph) -> list[str]:
    """All state_dict keys the module will have, valued or not."""
    keys = [f"{n.ident}.{k}" for n in graph.nodes for k in n.params]
    keys += [f"{n.prefix}_{k}" for n in graph.nodes for k in n.buffers]
    return sorted(keys)


def missing_keys(graph: Graph) -> list[str]:
    """state_dict keys with no stored value (an untrained network): never written as zeros."""
    stored = _stored_values(graph)
    return [k for k in expected_keys(graph) if k not in stored]


def weights_mode(graph: Graph) -> str:
    """'all' (every key has a value), 'partial' (some do) or 'none' (no weights file at all)."""
    missing = missing_keys(graph)
    if not missing:
        return "all"
    return "partial" if _stored_values(graph) else "none"


# safetensors dtype names, in the order the format's reference writer sorts them (by
# descending alignment, then by key); matching it keeps our files byte-identical to its.
_DTYPE_ORDER = (
    "BOOL",
    "U8",
    "I8",
    "I16",
    "U16",
    "F16",
    "I32",
    "U32",
    "F32",
    "F64",
    "I64",
    "U64",
)
_DTYPES = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint16): "U16",
    np.dtype(np.float16): "F16",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint32): "U32",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.int64): "I64",
    np.dtype(np.uint64): "U64",
}


def _dtype_name(dtype: np.dtype) -> str:
    name = _DTYPES.get(np.dtype(dtype).newbyteorder("="))
    if name is None:
        raise TypeError(f"safetensors cannot store {np.dtype(dtype)} arrays")
    return name


def safetensors_header(
    tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> tuple[bytes, list[str]]:
    """The 8-byte length, the JSON header padded with spaces to a multiple of 8, and
    the keys in data order. Needs only each value's shape and dtype, not its data."""
    order = sorted(
        tensors,
        key=lambda k: (-_DTYPE_ORDER.index(_dtype_name(tensors[k].dtype)), k),
    )
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for key in order:
        value = tensors[key]
        shape = [int(n) for n in value.shape]
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(value.dtype).itemsize
        header[key] = {
            "dtype": _dtype_name(value.dtype),
            "shape": shape,
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, order


def write_safetensors(
    handle: BinaryIO,
    tensors: Mapping[str, Any],
    metadata: Mapping[str, str] | None = None,
    on_write: Callable[[int], None] | None = None,
) -> None:
    """Stream a safetensors file: header first, then one tensor at a time.

    A value is a numpy array or anything with ``shape``, ``dtype`` and ``__array__``
    (a lazily read dataset): each is turned into an array only when its turn comes,
    written, and let go, so the whole set of weights is never copied at once.
    ``on_write`` is told the size of each block of data written.
    """
    head, order = safetensors_header(tensors, metadata)
    handle.write(head)
    total = sum(_nbytes(tensors[k]) for k in order)
    sink = _WriterThread(handle) if total >= THREADED_BYTES else None
    try:
        for key in order:
            value = tensors[key]
            chunks = getattr(value, "chunks_c_order", None)
            parts = chunks() if callable(chunks) else (value,)
            for part in parts:
                array = np.asarray(part)
                array = np.ascontiguousarray(
                    array.astype(array.dtype.newbyteorder("<"), copy=False)
                )
                if sink is None:
                    handle.write(array.reshape(-1).view(np.uint8).data)
                else:
                    sink.put(array)
                if on_write is not None:
                    on_write(array.nbytes)
                del array
    finally:
        if sink is not None:
            sink.close()


# From this much data on, blocks are written by a thread while the next is prepared.
THREADED_BYTES = 64 << 20


def _nbytes(value: Any) -> int:
    return int(np.prod(value.shape, dtype=np.int64)) * np.dtype(value.dtype).itemsize


class _WriterThread:
    """Writes blocks in order in a background thread (file writes and numpy copies
    release the GIL, so preparing the next block overlaps writing this one). At most
    one block waits; the first write error is raised in the caller."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (array := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._handle.write(array.reshape(-1).view(np.uint8).data)
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc

    def put(self, array: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(array)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def safetensors_bytes(
    tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    write_safetensors(buffer, tensors, metadata)
    return buffer.getvalue()


def _graph_metadata(graph: Graph) -> dict[str, str]:
    """One metadata entry (safetensors stores metadata in a hash map, so several keys
    would come out in varying order); model.py's load_model checks it."""
    return {"source": graph.weights_source}


def write(graph: Graph, handle: BinaryIO) -> None:
    """model.safetensors for the graph, streamed to ``handle``; tensors sorted by key."""
    values = _stored_values(graph)
    total = sum(
        int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in values.values()
    )
    progress.stage("writing model.safetensors", total)
    write_safetensors(handle, values, _graph_metadata(graph), progress.advance)


def to_bytes(graph: Graph) -> bytes:
    """The same bytes as :func:`write`, in memory (small networks, tests)."""
    buffer = io.BytesIO()
    write(graph, buffer)
    return buffer.getvalue()


def read(path: str | Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))
