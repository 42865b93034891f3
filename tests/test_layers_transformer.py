"""embeddingConcatenationLayer against the NumPy reference of MATLAB's documented
behaviour (codegen/reference/matlab_numpy/attention.py).

No real MATLAB file holds this class: its schema is **inferred** from
PositionEmbeddingLayer of the same release (R2023b; seen in tsx_transformer_demo.mat):
a saveobj struct with Weights as a plain single array, here one value per channel (C×1),
and the initializer and learning-rate fields (see codegen/testing/dltwriter/attention.py).
Where the vector goes (before the first time step) is what MATLAB's TensorFlow exporter
writes for the class; the reference follows that.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load
from tests.support import (
    TOL,
    check_layers,
    convert_error,
    image_input,
    rel_err,
    rng_fixture,
    run,
)

rng = rng_fixture(2023)


def rand(g: np.random.Generator, *shape: int) -> np.ndarray:
    return g.standard_normal(shape).astype(np.float32)


def test_embedding_concatenation_puts_the_vector_first(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    c, n, t = 4, 3, 5
    weights = rand(rng, c)
    layers = [w.sequence_input("in", c), w.embedding_concatenation("cls", weights)]
    x = rng.standard_normal((c, n, t))
    source, got = check_layers(tmp_path, layers, {"in": x}, "cls", record_property)
    assert got.shape == (c, n, t + 1)
    assert np.array_equal(got[:, :, 0], np.repeat(weights[:, None], n, axis=1))
    assert 'self.cls = nn.ParameterDict({"weight": nn.Parameter(torch.zeros(4))})' in (
        source
    )


def test_embedding_concatenation_in_a_vit_like_graph(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    """patches → fc → class token → + position embedding (T + 1 positions) → fc, as a
    vision transformer's front end; the position embedding sees T + 1 steps."""
    c, d, n, t = 3, 6, 2, 4
    layers = [
        w.sequence_input("in", c),
        w.fully_connected("embed", rand(rng, d, c), rand(rng, d)),
        w.embedding_concatenation("cls", rand(rng, d)),
        w.position_embedding("pos", rand(rng, d, t + 3)),
        w.addition("add"),
        w.fully_connected("head", rand(rng, 2, d), rand(rng, 2)),
    ]
    conns = [
        ("in", "embed"),
        ("embed", "cls"),
        ("cls", "pos"),
        ("cls", "add/in1"),
        ("pos", "add/in2"),
        ("add", "head"),
    ]
    x = rng.standard_normal((c, n, t))
    _, got = check_layers(tmp_path, layers, {"in": x}, "head", record_property, conns)
    assert got.shape == (2, n, t + 1)


def test_embedding_concatenation_in_a_dlnetwork(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    c = 3
    layers = [
        w.sequence_input("in", c),
        w.embedding_concatenation("cls", rand(rng, c)),
        w.fully_connected("fc", rand(rng, 2, c), rand(rng, 2)),
    ]
    net = w.dlnetwork(layers, list(itertools.pairwise(["in", "cls", "fc"])))
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    _, model = convert_and_load(path, tmp_path / "out")
    x = rng.standard_normal((c, 2, 7))
    got = run(model, x).numpy().transpose(2, 0, 1)
    saved = ref.load_mat(str(path))["net"]
    objects, conns = ref.network_layers(saved)
    expected = ref.run_graph(objects, conns, {"in": x})["fc"]
    assert rel_err(got, expected) <= TOL


def test_embedding_concatenation_refuses_lengths_at_run_time(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """The output has one more step than the input: lengths no longer describe it."""
    layers = [
        w.sequence_input("in", 2),
        w.embedding_concatenation("cls", rand(rng, 2)),
    ]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    _, model = convert_and_load(path, tmp_path / "out")
    x = torch.randn(3, 5, 2)
    assert tuple(model(x).shape) == (3, 6, 2)
    with pytest.raises(ValueError, match="'cls' adds a time step before each sequence"):
        model(x, lengths=torch.tensor([5, 4, 2]))


def test_embedding_concatenation_wrong_weight_count_is_refused(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    layers = [w.sequence_input("in", 3), w.embedding_concatenation("cls", rand(rng, 4))]
    message = convert_error(tmp_path, layers)
    assert "layer 'cls' (nnet.cnn.layer.EmbeddingConcatenationLayer)" in message
    assert "4 Weights for an input of 3 channels" in message


@pytest.mark.parametrize("layout", ["image", "feature"])
def test_embedding_concatenation_other_inputs_are_refused(
    tmp_path: Path, rng: np.random.Generator, layout: str
) -> None:
    first = (
        image_input("in", 4, 4, 3) if layout == "image" else w.feature_input("in", 3)
    )
    layers = [first, w.embedding_concatenation("cls", rand(rng, 3))]
    message = convert_error(tmp_path, layers)
    assert "layer 'cls'" in message and "on sequences (C×T) only" in message


@pytest.mark.parametrize("version", [0, 2])
def test_embedding_concatenation_unknown_version_is_refused(
    tmp_path: Path, rng: np.random.Generator, version: int
) -> None:
    layer = w.with_fields(
        w.embedding_concatenation("cls", rand(rng, 3)), Version=w.double(version)
    )
    message = convert_error(tmp_path, [w.sequence_input("in", 3), layer])
    assert "(nnet.cnn.layer.EmbeddingConcatenationLayer)" in message
    assert f"schema version {version}" in message


def test_embedding_concatenation_reference_by_hand() -> None:
    x = np.arange(2 * 1 * 3, dtype=np.float64).reshape(2, 1, 3)
    y = ref.run_layer(
        w.embedding_concatenation("cls", np.array([7.0, 8.0])), [x]
    )  # type: ignore[arg-type]
    assert np.array_equal(y[:, 0, :], [[7, 0, 1, 2], [8, 3, 4, 5]])
