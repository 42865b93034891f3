"""Sequences of images: sequenceInputLayer([h w c]), sequence folding and unfolding, and
the flatten and fully connected layers that make vector sequences of them, against the
NumPy reference of MATLAB's rules (codegen/reference/matlab_numpy/image_sequence.py).

No real MATLAB file holds an image-sequence network: the SequenceInputLayer schema is the
real v5 one with a 3-element InputSize, the folding and unfolding layers' schema is
**inferred** from MATLAB's documentation (codegen/testing/dltwriter/image_sequence.py),
and no MATLAB oracle confirms the rules. The reference computes folded layers at every
time step on their own, never through the reshape the generated code uses.

Sizes are odd and all different (H 7, W 5, T 5, N 3, C 2) so a swapped dimension, a
wrong fold order or a wrong flatten order shows.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen.api import convert as api_convert
from codegen.errors import ConversionError
from codegen.ir import IMAGE_SEQUENCE, TensorInfo
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import image_sequence as isref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load, import_generated
from tests.support import TOL, rel_err

H, W, C, T, N = 7, 5, 2, 5, 3
FILTERS, HIDDEN, CLASSES = 3, 4, 3
# After conv 3×3 (padding 1) and max pooling 2×2 stride 2: 3×2×FILTERS per time step.
POOLED = 3 * 2 * FILTERS
RNG = np.random.default_rng(47)


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * RNG.standard_normal(shape)).astype(np.float32)


def frames(n: int = N, t: int = T, h: int = H, w_: int = W, c: int = C) -> np.ndarray:
    """A MATLAB-layout batch of image sequences H×W×C×N×T."""
    return RNG.standard_normal((h, w_, c, n, t))


def to_matlab(y: torch.Tensor) -> np.ndarray:
    """PyTorch → MATLAB layout: (N, K) → K×N, (N, T, K) → K×N×T, (N, T, C, H, W) → H×W×C×N×T."""
    a = y.detach().numpy().astype(np.float64)
    return a.transpose({2: (1, 0), 3: (2, 0, 1), 5: (3, 4, 2, 0, 1)}[a.ndim])


def convert(tmp_path: Path, net: Any) -> tuple[Any, torch.nn.Module, Any]:
    """Write ``net``, convert it, load the weights strictly; also the saved network."""
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    module, model = convert_and_load(path, tmp_path / "out")
    return module, model, ref.load_mat(str(path))["net"]


def reference(saved: Any, x: np.ndarray, input_name: str = "input") -> dict[str, Any]:
    layers, connections = ref.network_layers(saved)
    return isref.run_network(layers, connections, {input_name: x})


def predict(
    module: Any, model: torch.nn.Module, x: np.ndarray, **kw: Any
) -> np.ndarray:
    with torch.no_grad():
        return to_matlab(model.predict(module.from_matlab(x), **kw))


def check(got: np.ndarray, expected: np.ndarray) -> float:
    err = rel_err(got, expected, floor=1e-12)
    print(f"max relative error {err:.1e}")
    assert err <= TOL, f"relative error {err:.2e}"
    return err


def source(tmp_path: Path) -> str:
    return (tmp_path / "out" / "model.py").read_text()


# --------------------------------------------------------------------------- networks


def cnn_layers(normalization: str = "zerocenter") -> list[Any]:
    """input → fold → conv → BN → ReLU → max pool → unfold → flatten."""
    return [
        w.image_sequence_input(
            "input", (H, W, C), normalization, mean=rand(H, W, C, scale=0.5)
        ),
        w.sequence_folding("fold"),
        w.conv2d(
            "conv",
            rand(3, 3, C, FILTERS, scale=1 / np.sqrt(9 * C)),
            rand(FILTERS),
            padding=(1, 1, 1, 1),
        ),
        w.batchnorm(
            "bn",
            rand(FILTERS, scale=0.2),
            RNG.uniform(0.5, 1.5, FILTERS).astype(np.float32),
            rand(FILTERS, scale=0.3),
            RNG.uniform(0.5, 1.5, FILTERS).astype(np.float32),
        ),
        w.relu("relu"),
        w.max_pool2d("pool", (2, 2), stride=(2, 2)),
        w.sequence_unfolding("unfold"),
        w.flatten("flatten"),
    ]


def chain(layers: list[Any], fold_source: str = "fold/out") -> list[tuple[str, str]]:
    """Layer i → layer i+1, the fold's first output named ``fold_source``, plus
    'fold/miniBatchSize' → 'unfold/miniBatchSize' when both layers are there."""
    names = [ref.layer_name(layer) for layer in layers]
    edges = [
        (fold_source if a == "fold" else a, b) for a, b in itertools.pairwise(names)
    ]
    if "fold" in names and "unfold" in names:
        edges.append(("fold/miniBatchSize", "unfold/miniBatchSize"))
    return edges


def lstm(mode: str, inputs: int = POOLED) -> Any:
    return w.lstm(
        "lstm",
        rand(4 * HIDDEN, inputs, scale=0.4),
        rand(4 * HIDDEN, HIDDEN, scale=0.4),
        rand(4 * HIDDEN, scale=0.3),
        output_mode=mode,
    )


def head() -> list[Any]:
    return [
        w.fully_connected("fc", rand(CLASSES, HIDDEN), rand(CLASSES)),
        w.softmax("softmax"),
    ]


def cnn_lstm(kind: str, mode: str = "last") -> Any:
    """MATLAB's video-classification pattern, as a DAGNetwork (R2019a–R2022, with its
    classification layer and 'fold/out' named) or a dlnetwork ('fold' unnamed)."""
    layers = [*cnn_layers(), lstm(mode), *head()]
    if kind == "dag":
        layers.append(w.classification_output("classoutput", ["a", "b", "c"]))
        return w.dag_network(layers, chain(layers))
    return w.dlnetwork(layers, chain(layers, fold_source="fold"))


@pytest.mark.parametrize(
    ("kind", "mode"),
    [("dag", "last"), ("dlnetwork", "last"), ("dlnetwork", "sequence")],
)
def test_cnn_lstm_against_reference(tmp_path: Path, kind: str, mode: str) -> None:
    module, model, saved = convert(tmp_path, cnn_lstm(kind, mode))
    x = frames()
    expected = reference(saved, x)
    check(predict(module, model, x), expected["softmax"])


def test_network_ending_in_image_sequences(tmp_path: Path) -> None:
    """input → fold → conv → BN → ReLU → pool → unfold as a dlnetwork's output."""
    layers = cnn_layers()[:7]
    module, model, saved = convert(tmp_path, w.dlnetwork(layers, chain(layers)))
    x = frames()
    got = predict(module, model, x)
    assert got.shape == (3, 2, FILTERS, N, T)
    check(got, reference(saved, x)["unfold"])
    assert f"Output ``unfold``: (N, T, {FILTERS}, 3, 2)." in source(tmp_path)


def test_generated_code_folds_in_one_readable_line(tmp_path: Path) -> None:
    convert(tmp_path, cnn_lstm("dag"))
    text = source(tmp_path)
    # The normalized input and each layer's output flow from one line to the next as x.
    assert "fold, fold_mini_batch_size = x.flatten(0, 1), x.shape[0]" in text
    assert "x = x.unflatten(0, (fold_mini_batch_size, -1))" in text
    assert "x = torch.flatten(x.transpose(3, 4), 2)" in text
    assert "float tensor (N, T, 2, 7, 5) in N×T×C×H×W order" in text
    assert "H×W×C×T (7×5×2 per time step)" in text
    assert "H×W×C×N×T → (N, T, C, H, W)" in text
    assert "pass their lengths (N,) as ``lengths``" in text
    assert "codegen" not in text


def test_from_matlab_takes_one_observation_or_a_batch(tmp_path: Path) -> None:
    module, model, _ = convert(tmp_path, cnn_lstm("dlnetwork"))
    x = frames()
    batch = module.from_matlab(x)
    assert tuple(batch.shape) == (N, T, C, H, W)
    assert float(batch[1, 3, 0, 4, 2]) == pytest.approx(x[4, 2, 0, 1, 3])
    one = module.from_matlab(x[:, :, :, 1, :])  # a cell element: H×W×C×T
    assert torch.equal(one, batch[1:2])
    single_frame = module.from_matlab(x[:, :, :, 1, 0])  # T = 1 saved as H×W×C
    assert torch.equal(single_frame, batch[1:2, :1])


def test_sequences_of_different_lengths_give_what_they_give_alone(
    tmp_path: Path,
) -> None:
    module, model, saved = convert(tmp_path, cnn_lstm("dlnetwork"))
    lengths = [5, 2, 4]
    x = frames()
    for i, length in enumerate(lengths):
        x[..., i, length:] = 0.0  # right padding
    got = predict(module, model, x, lengths=torch.tensor(lengths))
    for i, length in enumerate(lengths):
        alone = x[:, :, :, i : i + 1, :length]
        check(got[:, i : i + 1], reference(saved, alone)["softmax"])


# --------------------------------------------------------------------------- input layer

NORMALIZATIONS: dict[str, dict[str, Any]] = {
    "zerocenter H×W×C": dict(mean=rand(H, W, C)),
    "zscore 1×1×C": dict(mean=rand(C), std=RNG.uniform(0.5, 2, C).astype(np.float32)),
    "rescale-symmetric scalar": dict(min=np.float32(-1.5), max=np.float32(2.5)),
    "rescale-zero-one H×W×C": dict(min=rand(H, W, C) - 3, max=rand(H, W, C) + 3),
}


@pytest.mark.parametrize("case", sorted(NORMALIZATIONS))
def test_input_normalization_then_flatten(tmp_path: Path, case: str) -> None:
    kind = case.split()[0]
    layers = [
        w.image_sequence_input("input", (H, W, C), kind, **NORMALIZATIONS[case]),
        w.flatten("flatten"),
        w.regression_output("out"),
    ]
    module, model, saved = convert(tmp_path, w.series_network(layers))
    x = frames()
    got = predict(module, model, x)
    assert got.shape == (H * W * C, N, T)
    check(got, reference(saved, x, "input")["flatten"])


def test_untrained_normalization_keeps_channel_buffers(tmp_path: Path) -> None:
    layers = [
        w.image_sequence_input("input", (H, W, C), "zscore"),  # no statistics stored
        w.flatten("flatten"),
    ]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.layer_graph(layers, chain(layers))})
    api_convert(path, tmp_path / "out")
    model = import_generated(tmp_path / "out").load_model()
    assert tuple(model.input_mean.shape) == (C, 1, 1)
    assert tuple(model.input_std.shape) == (C, 1, 1)


def test_min_length_is_documented(tmp_path: Path) -> None:
    layers = [
        w.image_sequence_input("input", (H, W, C), "none", min_length=4),
        w.flatten("flatten"),
        w.regression_output("out"),
    ]
    convert(tmp_path, w.series_network(layers))
    assert "at least 4 time steps (MinLength)" in source(tmp_path)


# --------------------------------------------------------------------------- fully connected


@pytest.mark.parametrize("form", ["Out×(H·W·C)", "H×W×C×Out"])
def test_fully_connected_directly_on_image_sequences(tmp_path: Path, form: str) -> None:
    """dlnetwork: fullyconnect sums over H, W, C and keeps N and T (SSCBT → CBT)."""
    weights = rand(H, W, C, CLASSES, scale=0.2)
    if form == "Out×(H·W·C)":
        weights = np.ascontiguousarray(weights.reshape(-1, CLASSES, order="F").T)
    layers = [
        w.image_sequence_input("input", (H, W, C), "none"),
        w.fully_connected("fc", weights, rand(CLASSES), input_size=None),
        w.softmax("softmax", channel_dim=1, vector_format=True),
    ]
    module, model, saved = convert(tmp_path, w.dlnetwork(layers, chain(layers)))
    x = frames()
    got = predict(module, model, x)
    assert got.shape == (CLASSES, N, T)
    check(got, reference(saved, x)["softmax"])
    assert "self.fc(torch.flatten(input_, 2))" in source(tmp_path)


def test_fully_connected_inside_the_fold_unfolds_into_vector_sequences(
    tmp_path: Path,
) -> None:
    """fold → conv → fc → unfold → flatten → LSTM: MATLAB's FC makes 1×1×K images, which
    unfold into 1×1×K image sequences and flatten into K-channel sequences."""
    k = 6
    layers = [
        *cnn_layers("none")[:3],
        w.fully_connected("fc_frame", rand(H, W, FILTERS, k, scale=0.1), rand(k)),
        w.sequence_unfolding("unfold"),
        w.flatten("flatten"),
        lstm("sequence", inputs=k),
        *head(),
    ]
    module, model, saved = convert(tmp_path, w.dlnetwork(layers, chain(layers)))
    x = frames()
    check(predict(module, model, x), reference(saved, x)["softmax"])


# --------------------------------------------------------------------------- reference


def test_reference_fold_reshape_agrees_with_per_time_step(tmp_path: Path) -> None:
    """The reference's two forms of folding: MATLAB's reshape (the registered rules, one
    layer at a time) and every time step on its own (run_network)."""
    layers = cnn_layers()
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.layer_graph(layers, chain(layers))})
    objects, connections = ref.network_layers(ref.load_mat(str(path))["net"])
    x = frames()
    y, n = ref.run_layer(objects[0], [x]), x.shape[3]
    assert y.ndim == 5
    y = ref.run_layer(objects[1], [y])  # fold: H×W×C×(N·T)
    assert y.shape == (H, W, C, N * T)
    for layer in objects[2:6]:
        y = ref.run_layer(layer, [y])
    y = ref.run_layer(objects[6], [y, np.array(n)])  # unfold
    per_step = isref.run_network(objects, connections, {"input": x})
    np.testing.assert_allclose(y, per_step["unfold"], rtol=0, atol=1e-12)
    assert per_step["fold/miniBatchSize"] == N


# --------------------------------------------------------------------------- refusals


def error_for(tmp_path: Path, layers: list[Any], edges: list[tuple[str, str]]) -> str:
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.layer_graph(layers, edges)})
    with pytest.raises(ConversionError) as info:
        api_convert(path, tmp_path / "out")
    return str(info.value)


@pytest.mark.parametrize(
    ("size", "words"),
    [((H, W, 4, C), "3-D images are not supported"), ((H, W), "[h w c]")],
)
def test_other_input_sizes_are_refused(
    tmp_path: Path, size: tuple[int, ...], words: str
) -> None:
    layers = [w.image_sequence_input("input", size, "none"), w.flatten("flatten")]
    message = error_for(tmp_path, layers, chain(layers))
    assert words in message and "'input'" in message


def test_folding_a_vector_sequence_is_refused(tmp_path: Path) -> None:
    layers = [w.sequence_input("input", 4), w.sequence_folding("fold"), w.relu("relu")]
    message = error_for(tmp_path, layers, chain(layers))
    assert "'fold'" in message and "sequence of images" in message


def test_unfolding_without_mini_batch_size_is_refused(tmp_path: Path) -> None:
    layers = cnn_layers("none")
    edges = [e for e in chain(layers) if not e[0].endswith("miniBatchSize")]
    message = error_for(tmp_path, layers, edges)
    assert "'unfold'" in message and "miniBatchSize" in message


def test_unfolding_what_was_never_folded_is_refused(tmp_path: Path) -> None:
    layers = cnn_layers("none")
    edges = [*chain(layers[:2]), ("input", "unfold/in")]
    edges += [("fold/miniBatchSize", "unfold/miniBatchSize"), ("unfold", "flatten")]
    message = error_for(tmp_path, [*layers[:2], *layers[6:]], edges)
    assert "'unfold'" in message and "folded images" in message


@pytest.mark.parametrize(
    "layer",
    [
        w.conv2d("conv", rand(3, 3, C, 2), rand(2)),
        w.batchnorm("bn", rand(C), rand(C) ** 2, rand(C), rand(C)),
        lstm("last", inputs=C),
        w.layer_norm("ln", rand(C), rand(C)),
    ],
    ids=["conv", "batchnorm", "lstm", "layernorm"],
)
def test_image_layers_without_folding_are_refused(tmp_path: Path, layer: Any) -> None:
    """Layers with no image-sequence form in mat2torch yet fail in one sentence naming
    the layer and what it received, instead of producing wrong code."""
    layers = [w.image_sequence_input("input", (H, W, C), "none"), layer]
    message = error_for(tmp_path, layers, chain(layers))
    assert f"'{ref.layer_name(layer)}'" in message
    assert "image_sequence" in message or "sequence of images" in message


def test_describe_names_the_layout() -> None:
    assert TensorInfo(IMAGE_SEQUENCE, (2, 7, 5)).describe() == (
        "image_sequence C×H×W (×T) = 2×7×5"
    )


def test_softmax_directly_on_image_sequences_normalizes_channels(
    tmp_path: Path,
) -> None:
    """MATLAB's softmax is over channels only: dim 2 of (N, T, C, H, W)."""
    layers = [w.image_sequence_input("input", (H, W, C), "none"), w.softmax("sm")]
    module, model, _ = convert(tmp_path, w.layer_graph(layers, [("input", "sm")]))
    x = frames()
    e = np.exp(x - x.max(axis=2, keepdims=True))  # H×W×C×N×T: channels on axis 2
    check(predict(module, model, x), e / e.sum(axis=2, keepdims=True))


def test_depth_concatenation_of_image_sequences_is_refused(tmp_path: Path) -> None:
    layers = [
        w.image_sequence_input("input", (H, W, C), "none"),
        w.depth_concatenation("cat", 2),
    ]
    message = error_for(tmp_path, layers, [("input", "cat/in1"), ("input", "cat/in2")])
    assert "depth concatenation" in message and "\n" not in message
