"""Reading the saveobj struct of a MATLAB ``network`` object, as mat-io decodes it.

Structs are record arrays (a 1×1 struct inside a cell is a 1×1 object array holding
one), cells are object arrays stored column-major, empty cells are mat-io placeholders
(not arrays), numbers are float64 and logicals bool. Errors name the field and say to
save the network again, since a field MATLAB always writes is missing or malformed.
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

from codegen.errors import ConversionError
from codegen.layers.record import is_empty, to_text


def struct_fields(value: Any) -> dict[str, Any] | None:
    """A 1×1 struct (record array, or a cell holding one) as a dict; None when empty."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    if isinstance(value, np.ndarray) and value.dtype.names and value.size >= 1:
        rec = value.ravel(order="F")[0]
        return {k: rec[k] for k in value.dtype.names}
    return None


def cell_rows(value: Any, rows: int, cols: int) -> list[list[Any]]:
    """A rows × cols cell as a list of rows; a 1×1 cell may be stored as its content."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        if value.size != rows * cols:
            raise ValueError(f"{value.size} cells, not {rows}×{cols}")
        flat = list(value.ravel(order="F"))
    else:
        flat = [value]
        if rows * cols != 1:
            raise ValueError(f"1 cell, not {rows}×{cols}")
    return [[flat[r + rows * c] for c in range(cols)] for r in range(rows)]


def absent(value: Any) -> bool:
    return is_empty(value) or not isinstance(value, np.ndarray)


def number(fields: dict[str, Any], key: str, where: str) -> int:
    value = fields.get(key)
    if absent(value) or np.asarray(value).dtype.kind not in "biuf":
        missing(where, key)
    return round(float(np.asarray(value).ravel()[0]))


def missing(where: str, key: str) -> NoReturn:
    raise ConversionError(
        f"{where}: the network object has no usable '{key}'; save it again from MATLAB "
        "(save('net.mat','net')) with a release that opens it."
    )


def flags(
    fields: dict[str, Any], key: str, rows: int, cols: int, where: str
) -> np.ndarray:
    value = fields.get(key)
    if value is None:
        missing(where, key)
    array = np.asarray(value) if not absent(value) else np.zeros((rows, cols))
    if array.size != rows * cols:
        raise ConversionError(
            f"{where}: the network's '{key}' is {array.shape}, not {rows}×{cols}; save it again from MATLAB."
        )
    return array.reshape((rows, cols), order="F").astype(bool)


def weight_delays(settings: dict[str, Any] | None) -> list[float]:
    if settings is None or absent(settings.get("delays")):
        return []
    return [float(v) for v in np.asarray(settings["delays"]).ravel()]


def text(value: Any) -> str:
    return to_text(value, "") or ""


def removes_nothing(fcn: str, settings: dict[str, Any]) -> bool:
    key = {"removeconstantrows": "remove", "removerows": "remove_ind"}.get(fcn)
    return key is not None and is_empty(settings.get(key))


def flag(value: Any) -> bool:
    return not absent(value) and bool(np.asarray(value).ravel()[0])
