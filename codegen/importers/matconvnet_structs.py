"""Reading MatConvNet network structs into layer records (the first half of the importer).

A SimpleNN and a DagNN store the same kind of layers very differently; this module turns
both into one shape — :class:`McnLayer`, a :class:`LayerRecord` plus the names of the
variables it reads and writes — so that ``codegen.importers.matconvnet`` orders, checks
and converts them without caring which form the file used. It also reads ``meta``, which
both forms share. mat-io decodes structs as numpy structured arrays and cells as object
arrays, always in MATLAB's column-major element order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codegen.errors import ConversionError
from codegen.layers.record import LayerRecord, is_empty, text_list, to_text

SIMPLENN_INPUT = "input"  # the name dagnn.DagNN.fromSimpleNN gives a SimpleNN's input


@dataclass
class McnLayer:
    """One layer, SimpleNN or DagNN: its record and the variables it reads and writes."""

    record: LayerRecord
    inputs: list[str] = field(default_factory=list)  # var names
    outputs: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- struct access


def single_record(value: Any) -> Any:
    """The single record of a 1×1 struct (numpy structured array), else None."""
    if isinstance(value, np.ndarray) and value.dtype.names and value.size >= 1:
        return value.ravel(order="F")[0]
    return None


def get_field(rec: Any, key: str, default: Any = None) -> Any:
    """A record's field, or ``default`` when the record is None or lacks it."""
    if rec is not None and key in (rec.dtype.names or ()):
        return rec[key]
    return default


def struct_fields(value: Any) -> dict[str, Any]:
    """A struct's fields as a dict; an empty struct, [] or None gives {}."""
    rec = single_record(value)
    if rec is None:
        return {}
    return {key: rec[key] for key in rec.dtype.names}


def elements(value: Any) -> list[Any]:
    """The elements of a cell or struct array in MATLAB (column-major) order."""
    if isinstance(value, np.ndarray) and (value.dtype == object or value.dtype.names):
        return list(value.ravel(order="F"))
    if value is None or is_empty(value):
        return []
    return [value]


def text(value: Any, default: str = "") -> str:
    """A char array, string or 1×1 cell as str; anything else (numbers, structs) as ``default``."""
    found = to_text(value, None)
    return default if found is None else found


# --------------------------------------------------------------------------- layers


def simplenn_layers(value: Any, where: str) -> list[McnLayer]:
    """``net.layers`` as a chain: layer k reads layer k−1's output (the first reads 'input').

    A SimpleNN needs no unique names, but the graph does: a missing name becomes
    ``layer<k>`` and a repeated one gets a ``_2``, ``_3``... suffix.
    """
    net = single_record(value)
    cells = get_field(net, "layers")
    layers: list[McnLayer] = []
    taken: set[str] = set()
    for index, cell in enumerate(elements(cells)):
        fields = struct_fields(cell)
        if not fields:
            raise ConversionError(
                f"{where}: net.layers{{{index + 1}}} is not a layer struct; the SimpleNN is malformed."
            )
        kind = text(fields.get("type"), "") or "(no type)"
        name = text(fields.get("name"), "") or f"layer{index + 1}"
        base, k = name, 1
        while name in taken or name == SIMPLENN_INPUT:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        fields["Name"] = name
        layers.append(McnLayer(LayerRecord(f"simplenn.{kind}", fields, where)))
    prev = SIMPLENN_INPUT
    for layer in layers:
        layer.inputs, layer.outputs = [prev], [layer.record.name]
        prev = layer.record.name
    return layers


def dagnn_layers(value: Any, where: str) -> tuple[list[McnLayer], list[str]]:
    """The DagNN's layers (``block`` fields plus their parameter values) and its var names in order."""
    net = single_record(value)
    params: dict[str, Any] = {}
    for p in elements(get_field(net, "params")):
        params[text(p["name"])] = p["value"]
    var_names = [text(v["name"]) for v in elements(get_field(net, "vars"))]
    layers: list[McnLayer] = []
    for index, entry in enumerate(elements(get_field(net, "layers"))):
        name = text(get_field(entry, "name")) or f"layer{index + 1}"
        kind = text(get_field(entry, "type")) or "(no type)"
        fields = struct_fields(get_field(entry, "block"))
        param_names = text_list(get_field(entry, "params"))
        missing = [p for p in param_names if p not in params]
        if missing:
            raise ConversionError(
                f"{where}: layer '{name}' ({kind}) uses parameter '{missing[0]}', which net.params does not hold."
            )
        values = np.empty(len(param_names), dtype=object)
        for k, p in enumerate(param_names):
            values[k] = params[p]
        fields["weights"] = values
        fields["Name"] = name
        record = LayerRecord(kind, fields, where)
        layers.append(
            McnLayer(
                record,
                text_list(get_field(entry, "inputs")),
                text_list(get_field(entry, "outputs")),
            )
        )
    names = [layer.record.name for layer in layers]
    if len(set(names)) != len(names):
        raise ConversionError(
            f"{where}: the DagNN has duplicate layer names; rename them in MATLAB."
        )
    return layers, var_names


# --------------------------------------------------------------------------- meta


def read_meta(value: Any) -> dict[str, Any]:
    """``meta`` as a dict, with the pre-2015 top-level ``normalization``/``classes`` folded in."""
    net = single_record(value)
    meta = struct_fields(get_field(net, "meta"))
    for key in ("normalization", "classes"):
        if key not in meta and get_field(net, key) is not None:
            meta[key] = get_field(net, key)
    return meta


def class_names(meta: dict[str, Any]) -> tuple[str, ...] | None:
    """``meta.classes.description`` (readable names), else ``meta.classes.name`` (ids)."""
    classes = struct_fields(meta.get("classes"))
    for key in ("description", "name"):
        names = text_list(classes.get(key))
        if names:
            return tuple(names)
    return None
