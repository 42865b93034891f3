"""What each top-level variable of a MAT-file is, from its header alone.

A network is an object, a struct or a cell; a variable of numbers, text, logicals or a
function handle never holds one. Files saved from a workspace often keep training data
beside the network (gigabytes of doubles), so those variables are listed here — class
and size, read from the array header (inflating only its first bytes) — and never
decoded. Anything unexpected gives None: the whole file is then read as before.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# mxCLASS_ID of the classes that hold data only (never a network)
DATA_CLASSES = {
    4: "char",
    5: "sparse",
    6: "double",
    7: "single",
    8: "int8",
    9: "uint8",
    10: "int16",
    11: "uint16",
    12: "int32",
    13: "uint32",
    14: "int64",
    15: "uint64",
    16: "function_handle",
}
_H5_DATA_CLASSES = frozenset(DATA_CLASSES.values()) | {"logical"}
_MI_INT8, _MI_INT32, _MI_UINT32, _MI_MATRIX, _MI_COMPRESSED = 1, 5, 6, 14, 15
_OPAQUE = 17
_LOGICAL_FLAG = 1 << 9
# Inflated bytes enough for an array header: tag, flags, dims (any rank MATLAB
# writes) and a name of up to 63 characters.
_HEADER_BYTES = 1024


@dataclass(frozen=True)
class NotRead:
    """A top-level variable of data only, listed but not read: what it holds."""

    description: str  # MATLAB's words: "double 3×18", "char", "logical 1×1"

    def __repr__(self) -> str:
        return f"NotRead({self.description!r})"


def _description(cls: str, dims: tuple[int, ...]) -> str:
    if cls == "char":
        return "char"
    return f"{cls} {'×'.join(str(d) for d in dims) or '1×1'}"


def top_level(path: str | Path) -> list[tuple[str, NotRead | None]] | None:
    """Each top-level variable in file order, with its listing if it holds data only
    (None for objects, structs and cells); None when the file's layout is not one
    this module reads (then everything is read)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(128)
            if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
                return None
            little = header[126:128] == b"IM"
            version = int.from_bytes(header[124:126], "little" if little else "big")
            if version == 0x0200:
                return _hdf5_top_level(path)
            if version != 0x0100:
                return None
            return _level5_top_level(handle, little, os.fstat(handle.fileno()))
    except Exception:  # a damaged file: read whole, which says what is wrong with it
        return None


def _level5_top_level(
    f: BinaryIO, little: bool, stat: os.stat_result
) -> list[tuple[str, NotRead | None]] | None:
    order = "<" if little else ">"
    found: list[tuple[str, NotRead | None]] = []
    pos, end = 128, stat.st_size
    while pos + 8 <= end:
        f.seek(pos)
        kind, size = struct.unpack(order + "II", f.read(8))
        if kind >> 16:  # a small element at the top level: not a variable
            return None
        start = pos + 8
        if kind == _MI_COMPRESSED:
            compressed = f.read(min(size, 1 << 16))
            head = zlib.decompressobj().decompress(compressed, _HEADER_BYTES)
            nxt = start + size
        elif kind == _MI_MATRIX:
            head = struct.pack(order + "II", kind, size) + f.read(
                min(size, _HEADER_BYTES)
            )
            nxt = start + size + (-size % 8)
        else:
            return None
        parsed = _array_header(head, order)
        if parsed is None:
            return None
        name, cls, dims, logical = parsed
        if name:  # the subsystem (MATLAB objects' contents) has no name
            listing = None
            if cls in DATA_CLASSES:
                kind_name = "logical" if logical else DATA_CLASSES[cls]
                listing = NotRead(_description(kind_name, dims))
            found.append((name, listing))
        pos = nxt
    return found


def _array_header(
    head: bytes, order: str
) -> tuple[str, int, tuple[int, ...], bool] | None:
    """(name, class, dims, logical) of an miMATRIX element's first bytes. An object
    (mxOPAQUE_CLASS, MATLAB's classdef objects) stores its name right after the flags.
    """
    if len(head) < 16:
        return None
    kind, _size = struct.unpack_from(order + "II", head, 0)
    if kind != _MI_MATRIX:
        return None
    pos = 8
    fields: list[tuple[int, bytes]] = []
    while len(fields) < 3:
        if pos + 8 > len(head):
            return None
        first, second = struct.unpack_from(order + "II", head, pos)
        if first >> 16:  # small element: 4-byte tag, data in the next 4
            sub_kind, sub_size, data = first & 0xFFFF, first >> 16, pos + 4
            pos += 8
        else:
            sub_kind, sub_size, data = first, second, pos + 8
            pos = data + sub_size + (-sub_size % 8)
        if data + sub_size > len(head):
            return None
        fields.append((sub_kind, head[data : data + sub_size]))
        if len(fields) == 1:
            if sub_kind != _MI_UINT32 or sub_size < 4:
                return None
            word = struct.unpack_from(order + "I", fields[0][1], 0)[0]
            if word & 0xFF == _OPAQUE:
                fields.append((_MI_INT32, b""))  # no dimensions
    (_, flags), (dims_kind, dims_bytes), (name_kind, name) = fields
    if dims_kind != _MI_INT32 or name_kind != _MI_INT8:
        return None
    word = struct.unpack_from(order + "I", flags, 0)[0]
    dims = struct.unpack(order + "i" * (len(dims_bytes) // 4), dims_bytes)
    return (
        name.decode("ascii", "replace"),
        word & 0xFF,
        dims,
        bool(word & _LOGICAL_FLAG),
    )


def _hdf5_top_level(path: str | Path) -> list[tuple[str, NotRead | None]]:
    import h5py

    found: list[tuple[str, NotRead | None]] = []
    with h5py.File(path, "r") as f:
        for name, obj in f.items():
            if name.startswith("#"):  # #refs#, #subsystem#: not variables
                continue
            cls = obj.attrs.get("MATLAB_class")
            if isinstance(cls, bytes):
                cls = cls.decode("ascii", "replace")
            if (
                not isinstance(obj, h5py.Dataset)
                or cls not in _H5_DATA_CLASSES
                or "MATLAB_object_decode" in obj.attrs
            ):
                found.append((name, None))
                continue
            if "MATLAB_empty" in obj.attrs:
                dims: tuple[int, ...] = (0, 0)
            else:
                dims = tuple(int(d) for d in reversed(obj.shape))
            found.append((name, NotRead(_description(str(cls), dims))))
    return found
