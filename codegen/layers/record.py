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

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.fields.get(key)
        return to_text(value, default)

    def _numbers(self, key: str) -> np.ndarray | None:
        """The field as an array, None when missing, empty or text.

        Text where a number is expected is a mode ('auto', 'same'), read with :meth:`text`.
        """
        value = self.fields.get(key)
        if is_empty(value):
            return None
        arr = np.asarray(value)
        return None if arr.dtype.kind in "US" else arr

    def num(self, key: str, default: float | None = None) -> float | None:
        arr = self._numbers(key)
        return default if arr is None else float(arr.ravel()[0])

    def ints(
        self, key: str, default: tuple[int, ...] | None = None
    ) -> tuple[int, ...] | None:
        arr = self._numbers(key)
        return (
            default
            if arr is None
            else tuple(round(float(v)) for v in arr.ravel(order="F"))
        )

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.fields.get(key)
        if is_empty(value):
            return default
        return bool(np.asarray(value).ravel()[0])

    def array(self, key: str, lazy: bool = False) -> np.ndarray | None:
        """A numeric array field, or the ``Value`` of a learnable-parameter struct.

        ``lazy``: an array still in the file (a large v7.3 dataset) is returned as such,
        for code that only reshapes and transposes it before it is written (see
        :mod:`codegen.readers.h5lazy`); otherwise every array is read.
        """
        value = self.fields.get(key)
        return learnable_value(value, lazy)


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
