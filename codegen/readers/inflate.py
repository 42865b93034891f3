"""Inflating MATLAB's compressed data with ISA-L when it is installed.

A v7 file stores each variable as one zlib stream (a network's weights are hundreds of
megabytes in one stream), and a v7.3 file's datasets are zlib-compressed chunks. Inflating
them is most of the time it takes to read a large network. Intel's ISA-L (the ``isal``
package) inflates the same streams to the same bytes about twice as fast as zlib; it
checks the stream's Adler-32 like zlib does, and releases the GIL like zlib does.

Level-5 files are read by scipy's and mat-io's compiled readers, whose stream class looks
``zlib.decompressobj`` up in its module when a compressed variable starts: while
:func:`fast_streams` is active that name resolves to ISA-L's. Without ``isal`` (a
platform with no wheel) everything here is zlib, and only slower.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import types
import zlib
from collections.abc import Iterator
from typing import Any

_isal: Any
try:
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover - every platform we test has a wheel
    _isal = None

# What a damaged stream raises, whichever library inflates it.
ERRORS: tuple[type[Exception], ...] = (
    (zlib.error,) if _isal is None else (zlib.error, _isal.error)
)

# The compiled readers' stream modules (their global ``zlib`` is looked up at run time).
STREAM_MODULES = ("scipy.io.matlab._streams", "matio.v5._streams")

_LOCK = threading.RLock()


def library() -> str:
    """Which library inflates: 'isal' or 'zlib'."""
    return "isal" if _isal is not None else "zlib"


def decompress(data: bytes | memoryview) -> bytes:
    """A whole zlib stream inflated (zlib's ``decompress``, faster with ISA-L)."""
    if _isal is not None:
        return bytes(_isal.decompress(data))
    return zlib.decompress(data)


def _shim() -> types.SimpleNamespace:
    """What the readers' ``zlib`` name points to: ISA-L's decompressobj, zlib's error."""
    assert _isal is not None
    return types.SimpleNamespace(
        decompressobj=_isal.decompressobj,
        decompress=_isal.decompress,
        error=ERRORS,
        MAX_WBITS=zlib.MAX_WBITS,
    )


@contextlib.contextmanager
def fast_streams(*modules: str) -> Iterator[None]:
    """While active, the named compiled stream modules (default: scipy's and mat-io's,
    as far as installed) inflate with ISA-L. Without ``isal`` it changes nothing."""
    if _isal is None:
        yield
        return
    names = modules or STREAM_MODULES
    patched: list[tuple[Any, Any]] = []
    with _LOCK:
        try:
            for name in names:
                try:
                    module: Any = sys.modules.get(name) or importlib.import_module(name)
                except ImportError:
                    continue
                if getattr(module, "zlib", None) is not zlib:
                    continue  # not the layout this module was written for
                patched.append((module, zlib))
                module.zlib = _shim()
            yield
        finally:
            for module, original in patched:
                module.zlib = original
