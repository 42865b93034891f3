"""Per-layer checks for image/feature networks: converter + template against the
independent NumPy reference of MATLAB semantics (codegen/reference/matlab_numpy/).

Each case writes a tiny SeriesNetwork in MATLAB's schema with the project's writer
(classes with no real sample use an inferred schema, marked in the writer), converts it,
runs the generated module and compares with the reference run on the same file in
MATLAB layout. Shapes include odd sizes, stride 2 with 'same' and even kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load

RNG = np.random.default_rng(7)


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def to_matlab(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) → (H, W, C, N); (N, C) → (C, N)."""
    a = x.detach().numpy().astype(np.float64)
    return a.transpose(2, 3, 1, 0) if a.ndim == 4 else a.T


def from_matlab_output(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The reference output in the generated model's layout."""
    if like.ndim == 4:
        return y.transpose(3, 2, 0, 1)
    n = like.shape[0]
    return y.reshape(-1, n, order="F").T if y.ndim == 4 else y.T


def check(tmp_path: Path, layers: list, x: torch.Tensor, *, tol: float = 1e-5) -> str:
    """Write, convert, run both sides; returns the generated source for extra asserts."""
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    module, model = convert_and_load(path, tmp_path / "out")
    with torch.no_grad():
        got = model.predict(x).numpy()
    objects, _ = ref.network_layers(ref.load_mat(str(path))["net"])
    expected = from_matlab_output(ref.run_layers(objects, to_matlab(x)), got)
    assert got.shape == expected.shape
    err = np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-12)
    assert err <= tol, f"relative error {err:.2e}"
    return (tmp_path / "out" / "model.py").read_text()


def image(h: int, w_: int, c: int, n: int = 2) -> torch.Tensor:
    return torch.from_numpy(rand(n, c, h, w_))


def inp(h: int, w_: int, c: int) -> object:
    return w.image_input("in", (h, w_, c), "none")


# --------------------------------------------------------------------- convolution

CONV_CASES = {
    "manual symmetric": dict(k=(3, 3), padding=(1, 1, 1, 1)),
    "no padding, stride 2": dict(k=(3, 3), stride=(2, 2), padding=(0, 0, 0, 0)),
    "asymmetric manual": dict(k=(3, 2), padding=(0, 2, 1, 0)),
    "even kernel same stored": dict(
        k=(2, 2), padding_mode="same", padding=(0, 1, 0, 1)
    ),
    "same unresolved, stride 2, odd size": dict(
        k=(3, 3), stride=(2, 2), padding_mode="same", padding=None
    ),
    "even kernel same unresolved": dict(k=(4, 2), padding_mode="same", padding=None),
    "dilation 2 same": dict(
        k=(3, 3), dilation=(2, 2), padding_mode="same", padding=None
    ),
    "pad value 1.5": dict(k=(3, 3), padding=(1, 2, 2, 1), padding_value=1.5),
    "replicate": dict(k=(3, 3), padding=(1, 1, 2, 0), padding_value="replicate"),
    "symmetric exclude edge": dict(
        k=(3, 3), padding=(2, 1, 1, 2), padding_value="symmetric-exclude-edge"
    ),
    "symmetric include edge": dict(
        k=(3, 3), padding=(2, 1, 1, 2), padding_value="symmetric-include-edge"
    ),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d(tmp_path: Path, case: str) -> None:
    spec = dict(CONV_CASES[case])
    kh, kw = spec.pop("k")
    c_in, c_out = 3, 4
    layer = w.conv2d("conv", rand(kh, kw, c_in, c_out), rand(1, 1, c_out), **spec)
    source = check(tmp_path, [inp(7, 9, c_in), layer], image(7, 9, c_in))
    if (
        spec.get("padding") not in (None, (1, 1, 1, 1), (0, 0, 0, 0))
        or spec.get("padding_mode") == "same"
    ):
        assert "F.pad" in source or "pad_symmetric" in source or "padding=" in source


def test_conv2d_single_filter_weights_without_trailing_singleton(
    tmp_path: Path,
) -> None:
    layer = w.conv2d("conv", rand(3, 3, 5, 1), rand(1, 1, 1), padding=(1, 1, 1, 1))
    check(tmp_path, [inp(6, 5, 5), layer], image(6, 5, 5))


# ----------------------------------------------------------- normalization & activations

ACTIVATIONS: dict[str, Callable[[], object]] = {
    "relu": lambda: w.relu("act"),
    "leaky_relu": lambda: w.leaky_relu("act", 0.2),
    "clipped_relu": lambda: w.clipped_relu("act", 0.5),
    "elu": lambda: w.elu("act", 0.7),
    "tanh": lambda: w.tanh_layer("act"),
    "sigmoid": lambda: w.sigmoid_layer("act"),
    "swish": lambda: w.swish("act"),
    "gelu": lambda: w.gelu("act"),
    "gelu_tanh": lambda: w.gelu("act", "tanh"),
    "dropout": lambda: w.dropout("act", 0.3),
    "softmax": lambda: w.softmax("act"),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(tmp_path: Path, name: str) -> None:
    check(tmp_path, [inp(5, 3, 4), ACTIVATIONS[name]()], image(5, 3, 4))


def test_batchnorm(tmp_path: Path) -> None:
    c = 6
    layer = w.batchnorm(
        "bn",
        mean=rand(1, 1, c),
        var=(np.abs(rand(1, 1, c)) + 0.1).astype(np.float32),
        offset=rand(1, 1, c),
        scale=rand(1, 1, c),
        epsilon=1e-3,
    )
    check(tmp_path, [inp(4, 5, c), layer], image(4, 5, c))


# --------------------------------------------------------------------------- pooling

POOL_CASES = {
    "2x2 stride 2": dict(pool=(2, 2), stride=(2, 2)),
    "3x3 stride 2 pad 1": dict(pool=(3, 3), stride=(2, 2), padding=(1, 1, 1, 1)),
    "asymmetric pad": dict(pool=(2, 2), stride=(1, 1), padding=(0, 1, 0, 1)),
    "same stride 2 odd size": dict(
        pool=(3, 3), stride=(2, 2), padding_mode="same", padding=None
    ),
    "pad wider than half window": dict(
        pool=(3, 3), stride=(1, 2), padding=(2, 2, 2, 2)
    ),
    "3x2 stride 3x1": dict(pool=(3, 2), stride=(3, 1), padding=(2, 0, 0, 1)),
}


@pytest.mark.parametrize("case", sorted(POOL_CASES))
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling(tmp_path: Path, case: str, kind: str) -> None:
    spec = dict(POOL_CASES[case])
    pool = spec.pop("pool")
    build = w.max_pool2d if kind == "max" else w.avg_pool2d
    x = image(7, 9, 3)
    if kind == "max":
        x = x - 10.0  # all negative: a zero-padded max pool would be caught
    check(tmp_path, [inp(7, 9, 3), build("pool", pool, **spec)], x)


def test_average_pooling_excludes_padding_with_mean_padding_value(
    tmp_path: Path,
) -> None:
    layer = w.avg_pool2d(
        "pool", (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), padding_value="mean"
    )
    check(tmp_path, [inp(7, 8, 2), layer], image(7, 8, 2))


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_global_pooling(tmp_path: Path, kind: str) -> None:
    build = w.global_avg_pool2d if kind == "avg" else w.global_max_pool2d
    check(
        tmp_path,
        [
            inp(5, 7, 3),
            build("gp"),
            w.fully_connected("fc", rand(1, 1, 3, 2), rand(2, 1)),
        ],
        image(5, 7, 3),
    )


# ------------------------------------------------------------------ fully connected


def test_fully_connected_on_image_uses_matlab_flatten_order(tmp_path: Path) -> None:
    source = check(
        tmp_path,
        [inp(3, 5, 4), w.fully_connected("fc", rand(3, 5, 4, 6), rand(6, 1))],
        image(3, 5, 4),
    )
    assert "torch.flatten" in source
    assert "# flattens C×H×W = 4×3×5; weights reordered from MATLAB's H, W, C" in source


def test_fully_connected_one_output_stored_without_trailing_singleton(
    tmp_path: Path,
) -> None:
    layers = [
        inp(2, 2, 3),
        w.fully_connected("fc1", rand(2, 2, 3, 4), rand(4, 1)),
        w.relu("r"),
        w.fully_connected("fc2", rand(1, 1, 4, 1), rand(1, 1)),
    ]
    check(tmp_path, layers, image(2, 2, 3))


def test_feature_input_fully_connected_2d_weights(tmp_path: Path) -> None:
    layers = [
        w.feature_input(
            "features",
            5,
            "zscore",
            mean=rand(5, 1),
            std=(np.abs(rand(5, 1)) + 0.5).astype(np.float32),
        ),
        w.fully_connected("fc", rand(3, 5), rand(3, 1), input_size=None, output_size=3),
        w.tanh_layer("t"),
        w.fully_connected(
            "out", rand(2, 3), rand(2, 1), input_size=None, output_size=2
        ),
        w.softmax("sm"),
    ]
    check(tmp_path, layers, torch.from_numpy(rand(4, 5)))


# ------------------------------------------------------------- input normalization


def _norm_cases() -> dict[str, tuple[tuple[int, int, int], dict]]:
    pos = lambda *s: (np.abs(rand(*s)) + 0.5).astype(np.float32)  # noqa: E731
    return {
        "zerocenter full image": (
            (4, 5, 3),
            dict(normalization="zerocenter", mean=rand(4, 5, 3)),
        ),
        "zerocenter per channel": (
            (4, 5, 3),
            dict(normalization="zerocenter", mean=rand(1, 1, 3)),
        ),
        "zerocenter scalar": (
            (4, 5, 3),
            dict(normalization="zerocenter", mean=rand(1, 1)),
        ),
        "zerocenter HxW gray": (
            (4, 5, 1),
            dict(normalization="zerocenter", mean=rand(4, 5)),
        ),
        "zscore": (
            (4, 5, 3),
            dict(normalization="zscore", mean=rand(1, 1, 3), std=pos(1, 1, 3)),
        ),
        "rescale-symmetric": (
            (4, 5, 2),
            dict(
                normalization="rescale-symmetric", min=-pos(1, 1, 2), max=pos(1, 1, 2)
            ),
        ),
        "rescale-zero-one": (
            (4, 5, 2),
            dict(normalization="rescale-zero-one", min=-pos(4, 5, 2), max=pos(4, 5, 2)),
        ),
    }


@pytest.mark.parametrize("case", sorted(_norm_cases()))
def test_input_normalization(tmp_path: Path, case: str) -> None:
    size, spec = _norm_cases()[case]
    layers = [w.image_input("in", size, **spec), w.relu("r")]
    check(tmp_path, layers, image(size[0], size[1], size[2]) * 3)


def test_class_names_become_a_tuple(tmp_path: Path) -> None:
    classes = ["cat", "dog's", 'say "hi"', "naïve"]
    layers = [
        inp(2, 2, 1),
        w.fully_connected("fc", rand(2, 2, 1, 4), rand(4, 1)),
        w.softmax("sm"),
        w.classification_output("out", classes),
    ]
    check(tmp_path, layers, image(2, 2, 1))
    module_source = (tmp_path / "out" / "model.py").read_text()
    from tests.conftest import import_generated

    assert tuple(classes) == import_generated(tmp_path / "out").CLASSES
    assert "class Net" in module_source or "(nn.Module)" in module_source
