"""MATLAB values exactly as mat-io decodes them, so a written file reads back like MATLAB's.

Every builder of the writer spells its fields with these constructors; tests that tweak a
built layer (:func:`codegen.testing.dltwriter.with_fields`) use them too, so a hand-made
field has the same dtype and shape as a built one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

Size = float | Sequence[float]


def char(text: str) -> np.ndarray:
    """A char row vector as mat-io decodes it: ``<U`` of shape (1,), or (0,) when empty."""
    return np.array([text]) if text else np.empty((0,), dtype="<U1")


def string(text: str) -> np.ndarray:
    """A 1×1 MATLAB ``string`` (not a char vector): mat-io's StringDType."""
    return np.array([[text]], dtype=np.dtypes.StringDType(na_object=np.nan))


def double(value: Size | None) -> np.ndarray:
    """A double row vector ((1, 1) for a scalar); ``None`` is MATLAB's ``[]`` (0×0)."""
    if value is None:
        return empty()
    return np.asarray(value, dtype=np.float64).reshape(1, -1)


def empty() -> np.ndarray:
    """MATLAB's ``[]``: a 0×0 double."""
    return np.empty((0, 0))


def char_or_double(value: float | str) -> np.ndarray:
    """A property that is either a named mode (char) or a number, like PaddingValue."""
    return char(value) if isinstance(value, str) else double(value)


def logical(flag: bool) -> np.ndarray:
    """A 1×1 logical."""
    return np.array([[flag]])


def cell(items: Sequence[Any], shape: tuple[int, int] | None = None) -> np.ndarray:
    """A cell array (1×N unless ``shape`` says otherwise), filled column-major."""
    out = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        out[index] = item
    return out.reshape(shape or (1, len(items)), order="F")


def struct(fields: Mapping[str, Any]) -> np.ndarray:
    """A 1×1 struct: a structured array of object fields, in the given order."""
    out = np.empty((1, 1), dtype=[(name, object) for name in fields])
    for name, value in fields.items():
        out[name][0, 0] = value
    return out


def matlab_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """MATLAB drops trailing singleton dimensions beyond the second on save."""
    dims = list(shape)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return tuple(dims)


def padded_shape(shape: Sequence[int], ndim: int) -> tuple[int, ...]:
    """``shape`` with the trailing singletons MATLAB dropped restored up to ``ndim``."""
    return tuple(shape) + (1,) * (ndim - len(shape))


def single(values: Any, shape: Sequence[int] | None = None) -> np.ndarray:
    """A single-precision copy in MATLAB layout; ``shape`` reshapes column-major first."""
    array = np.array(values, dtype=np.float32)
    if shape is not None:
        if array.size != int(np.prod(shape)):
            raise ValueError(
                f"expected {int(np.prod(shape))} values for shape {tuple(shape)}, got {array.size}"
            )
        array = array.reshape(tuple(shape), order="F")
    if array.ndim < 2:
        array = array.reshape(-1, 1)
    return array.reshape(matlab_shape(array.shape))


def categorical(classes: Sequence[str] | None) -> pd.Categorical:
    """Class names as MATLAB's N×1 categorical (0×0 before training)."""
    if classes is None or len(classes) == 0:
        return pd.Categorical.from_codes(np.zeros((0, 0), dtype=np.int8), categories=[])
    codes = np.arange(len(classes)).reshape(-1, 1)
    return pd.Categorical.from_codes(codes, categories=list(classes))
