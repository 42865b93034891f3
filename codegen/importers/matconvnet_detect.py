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
            if isinstance(first, np.ndarray) and first.dtype.names and "type" in first.dtype.names:
                return "SimpleNN"
    return None
