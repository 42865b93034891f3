"""Real SeriesNetworks from ../shared/corpus against MATLAB-produced oracles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from codegen.readers import mat
from tests.conftest import convert_and_load, corpus_file


def _rel(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def test_ccn_net_matches_matlab_onnx_export(tmp_path: Path) -> None:
    """MATLAB's own ONNX export of ccn_net.mat, run by onnxruntime, is the oracle."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    module, model = convert_and_load(corpus_file("dltoolbox", "ccn_net.mat"), tmp_path)

    graph = onnx.load(str(corpus_file("dltoolbox", "ccn_net.onnx")))
    softmax_node = next(n for n in graph.graph.node if n.op_type == "Softmax")
    logits_name = softmax_node.input[0]
    graph.graph.output.append(
        onnx.helper.make_tensor_value_info(logits_name, onnx.TensorProto.FLOAT, None)
    )
    initializers = {
        i.name: onnx.numpy_helper.to_array(i) for i in graph.graph.initializer
    }
    session = ort.InferenceSession(
        graph.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    feeds = {
        i.name: initializers[i.name]
        for i in session.get_inputs()
        if i.name in initializers
    }
    image_input = next(
        i.name for i in session.get_inputs() if i.name not in initializers
    )

    rng = np.random.default_rng(2026)
    x = rng.uniform(0, 255, size=(8, 3, 150, 150)).astype(np.float32)
    onnx_probs, onnx_logits = [], []
    for i in range(len(x)):
        probs, logits = session.run(
            [graph.graph.output[0].name, logits_name],
            {**feeds, image_input: x[i : i + 1]},
        )
        onnx_probs.append(probs)
        onnx_logits.append(logits.reshape(1, -1))

    # forward gives the scores before the softmax, predict what MATLAB's predict gives.
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
        probs = model.predict(torch.from_numpy(x)).numpy()

    assert _rel(logits, np.concatenate(onnx_logits)) <= 1e-5
    assert np.abs(probs - np.concatenate(onnx_probs)).max() <= 1e-5
    assert len(module.CLASSES) == probs.shape[1]


def test_yusuf_regression_on_training_set(tmp_path: Path) -> None:
    """'same' padding with an even kernel ([0 1 0 1]): MSE ≈ 5e-5 when right, ≈ 0.21 when swapped."""
    module, model = convert_and_load(
        corpus_file("dltoolbox", "yusuf_trainedNetwork_1.mat"), tmp_path
    )
    data = mat.load(corpus_file("dltoolbox", "yusuf_CSOE_Final_Dataset.mat")).variables
    inputs = np.asarray(data["inputs"])[..., :2000]
    labels = np.asarray(data["labels"], dtype=np.float64).ravel()[:2000]
    with torch.no_grad():
        predicted = model(module.from_matlab(inputs)).numpy().ravel()
    mse = float(np.mean((predicted - labels) ** 2))
    assert mse <= 1e-4, mse
    assert "F.pad" in (tmp_path / "model.py").read_text()


def test_vikas_prediction_and_tensorflow_export_weights(tmp_path: Path) -> None:
    """The stored image's prediction, and MATLAB's exportNetworkToTensorFlow weights."""
    h5py = pytest.importorskip("h5py")
    path = corpus_file("dltoolbox", "vikas_net.mat")
    module, model = convert_and_load(path, tmp_path, variable="net")
    variables = mat.load(path).variables
    with torch.no_grad():
        probs = model.predict(module.from_matlab(np.asarray(variables["I"]))).numpy()
    assert probs.argmax() == np.asarray(variables["test_probs"]).argmax()

    state = {k: v.numpy() for k, v in model.state_dict().items()}
    exported = h5py.File(corpus_file("dltoolbox", "vikas_myModel_weights.h5"), "r")
    compared = 0
    for group in exported:
        name = group.rstrip("_")
        for key, values in exported[group].items():
            values = values[()]
            if (
                key == "kernel"
                and f"{name}.weight" in state
                and state[f"{name}.weight"].ndim == 4
            ):
                ours = state[f"{name}.weight"].transpose(
                    2, 3, 1, 0
                )  # Keras (kh, kw, in, out)
            elif key == "kernel":
                # Keras flattens (H, W, C) row-major; ours flattens (C, H, W).
                c, h, w = model_shape(model, name)
                out = state[f"{name}.weight"].shape[0]
                ours = (
                    state[f"{name}.weight"].reshape(out, c, h, w).transpose(2, 3, 1, 0)
                )
            elif key == "mean":
                mean = state[
                    f"{name}_mean"
                ]  # (C, 1, 1) per channel, broadcast over H×W in the export
                ours = np.broadcast_to(
                    mean.transpose(1, 2, 0), (values.size // mean.size, 1, mean.size)
                )
            else:
                torch_key = {
                    "bias": "bias",
                    "gamma": "weight",
                    "beta": "bias",
                    "moving_mean": "running_mean",
                    "moving_variance": "running_var",
                }[key]
                ours = state[f"{name}.{torch_key}"]
            np.testing.assert_array_equal(
                np.ravel(ours, order="C"), values, err_msg=f"{group}/{key}"
            )
            compared += 1
    assert compared == 21  # 3 conv × 2, 3 batchnorm × 4, fc × 2, input mean


def model_shape(model: torch.nn.Module, name: str) -> tuple[int, int, int]:
    """(C, H, W) of the last image activation before layer `name`, from one 320×320 pass."""
    shapes: list[tuple[int, ...]] = []
    hooks = [
        m.register_forward_hook(lambda mod, args, out: shapes.append(tuple(out.shape)))
        for n, m in model.named_children()
        if n != name
    ]
    first = next(b for k, b in model.named_buffers() if k.endswith("_mean"))
    with torch.no_grad():
        model.predict(torch.zeros(1, first.shape[0], 320, 320))
    for hook in hooks:
        hook.remove()
    c, h, w = [s for s in shapes if len(s) == 4][-1][1:]
    return c, h, w


def test_specsense_converts_and_runs(tmp_path: Path) -> None:
    """Oldest schema versions; AverageImage stored 64×64 for a 64×64×1 input."""
    module, model = convert_and_load(
        corpus_file("dltoolbox", "specsense_trainedNet.mat"), tmp_path
    )
    with torch.no_grad():
        out = model.predict(torch.rand(2, 1, 64, 64))
    assert out.shape[0] == 2
    assert torch.allclose(out.sum(dim=1), torch.ones(2), atol=1e-5)
    assert module.CLASSES


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        # Its user-defined output layer is training-only and left out (test_training_only).
        ("mimo_trainedNet.mat", ["sigmoidLayer"]),
        ("eeg_eegNet.mat", ["identityLayer"]),
    ],
)
def test_user_defined_layers_fail_clearly(
    tmp_path: Path, name: str, classes: list[str]
) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen.cli",
            "convert",
            str(corpus_file("dltoolbox", name)),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 2
    message = proc.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert name in message and "variable 'net'" in message
    for cls in classes:
        assert cls in message
    assert "user-defined" in message
    assert not out.exists() or not any(out.iterdir())
