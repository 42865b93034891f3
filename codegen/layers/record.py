"""Uniform read access to one MATLAB layer as decoded by mat-io.

Built-in layers keep their data in a single ``any`` struct (what ``saveobj`` returned);
layers written as ``nnet.layer.Layer`` subclasses keep plain properties. Some have both.
Fields are looked up in ``any`` first, then in the plain properties, so converters do not
care which kind they got. Unknown fields are simply never asked for.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from codegen.errors import ConversionError
from codegen.readers.h5lazy import H5Array

_MISSING = object()

# The largest count, size or index a field may hold (MATLAB sizes are far smaller).
INT_MAX = 2**31 - 1


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, np.ndarray):
        return value.size == 0
    return False


class LayerRecord:
    """A MATLAB layer: its class, its name and typed accessors for its fields."""

    def __init__(self, classname: str, fields: dict[str, Any], where: str = "") -> None:
        self.classname = classname
        self.fields = fields
        self.where = where  # "file.mat, variable 'net'" for error messages
        self.name = "layer"  # until read: field errors in Name itself name the class
        self.name = self.text("Name", default="") or "layer"
        # The property names of a layer saved with plain properties (an nnet.layer.Layer
        # subclass); None when its data is a saveobj struct (``any``) or not an object.
        self.plain_properties: tuple[str, ...] | None = None

    @classmethod
    def from_object(cls, obj: Any, where: str = "") -> LayerRecord:
        props = (
            obj.properties if isinstance(getattr(obj, "properties", None), dict) else {}
        )
        fields: dict[str, Any] = {}
        for key, value in props.items():
            if key == "any":
                continue
            fields[key.rsplit(".", 1)[-1]] = value
        anys = props.get("any")
        plain = not (isinstance(anys, np.ndarray) and anys.dtype.names)
        if isinstance(anys, np.ndarray) and anys.dtype.names and anys.size == 1:
            rec = anys.flat[0]
            for key in anys.dtype.names:
                fields[key] = rec[key]
        record = cls(str(obj.classname), fields, where)
        if plain:
            record.plain_properties = tuple(fields)
        return record

    @property
    def short_class(self) -> str:
        return self.classname.rsplit(".", 1)[-1]

    def error(self, what: str) -> ConversionError:
        return ConversionError(
            f"{self.where}: layer '{self.name}' ({self.classname}) {what}"
        )

    def has(self, key: str) -> bool:
        return key in self.fields and not is_empty(self.fields[key])

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        if key in self.fields:
            return self.fields[key]
        if default is _MISSING:
            raise self.error(
                f"has no field '{key}'; the file may be from an unsupported MATLAB release."
            )
        return default

    def field_error(self, key: str, value: Any, expected: str) -> ConversionError:
        """The one-line error for a field of the wrong kind: file, variable, layer, field."""
        return self.error(
            f"field '{key}' holds {describe(value)} where {expected} is expected; the "
            "file is damaged or was not written by MATLAB."
        )

    def text(self, key: str, default: str | None = None) -> str | None:
        """Text, or ``default`` when missing or a number (fields that hold either a
        mode or a value, like 'same' or [1 1]). Structs, objects and cells of several
        elements are errors."""
        value = self.fields.get(key)
        if value is None or isinstance(value, str):
            return to_text(value, default)
        if isinstance(value, np.ndarray):
            if value.dtype.names or (value.dtype == object and value.size > 1):
                raise self.field_error(key, value, "text")
            if value.dtype == object and value.size == 1:
                inner = value.flat[0]
                if not isinstance(inner, str | np.ndarray) or (
                    isinstance(inner, np.ndarray)
                    and (inner.dtype == object or inner.dtype.names)
                ):
                    raise self.field_error(key, value, "text")
            return to_text(value, default)
        if is_text_array(value):
            return to_text(value, default)
        raise self.field_error(key, value, "text")

    def word(self, key: str, default: str | None = None) -> str | None:
        """Text for a field that is always text (a mode, a function name): a number
        there is an error, not a reason to fall back to ``default``."""
        value = self.fields.get(key)
        in_cell = (
            isinstance(value, np.ndarray)
            and value.dtype == object
            and value.size == 1
            and is_text_array(value.flat[0])
        )
        if not (
            is_empty(value) or isinstance(value, str) or is_text_array(value) or in_cell
        ):
            raise self.field_error(key, value, "text")
        return self.text(key, default)

    def enum(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """One of ``choices`` (compared in lower case), ``default`` when missing."""
        value = (self.word(key, default) or default).lower()
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            raise self.field_error(key, self.fields.get(key), f"one of {listed}")
        return value

    def _numbers(self, key: str, expected: str) -> np.ndarray | None:
        """The field as a real numeric array, None when missing, empty or text.

        Text where a number is expected is a mode ('auto', 'same'), read with :meth:`text`;
        cells, structs, objects and complex values are errors.
        """
        value = self.fields.get(key)
        if is_empty(value):
            return None
        if isinstance(value, str) or is_text_array(value):
            return None
        if not isinstance(value, np.ndarray | np.generic | bool | int | float):
            raise self.field_error(key, value, expected)
        arr = np.asarray(value)
        if arr.dtype.kind in "US":
            return None
        if arr.dtype.kind not in "biuf":
            raise self.field_error(key, value, expected)
        return arr

    def num(
        self,
        key: str,
        default: float | None = None,
        *,
        finite: bool = True,
        positive: bool = False,
        between: tuple[float, float] | None = None,
    ) -> float | None:
        """One real number (``finite=False`` allows ±Inf, never NaN); ``positive``: above
        zero; ``between``: within those bounds, inclusive."""
        arr = self._numbers(key, "a number")
        if arr is None:
            return default
        if arr.size != 1:
            raise self.field_error(key, arr, "one number")
        value = float(arr.ravel()[0])
        if np.isnan(value) or (finite and not np.isfinite(value)):
            raise self.field_error(key, arr, "a finite number")
        if positive and not value > 0:
            raise self.field_error(key, arr, "a number above zero")
        if between is not None and not between[0] <= value <= between[1]:
            raise self.field_error(
                key, arr, f"a number from {between[0]:g} to {between[1]:g}"
            )
        return value

    def integer(
        self, key: str, default: int | None = None, *, minimum: int = 0
    ) -> int | None:
        """One whole number from ``minimum`` to 2**31 - 1 (counts, sizes, indices)."""
        arr = self._numbers(key, "a whole number")
        if arr is None:
            return default
        if arr.size != 1:
            raise self.field_error(key, arr, "one whole number")
        return self._whole(key, arr.ravel()[0], minimum)

    def _whole(self, key: str, value: Any, minimum: int) -> int:
        number = float(value)
        if not np.isfinite(number) or abs(number - round(number)) > 1e-6:
            raise self.field_error(key, value, "a whole number")
        if not minimum <= round(number) <= INT_MAX:
            raise self.field_error(
                key, value, f"a whole number from {minimum} to {INT_MAX}"
            )
        return round(number)

    def ints(
        self,
        key: str,
        default: tuple[int, ...] | None = None,
        *,
        minimum: int = -INT_MAX,
    ) -> tuple[int, ...] | None:
        """Whole numbers (sizes, strides, paddings), in MATLAB (column-major) order."""
        arr = self._numbers(key, "whole numbers")
        if arr is None:
            return default
        if arr.size > 64:
            raise self.field_error(key, arr, "a few whole numbers")
        return tuple(self._whole(key, v, minimum) for v in arr.ravel(order="F"))

    def sizes(self, key: str) -> tuple[int | None, ...] | None:
        """Dimension sizes in which NaN marks a variable dimension (inputLayer's
        InputSize): whole numbers from 1, None where NaN; None when missing or empty."""
        arr = self._numbers(key, "a row of sizes")
        if arr is None:
            return None
        if arr.size > 64:
            raise self.field_error(key, arr, "a few sizes")
        return tuple(
            None if np.isnan(float(v)) else self._whole(key, v, 1)
            for v in arr.ravel(order="F")
        )

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.fields.get(key)
        if is_empty(value):
            return default
        arr = self._numbers(key, "true or false")
        if arr is None or arr.size != 1 or arr.ravel()[0] not in (0, 1):
            raise self.field_error(key, value, "true or false")
        return bool(arr.ravel()[0])

    def shaped(self, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """:meth:`array` reshaped to ``shape``; a different number of values is an error."""
        value = self.array(key)
        if value is None:
            return None
        count = int(np.prod(shape))
        if value.size != count:
            raise self.field_error(
                key, value, f"{count} value{'s' if count != 1 else ''}"
            )
        return np.asarray(value).reshape(shape)

    def array(self, key: str, lazy: bool = False) -> np.ndarray | None:
        """A numeric array field, or the ``Value`` of a learnable-parameter struct.

        ``lazy``: an array still in the file (a large v7.3 dataset) is returned as such,
        for code that only reshapes and transposes it before it is written (see
        :mod:`codegen.readers.h5lazy`); otherwise every array is read.
        """
        value = self.fields.get(key)
        result = learnable_value(value, lazy)
        if (
            result is None
            and not is_empty(value)
            and not _is_learnable_struct(value)
            and not (isinstance(value, str) or is_text_array(value))  # a mode: 'auto'
        ):
            raise self.field_error(key, value, "a numeric array")
        return result


def is_text_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and (
        value.dtype.kind in "UST" or "StringDType" in type(value.dtype).__name__
    )


def _is_learnable_struct(value: Any) -> bool:
    return isinstance(value, np.ndarray) and bool(value.dtype.names)


def describe(value: Any) -> str:
    """What a value from a file is, in a few words, without its (possibly huge) content."""
    if value is None:
        return "nothing"
    if isinstance(value, str) or is_text_array(value):
        text = to_text(value, "") or ""
        shown = repr(text[:20] + ("..." if len(text) > 20 else ""))
        return f"text {shown}"
    if isinstance(value, np.ndarray):
        if value.dtype.names:
            return "a struct"
        if value.dtype == object:
            inner = value.flat[0] if value.size == 1 else None
            if isinstance(inner, np.ndarray) and inner.dtype != object:
                return f"a cell holding {describe(inner)}"
            return f"a cell of {value.size} element{'s' if value.size != 1 else ''}"
        if value.size == 0:
            return "an empty value"
        if value.dtype.kind == "c":
            return "a complex value"
        if value.dtype.kind not in "biuf":
            return f"a {value.dtype} value"
        if value.size > 1:
            return f"{value.size} values"
        return describe(value.ravel()[0])
    if isinstance(value, np.generic | float | int | bool):
        number = float(value)
        if np.isnan(number):
            return "NaN"
        if np.isinf(number):
            return "Inf" if number > 0 else "-Inf"
        return (
            f"the number {value!r}"
            if not isinstance(value, np.generic)
            else (f"the number {value.item()!r}")
        )
    return f"a {type(value).__name__} object"


def learnable_value(value: Any, lazy: bool = False) -> np.ndarray | None:
    if is_empty(value):
        return None
    if isinstance(value, np.ndarray) and value.dtype.names:
        if "Value" not in value.dtype.names:
            return None
        inner = value.flat[0]["Value"]
        if lazy and isinstance(inner, H5Array):
            return cast(np.ndarray, inner)
        return None if is_empty(inner) else np.asarray(inner)
    if lazy and isinstance(value, H5Array):
        return cast(np.ndarray, value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        return None
    return arr


def to_text(value: Any, default: str | None = None) -> str | None:
    """MATLAB char arrays (``<U`` shape (1,)), strings (StringDType) and 1x1 cells as str."""
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return to_text(value.flat[0], default) if value.size == 1 else default
        if value.dtype.kind in "UST":
            return "".join(str(v) for v in value.ravel()) if value.size else ""
    return default


def text_list(value: Any) -> list[str]:
    """A cell of char arrays, a string array or a categorical as a list of str."""
    if value is None:
        return []
    if hasattr(value, "categories") and hasattr(value, "codes"):  # pandas.Categorical
        return [str(c) for c in value.categories]
    props = getattr(value, "properties", None)
    if getattr(value, "classname", None) == "categorical" and isinstance(props, dict):
        # a categorical the reader left undecoded (e.g. with an empty category name)
        return text_list(props.get("categoryNames"))
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            out = []
            for v in value.ravel(order="F"):
                t = to_text(v)
                if t is not None:
                    out.append(t)
            return out
        if value.dtype.kind in "UT" or "StringDType" in type(value.dtype).__name__:
            return [str(v) for v in value.ravel(order="F")]
    t = to_text(value)
    return [t] if t else []


def function_text(record: LayerRecord) -> str:
    """A FunctionLayer's source text, as MATLAB keeps it in Description (never evaluated)."""
    text = record.text("Description")
    if text:
        return text
    fcn = record.raw("PredictFcn", None)
    if isinstance(fcn, np.ndarray) and fcn.dtype == object and fcn.size:
        inner = fcn.flat[0]
        if (
            isinstance(inner, np.ndarray)
            and inner.dtype.names
            and "function" in inner.dtype.names
        ):
            return to_text(inner.flat[0]["function"], "") or ""
    return ""
