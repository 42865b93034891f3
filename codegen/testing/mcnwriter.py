"""Write MatConvNet SimpleNN networks as MatConvNet saves them, Level-5 or v7.3.

A SimpleNN is a plain struct: ``net.layers`` a 1×N cell of layer structs and
``net.meta`` (normalization, classes). Level-5 files are written with scipy (as the
tests do); v7.3 (HDF5) with mat-io's writer; both compressed, like MATLAB's default. Arrays are in
MATLAB layout: conv filters H×W×Cin×Cout, biases Cout×1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np


def cell(*items: Any) -> np.ndarray:
    """A 1×N cell."""
    out = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        out[0, i] = item
    return out


def conv(
    name: str, filters: np.ndarray, bias: np.ndarray, pad: int = 0, stride: int = 1
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "conv",
        "weights": cell(
            np.asarray(filters, np.float32),
            np.asarray(bias, np.float32).reshape(-1, 1),
        ),
        "stride": np.array([[stride, stride]], np.float64),
        "pad": np.array([[pad, pad, pad, pad]], np.float64),
    }


def relu(name: str) -> dict[str, Any]:
    return {"name": name, "type": "relu", "leak": 0.0}


def max_pool(name: str, size: int = 2, stride: int = 2) -> dict[str, Any]:
    return {
        "name": name,
        "type": "pool",
        "method": "max",
        "pool": np.array([[size, size]], np.float64),
        "stride": np.array([[stride, stride]], np.float64),
        "pad": np.zeros((1, 4)),
    }


def softmax(name: str) -> dict[str, Any]:
    return {"name": name, "type": "softmax"}


def simplenn(
    layers: Sequence[Mapping[str, Any]],
    image_size: Sequence[int],
    average_image: np.ndarray | None = None,
) -> dict[str, Any]:
    """The ``net`` struct: layers, and meta.normalization (imageSize, averageImage)."""
    normalization: dict[str, Any] = {
        "imageSize": np.array([list(image_size)], np.float64)
    }
    if average_image is not None:
        normalization["averageImage"] = np.asarray(average_image, np.float32)
    return {
        "layers": cell(*[dict(layer) for layer in layers]),
        "meta": {"normalization": normalization},
    }


def write_simplenn(
    path: str | os.PathLike[str],
    net: Mapping[str, Any],
    version: Literal["v5", "v7.3"] = "v5",
    variable: str = "net",
) -> None:
    """Save ``net`` under ``variable`` like MATLAB's ``save`` (v5: ``-v7``; v7.3: HDF5)."""
    if version == "v5":
        import scipy.io

        scipy.io.savemat(os.fspath(path), {variable: dict(net)}, do_compression=True)
    else:
        from matio import save_to_mat

        save_to_mat(os.fspath(path), {variable: dict(net)}, version="v7.3")
