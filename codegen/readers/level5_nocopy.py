"""Level-5 reading without the copy of every numeric array.

scipy (with ``mat_dtype=True``) and mat-io (always) give each numeric array its MATLAB
class's dtype with ``astype``, which copies even when the dtype is already right (a
float32 array MATLAB stored as single): while the largest weight is read it is held
twice. Both readers are compiled (Cython) and call back into Python subclasses of their
array reader, so the subclass here reads a nested numeric array the same way and
converts it with ``copy=False``. Top-level variables (whose reading ends with a check
that the compressed stream was consumed) and anything not numeric are left to the
original reader; so are complex arrays, read as the original would.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from codegen.readers.inflate import fast_streams

_LOCK = threading.RLock()
# MATLAB's numeric classes (mxDOUBLE_CLASS ... mxUINT64_CLASS)
NUMERIC_CLASSES = frozenset(range(6, 16))


class ComplexArray(Exception):
    """A nested complex array whose conversion this module does not reproduce."""


def array_reader(base: type, classes: Any, complex_ok: bool) -> type:
    """A subclass of the compiled reader ``base``; ``classes``: mclass → dtype (the
    reader's own table). Without ``complex_ok`` a nested complex array raises
    ComplexArray (scipy hides whether an array is complex until it is read)."""

    class ArrayReader(base):  # type: ignore[misc,valid-type]
        top: Any = None

        def array_from_header(self, header: Any, process: int = 1) -> Any:
            if (
                header is self.top
                or not process
                or header.mclass not in NUMERIC_CLASSES
                or getattr(header, "is_complex", False)
            ):
                return super().array_from_header(header, process)
            arr = self.read_real_complex(header)
            if arr.dtype.kind == "c":
                if complex_ok:
                    return arr
                raise ComplexArray
            dtype = np.bool_ if header.is_logical else classes[header.mclass]
            return arr.astype(dtype, copy=False)

    return ArrayReader


def scipy_loadmat(path: str, names: list[str] | None = None) -> dict[str, Any]:
    """``scipy.io.loadmat(path, mat_dtype=True)`` of a Level-5 file, without the copies
    (raises ComplexArray for a nested complex array)."""
    from scipy.io.matlab import _mio5, _mio5_params

    class FileReader(_mio5.MatFile5Reader):  # type: ignore[misc]
        def initialize_read(self) -> None:
            super().initialize_read()
            classes = _mio5_params.MDTYPES[self.byte_order]["classes"]
            self._matrix_reader = array_reader(_mio5.VarReader5, classes, False)(self)

        def read_var_array(self, header: Any, process: bool = True) -> Any:
            self._matrix_reader.top = header
            return super().read_var_array(header, process)

    with open(path, "rb") as handle, fast_streams("scipy.io.matlab._streams"):
        reader = FileReader(handle, mat_dtype=True)
        return dict(reader.get_variables(None if names is None else list(names)))


@contextlib.contextmanager
def matio_without_copies() -> Iterator[None]:
    """While active, mat-io's Level-5 reader (variables and the subsystem alike) reads
    nested numeric arrays without the copy."""
    from matio.v5 import matreader5
    from matio.v5.matio5_params import MDTYPES

    original_init = matreader5.MatFile5Reader.initialize_read
    original_read = matreader5.MatFile5Reader.read_var_array

    def initialize_read(self: Any) -> None:
        original_init(self)
        classes = MDTYPES[self.byte_order]["classes"]
        reader = array_reader(matreader5.VarReader5, classes, True)
        self._matrix_reader = reader(self)

    def read_var_array(self: Any, header: Any, process: bool = True) -> Any:
        self._matrix_reader.top = header
        return original_read(self, header, process)

    with _LOCK:
        matreader5.MatFile5Reader.initialize_read = initialize_read
        matreader5.MatFile5Reader.read_var_array = read_var_array
        try:
            yield
        finally:
            matreader5.MatFile5Reader.initialize_read = original_init
            matreader5.MatFile5Reader.read_var_array = original_read
