"""`mat2torch inspect --json`: the inspect report as a stable, documented JSON document.

The schema is described in docs/inspect-json.md and versioned by its ``"schema"`` field:
a field is only ever added within a version; renaming or removing one bumps it. Output is
strict JSON (``allow_nan=False``) with sorted keys, so non-finite numbers read from a file
are written as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codegen import api

SCHEMA = 1


def _number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def plain(value: Any) -> Any:
    """JSON-ready: tuples become lists, numpy scalars Python values, non-finite floats text."""
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def _network(entry: dict[str, Any]) -> dict[str, Any]:
    ok = entry["error"] is None
    return {
        "path": entry["path"],
        "kind": entry["kind"],
        "error": entry["error"],
        "layers": [
            {"name": name, "class": cls, "op": op, "properties": plain(props)}
            for name, cls, op, props in entry.get("layer_properties", [])
        ],
        "inputs": [
            {"name": name, "description": desc}
            for name, desc in entry.get("inputs", [])
        ],
        "outputs": list(entry.get("outputs", [])),
        "parameters": entry.get("parameters") if ok else None,
        "trained": entry.get("trained") if ok else None,
        "nonfinite_weights": entry.get("nonfinite") if ok else None,
    }


def report(path: str | Path, plugins: Sequence[str | Path] = ()) -> dict[str, Any]:
    """The schema-1 document for one file, as Python data."""
    data = api.inspect_file(path, plugins)
    return {
        "schema": SCHEMA,
        "file": data["file"],
        "networks": [_network(n) for n in data["networks"]],
        "nothing_found": data.get("nothing_found"),
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, allow_nan=False, indent=2) + "\n"
