"""Recognise MatConvNet networks (plain structs) by schema."""

from __future__ import annotations

from typing import Any

import numpy as np


def matconvnet_kind(value: Any) -> str | None:
    """'SimpleNN' for a struct with a `layers` cell of structs with `type`; 'DagNN' for
    a struct with `vars`, `params` and `layers` (what DagNN.saveobj returns)."""
    if not (isinstance(value, np.ndarray) and value.dtype.names and value.size == 1):
        return None
    names = set(value.dtype.names)
    if {"vars", "params", "layers"} <= names:
        return "DagNN"
    if "layers" in names:
        layers = value.flat[0]["layers"]
        if isinstance(layers, np.ndarray) and layers.dtype == object and layers.size:
            first = layers.ravel(order="F")[0]
            if (
                isinstance(first, np.ndarray)
                and first.dtype.names
                and "type" in first.dtype.names
            ):
                return "SimpleNN"
    return None


TOP_LEVEL = "(top level)"  # path of a network saved with save(file, '-struct', 'net')


def top_level_network(variables: dict[str, Any]) -> tuple[str, np.ndarray] | None:
    """A SimpleNN or DagNN whose fields are the file's variables (``save -struct``, as the
    MatConvNet model zoo does): (kind, the fields gathered into a 1×1 struct)."""
    keys = [
        k
        for k in ("vars", "params", "layers", "meta", "normalization", "classes")
        if k in variables
    ]
    if "layers" not in keys:
        return None
    struct = np.empty((1, 1), dtype=[(k, object) for k in keys])
    for k in keys:
        struct[0, 0][k] = variables[k]
    kind = matconvnet_kind(struct)
    return (kind, struct) if kind else None
