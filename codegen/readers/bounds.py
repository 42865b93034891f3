"""Bounds checked before a MAT-file's bytes reach mat-io's C reader.

A crafted or damaged Level-5 (v5/v7) file can declare arrays far larger than the file
(mat-io would try to allocate them), nest cells thousands deep (mat-io's reader recurses
and overflows the C stack: a segfault, not an exception) or hold a small compressed block
that inflates to gigabytes. :func:`check_level5` walks the element headers itself,
iteratively, inflating compressed elements with a cap, and refuses such files with one
sentence before anything is allocated. v7.3 (HDF5) files are left to h5py.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from codegen.errors import ConversionError

# Deeper than any network MATLAB saves (about 20 levels), far below what crashes mat-io.
MAX_DEPTH = 200

MI_MATRIX = 14
MI_COMPRESSED = 15
MI_INT32 = 5
MI_UINT32 = 6

# Bytes per element of each MATLAB array class (mxCLASS_ID), for the declared size.
_CLASS_BYTES = {
    4: 2,  # char (UTF-16 in memory)
    5: 0,  # sparse: only its stored values take room, counted as data elements
    6: 8,  # double
    7: 4,  # single
    8: 1,
    9: 1,
    10: 2,
    11: 2,
    12: 4,
    13: 4,
    14: 8,
    15: 8,
}
_CELL, _STRUCT, _OBJECT = 1, 2, 3

GIB = 1 << 30
# What a compressed array may inflate to beyond its tag's declared size (padding).
_INFLATE_SLACK = 4096
# Compressed input enough to inflate an element's 8-byte tag.
_HEAD_INPUT = 1 << 16
# A compressed array larger than this (a network's weights) is checked by its tag only:
# walking it would inflate it a second time (mat-io inflates it again to read it), which
# doubles the reading time of a large v7 file. Deep nesting hidden in so large an array
# is left to the child process the command line converts in (codegen.isolate), which
# turns a crash of the reader into one sentence.
WALK_LIMIT = 64 << 20


def default_budget(file_size: int) -> int:
    """What --max-memory defaults to: 4 × the file size + 1 GiB."""
    return 4 * file_size + GIB


def _size_text(n: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


@dataclass
class _Walk:
    name: str
    budget: int
    little: bool
    declared: int = 0  # bytes the arrays declare, all together
    inflated: int = 0  # bytes the compressed elements inflate to, all together

    def fail(self, what: str, advice: str) -> ConversionError:
        return ConversionError(f"{self.name}: {what}; {advice}")

    def too_big(self, what: str, size: int) -> ConversionError:
        return self.fail(
            f"{what} declares {_size_text(size)}, more than the {_size_text(self.budget)} "
            "mat2torch may use for this file (--max-memory)",
            "the file is damaged, or pass a larger --max-memory if it really holds such data",
        )

    def tag(
        self, buf: bytes | memoryview, pos: int, end: int
    ) -> tuple[int, int, int, int]:
        """(type, size, data start, next element) of the element at ``pos``."""
        if pos + 8 > end:
            raise self.fail(
                f"an element header at byte {pos} is cut off",
                "the file is truncated or damaged; save it again from MATLAB",
            )
        fmt = "<II" if self.little else ">II"
        first, second = struct.unpack_from(fmt, buf, pos)
        if first >> 16:  # small data element: type and size in 4 bytes, data in 4
            kind, size = first & 0xFFFF, first >> 16
            if size > 4:
                raise self.fail(
                    f"a small element at byte {pos} declares {size} bytes (at most 4)",
                    "the file is damaged; save it again from MATLAB",
                )
            return kind, size, pos + 4, pos + 8
        kind, size = first, second
        start = pos + 8
        if size > end - start:
            raise self.fail(
                f"an element at byte {pos} declares {_size_text(size)} but only "
                f"{_size_text(end - start)} follow",
                "the file is truncated or damaged; save it again from MATLAB",
            )
        padded = size if kind == MI_COMPRESSED else (size + 7) // 8 * 8
        return kind, size, start, min(start + padded, end)

    def inflate(self, data: bytes | memoryview, pos: int) -> bytes | None:
        """The inflated array of a compressed element, or None when it is large enough
        to be a network's weights and is only checked by its tag (see WALK_LIMIT)."""
        room = self.budget - self.inflated
        fmt = "<II" if self.little else ">II"
        try:
            # MATLAB compresses one whole array per element: its own tag comes first and
            # says how much follows, so a bomb (zeros, or a huge declared size) is refused
            # from 8 inflated bytes instead of after inflating up to the budget.
            head = zlib.decompressobj().decompress(data[:_HEAD_INPUT], 8)
            if len(head) == 8:
                kind, size = struct.unpack(fmt, head)
                if kind != MI_MATRIX:
                    raise self.fail(
                        f"a compressed element at byte {pos} does not hold a MATLAB array",
                        "the file is damaged or crafted; save it again from MATLAB",
                    )
                if size + 8 > room:
                    raise self.too_big(f"a compressed element at byte {pos}", size + 8)
                if size > WALK_LIMIT:
                    self.inflated += size + 8
                    return None
                room = min(room, size + 8 + _INFLATE_SLACK)
            inflater = zlib.decompressobj()
            out = inflater.decompress(data, room + 1)
        except zlib.error as exc:
            raise self.fail(
                f"a compressed element at byte {pos} is damaged ({exc})",
                "the file is truncated or damaged; save it again from MATLAB",
            ) from None
        self.inflated += len(out)
        if len(out) > room or inflater.unconsumed_tail:
            raise self.too_big(f"a compressed element at byte {pos}", self.inflated)
        return out

    def matrix(
        self, buf: bytes | memoryview, start: int, end: int, depth: int
    ) -> list[tuple[int, int, int]]:
        """Check one array's header; return the nested arrays to visit (start, end, depth)."""
        if depth > MAX_DEPTH:
            raise self.fail(
                f"arrays are nested more than {MAX_DEPTH} levels deep (cells in cells, "
                "structs in structs)",
                "no network MATLAB saves is that deep: the file is damaged or crafted",
            )
        children: list[tuple[int, int, int]] = []
        pos, index = start, 0
        cls = 0
        count = 1
        while pos < end:
            kind, size, data, nxt = self.tag(buf, pos, end)
            if index == 0 and kind == MI_UINT32 and size >= 4:
                flags = struct.unpack_from("<I" if self.little else ">I", buf, data)[0]
                cls = flags & 0xFF
            elif index == 1 and kind == MI_INT32:
                dims = struct.unpack_from(
                    ("<" if self.little else ">") + "i" * (size // 4), buf, data
                )
                if any(d < 0 for d in dims):
                    raise self.fail(
                        f"an array at byte {start - 8} has a negative size {list(dims)}",
                        "the file is damaged; save it again from MATLAB",
                    )
                for d in dims:
                    count *= d
                element = _CLASS_BYTES.get(cls, 0)
                if cls in (_CELL, _STRUCT, _OBJECT):
                    element = 8  # each element needs at least a header in the file
                declared = count * element
                if cls in (_CELL,) and declared > end - start:
                    raise self.fail(
                        f"a cell at byte {start - 8} declares {count} elements but holds "
                        f"{_size_text(end - start)}",
                        "the file is damaged; save it again from MATLAB",
                    )
                if declared > self.budget:
                    raise self.too_big(
                        f"an array at byte {start - 8} ({list(dims)})", declared
                    )
                self.declared += declared
                if self.declared > self.budget:
                    raise self.too_big("the arrays of the file together", self.declared)
            elif kind == MI_MATRIX:
                children.append((data, data + size, depth + 1))
            pos, index = nxt, index + 1
        return children

    def subsystem(self, buf: bytes | memoryview, offset: int) -> None:
        """The subsystem data (MATLAB objects' contents): a uint8 array whose bytes are a
        MAT stream of their own, which mat-io parses with the same recursive reader."""
        kind, size, data, _ = self.tag(buf, offset, len(buf))
        if kind == MI_COMPRESSED:
            inflated = self.inflate(buf[data : data + size], offset)
            if inflated is None:
                return
            buf = inflated
            kind, size, data, _ = self.tag(buf, 0, len(buf))
        if kind != MI_MATRIX:
            return
        pos, end, index = data, data + size, 0
        while pos < end:
            _kind, sub_size, sub_data, nxt = self.tag(buf, pos, end)
            if index == 3:  # flags, dimensions, name, then the bytes
                stream = bytes(buf[sub_data : sub_data + sub_size])
                if len(stream) > 8:
                    self.elements(stream, 8, len(stream), 2)
                return
            pos, index = nxt, index + 1

    def elements(
        self, buf: bytes | memoryview, start: int, end: int, depth: int
    ) -> None:
        """Every top-level element of ``buf[start:end]``, nested arrays iteratively."""
        stack: list[tuple[bytes | memoryview, int, int, int]] = []
        pos = start
        while pos < end:
            kind, size, data, nxt = self.tag(buf, pos, end)
            if kind == MI_COMPRESSED:
                if depth > 2:
                    raise self.fail(
                        f"a compressed element at byte {pos} holds another compressed element",
                        "MATLAB never writes that: the file is damaged or crafted",
                    )
                inner = self.inflate(buf[data : data + size], pos)
                if inner is not None:
                    self.elements(inner, 0, len(inner), depth + 1)
            elif kind == MI_MATRIX:
                stack.append((buf, data, data + size, depth))
            pos = nxt
        while stack:
            source, first, last, level = stack.pop()
            for child in self.matrix(source, first, last, level):
                stack.append((source, *child))


def check_level5(data: bytes, name: str, budget: int | None = None) -> None:
    """Refuse a v5/v7 MAT-file whose declared sizes exceed ``budget`` bytes (default
    :func:`default_budget`), whose arrays nest deeper than MAX_DEPTH, or whose element
    headers run past their container. Other files (v7.3/HDF5, not a MAT-file) pass."""
    if len(data) < 128 or data[:10] == b"\x89HDF\r\n\x1a\n"[:10]:
        return
    if data[:6] != b"MATLAB" or data[512:520] == b"\x89HDF\r\n\x1a\n":
        return
    endian = data[126:128]
    if endian not in (b"IM", b"MI"):
        return
    version = struct.unpack_from("<H" if endian == b"IM" else ">H", data, 124)[0]
    if version != 0x0100:  # 0x0200: v7.3, HDF5 after the 512-byte header
        return
    little = endian == b"IM"
    walk = _Walk(
        name, budget if budget is not None else default_budget(len(data)), little
    )
    view = memoryview(data)
    walk.elements(view, 128, len(data), 1)
    (offset,) = struct.unpack_from("<Q" if little else ">Q", data, 116)
    if 128 <= offset < len(data) and data[116:124] != b" " * 8:
        walk.subsystem(view, offset)
