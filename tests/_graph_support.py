"""Helpers for the graph and merge-layer tests: write a network, convert it, run both sides."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from codegen.api import convert
from codegen.testing import dltwriter as w
from tests.conftest import import_generated
from tests.reference import matlab_numpy as ref


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |a − e| / max |e| (shapes must agree exactly)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30))


def to_torch(x: np.ndarray) -> torch.Tensor:
    """MATLAB layout → PyTorch: (H,W,C,N) → (N,C,H,W); (C,N) → (N,C); (C,N,T) → (N,T,C)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4:
        return torch.from_numpy(np.ascontiguousarray(x.transpose(3, 2, 0, 1)))
    if x.ndim == 3:
        return torch.from_numpy(np.ascontiguousarray(x.transpose(1, 2, 0)))
    return torch.from_numpy(np.ascontiguousarray(x.T))


def from_torch(y: torch.Tensor, like_image: bool | None = None) -> np.ndarray:
    """PyTorch output → MATLAB layout (the inverse of :func:`to_torch`)."""
    a = y.detach().numpy().astype(np.float64)
    if a.ndim == 4:
        return a.transpose(2, 3, 1, 0)
    if a.ndim == 3:
        return a.transpose(2, 0, 1)
    return a.T


def as_matlab_features(e: np.ndarray) -> np.ndarray:
    """MATLAB's 1×1×C×N (an FC in an image network) as C×N."""
    return e.reshape(e.shape[-2], e.shape[-1]) if e.ndim == 4 else e


def write_and_convert(
    tmp_path: Path,
    variables: Mapping[str, Any],
    variable: str | None = None,
    version: str = "v7",
    name: str = "net.mat",
) -> tuple[ModuleType, torch.nn.Module, Path]:
    """Write ``variables`` with the project's writer, convert, import, load_model()."""
    mat_path = tmp_path / name
    w.write_mat(mat_path, variables, version=version)  # type: ignore[arg-type]
    out = tmp_path / f"out_{mat_path.stem}"
    convert(mat_path, out, variable=variable, force=True)
    module = import_generated(out)
    return module, module.load_model(), mat_path


def reference_graph(net: Any, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every layer's output from the independent NumPy reference (MATLAB layout)."""
    layers, connections = ref.network_layers(net)
    if connections is None:
        names = [ref.layer_name(layer) for layer in layers]
        connections = list(itertools.pairwise(names))
    return ref.run_graph(layers, connections, inputs)


def run(model: torch.nn.Module, *inputs: np.ndarray) -> Any:
    with torch.no_grad():
        return model(*(to_torch(x) for x in inputs))
