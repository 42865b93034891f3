"""Helpers the layer, graph and sequence tests share: write a network with the schema
writer, convert it with the public API, run it on MATLAB-layout data, compare with the
NumPy reference.

MATLAB layouts (what the references use) ↔ PyTorch layouts (what generated models use):
images (H,W,C,N) ↔ (N,C,H,W), features (C,N) ↔ (N,C), sequences (C,N,T) ↔ (N,T,C).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from codegen.api import Conversion, convert
from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as dw
from tests.conftest import convert_and_load, import_generated

# How closely a float32 generated model must agree with the float64 NumPy reference
# (max |difference| / max |expected|).
TOL = 1e-5


def rng_fixture(seed: int) -> Callable[[], np.random.Generator]:
    """A pytest fixture named ``rng`` giving each test a fresh generator seeded with ``seed``;
    a test module binds it as ``rng = rng_fixture(seed)``."""

    @pytest.fixture
    def rng() -> np.random.Generator:
        return np.random.default_rng(seed)

    return rng


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Standard-normal single-precision values (what MATLAB stores for learnables)."""
    return rng.standard_normal(shape).astype(np.float32)


def rel_err(actual: np.ndarray, expected: np.ndarray, floor: float = 1e-30) -> float:
    """max |actual − expected| / max |expected| (shapes must agree exactly); ``floor``
    keeps an all-zero expectation from dividing by zero."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(
        expected, dtype=np.float64
    )
    assert (
        actual.shape == expected.shape
    ), f"shape {actual.shape} != expected {expected.shape}"
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), floor))


def rel_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """:func:`rel_err` as the sequence tests have always measured it (floor 1e-12)."""
    return rel_err(actual, expected, floor=1e-12)


def to_torch(x: np.ndarray) -> torch.Tensor:
    """MATLAB layout → PyTorch: (H,W,C,N) → (N,C,H,W); (C,N) → (N,C); (C,N,T) → (N,T,C)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4:
        return torch.from_numpy(np.ascontiguousarray(x.transpose(3, 2, 0, 1)))
    if x.ndim == 3:
        return torch.from_numpy(np.ascontiguousarray(x.transpose(1, 2, 0)))
    return torch.from_numpy(np.ascontiguousarray(x.T))


def to_matlab(y: torch.Tensor) -> np.ndarray:
    """PyTorch output → MATLAB layout, in float64 (the inverse of :func:`to_torch`)."""
    a = y.detach().numpy().astype(np.float64)
    if a.ndim == 4:
        return a.transpose(2, 3, 1, 0)
    if a.ndim == 3:
        return a.transpose(2, 0, 1)
    return a.T


from_torch = to_matlab  # the name the graph and merge-layer tests use


def as_matlab_features(e: np.ndarray) -> np.ndarray:
    """MATLAB's 1×1×C×N (an FC in an image network) as C×N."""
    return e.reshape(e.shape[-2], e.shape[-1]) if e.ndim == 4 else e


def run(
    model: torch.nn.Module, *inputs: np.ndarray | torch.Tensor, **kwargs: Any
) -> Any:
    """``model.predict`` (what MATLAB's predict returns) without gradients; MATLAB-layout
    arrays are converted, tensors (lengths, masks already in PyTorch layout) pass as they
    are."""
    args = [to_torch(x) if isinstance(x, np.ndarray) else x for x in inputs]
    with torch.no_grad():
        return model.predict(*args, **kwargs)


def convert_into(
    mat_path: Path, out: Path, variable: str | None = None
) -> tuple[Conversion, ModuleType, torch.nn.Module]:
    """Convert (overwriting ``out``), import the generated file, ``load_model()``."""
    result = convert(mat_path, out, variable=variable, force=True)
    module = import_generated(out)
    return result, module, module.load_model()


def write_and_convert(
    tmp_path: Path,
    variables: Mapping[str, Any],
    variable: str | None = None,
    version: str = "v7",
    name: str = "net.mat",
) -> tuple[ModuleType, torch.nn.Module, Path]:
    """Write ``variables`` with the schema writer into ``name``, convert into
    ``out_<stem>``, import, ``load_model()``."""
    mat_path = tmp_path / name
    dw.write_mat(mat_path, variables, version=version)  # type: ignore[arg-type]
    _, module, model = convert_into(
        mat_path, tmp_path / f"out_{mat_path.stem}", variable
    )
    return module, model, mat_path


def convert_network(
    tmp_path: Path, network: Any, variable: str = "net"
) -> tuple[ModuleType, torch.nn.Module]:
    """Save ``network`` like MATLAB would, convert it into ``out``, load its weights strictly."""
    path = tmp_path / f"{variable}.mat"
    dw.write_mat(path, {variable: network})
    return convert_and_load(path, tmp_path / "out")


def reference_graph(
    net: Any, inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Every layer's output from the independent NumPy reference (MATLAB layout)."""
    layers, connections = ref.network_layers(net)
    if connections is None:
        names = [ref.layer_name(layer) for layer in layers]
        connections = list(itertools.pairwise(names))
    return ref.run_graph(layers, connections, inputs)


def image_input(name: str, h: int, w: int, c: int) -> Any:
    """An ImageInputLayer of H×W×C without input normalization."""
    return dw.image_input(name, (h, w, c), "none")


def input_and_batch_shape(layout: str, c: int) -> tuple[Any, tuple[int, ...]]:
    """An input layer named 'in' and the MATLAB shape of a batch for it (odd sizes, N = 3)."""
    if layout == "image":
        return image_input("in", 5, 7, c), (5, 7, c, 3)
    if layout == "sequence":
        return dw.sequence_input("in", c), (c, 3, 9)  # C×N×T
    return dw.feature_input("in", c), (c, 3)


def check_layers(
    tmp_path: Path,
    layers: Sequence[Any],
    inputs: Mapping[str, np.ndarray],
    output: str,
    record_property: Callable[[str, object], None],
    connections: Sequence[tuple[str, str]] | None = None,
) -> tuple[str, np.ndarray]:
    """Write a SeriesNetwork (or a DAGNetwork with ``connections``), convert, run the
    generated module on ``inputs`` (MATLAB layout, keyed by input layer name) and compare
    layer ``output`` with the reference; records the error as the ``max_rel_err``
    property and returns the generated source and the output."""
    net = (
        dw.series_network(layers)
        if connections is None
        else dw.dag_network(layers, connections)
    )
    path = tmp_path / "net.mat"
    dw.write_mat(path, {"net": net})
    _, model = convert_and_load(path, tmp_path / "out")
    # Positional, in the file's order of input layers (the generated forward's order).
    got = to_matlab(run(model, *inputs.values()))
    expected = reference_graph(ref.load_mat(str(path))["net"], inputs)[output]
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"
    return (tmp_path / "out" / "model.py").read_text(), got


def check_last_layer(
    tmp_path: Path,
    layers: Sequence[Any],
    x: np.ndarray,
    record_property: Callable[[str, object], None],
) -> tuple[str, np.ndarray]:
    """:func:`check_layers` for a SeriesNetwork whose input layer is 'in', comparing its
    last layer."""
    output = ref.layer_name(layers[-1])
    return check_layers(tmp_path, layers, {"in": x}, output, record_property)


def convert_error(
    tmp_path: Path, layers: Sequence[Any], connections: Any = None
) -> str:
    """The one-sentence ConversionError converting a network of ``layers`` raises."""
    net = (
        dw.series_network(layers)
        if connections is None
        else dw.dag_network(layers, connections)
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "net.mat"
    dw.write_mat(path, {"net": net})
    with pytest.raises(ConversionError) as info:
        convert_and_load(path, tmp_path / "out")
    message = str(info.value)
    assert "net.mat, variable 'net'" in message and "\n" not in message
    return message
