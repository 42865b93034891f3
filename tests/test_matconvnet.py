"""MatConvNet networks (SimpleNN and DagNN, v5 and v7.3) against an independent NumPy
reference of MatConvNet's semantics (codegen/reference/matconvnet_numpy.py).

Real files come from ../shared/corpus/matconvnet. Layer types with no real sample are
exercised by small networks written here with scipy.io.savemat (Level-5 files): their
schema is inferred from MatConvNet's source (vl_simplenn, vl_simplenn_tidy, the dagnn
classes and DagNN.saveobj), not observed in a MATLAB-saved file. The reference reads the
same Python values the .mat file was written from, never the converter's IR.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io as sio
import torch
from matio import load_from_mat

from codegen.errors import ConversionError
from codegen.reference import matconvnet_numpy as R
from tests.conftest import REPO, convert_and_load, corpus_file


@pytest.fixture(autouse=True)
def _inference_only() -> Iterator[None]:
    """These tests only run models: no autograd (restored for the modules after)."""
    with torch.no_grad():
        yield


def rel(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def run_model(
    module: Any, model: Any, *images: np.ndarray, preprocess: bool = False
) -> list[np.ndarray]:
    """Run ``predict`` on MATLAB-layout H×W×C×N inputs; outputs back in MATLAB layout.

    ``preprocess``: pass the single input through the generated ``preprocess()`` first.
    """
    inputs = [module.from_matlab(x.astype(np.float32)) for x in images]
    with torch.no_grad():
        if preprocess:
            inputs = [model.preprocess(*inputs)]
        out = model.predict(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    return [o.numpy().astype(np.float64).transpose(2, 3, 1, 0) for o in outs]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


# --------------------------------------------------------------------------- raw readers for the reference


def _text(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return "".join(value.ravel())
    return value


def _cells(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_text(v) for v in value.ravel(order="F")]
    return []


def _fields(value: Any) -> dict[str, Any]:
    if not (isinstance(value, np.ndarray) and value.dtype.names):
        return {}
    rec = value.ravel(order="F")[0]
    return {k: _text(rec[k]) for k in value.dtype.names}


def simplenn_layers(path: Path, variable: str = "net") -> list[dict[str, Any]]:
    """The SimpleNN's layers as the reference takes them, read with mat-io directly."""
    net = load_from_mat(str(path))[variable].ravel()[0]
    layers = []
    for cell in net["layers"].ravel(order="F"):
        layer = _fields(cell)
        if "weights" in layer:
            layer["weights"] = list(layer["weights"].ravel(order="F"))
        layers.append(layer)
    return layers


def dagnn_layers(path: Path, variable: str = "net") -> list[dict[str, Any]]:
    net = load_from_mat(str(path))[variable].ravel()[0]
    params = {_text(p["name"]): p["value"] for p in net["params"].ravel(order="F")}
    return [
        {
            "type": _text(e["type"]),
            "inputs": _cells(e["inputs"]),
            "outputs": _cells(e["outputs"]),
            "params": [params[p] for p in _cells(e["params"])],
            "block": _fields(e["block"]),
        }
        for e in net["layers"].ravel(order="F")
    ]


# --------------------------------------------------------------------------- real files


def test_dncnn_sigma25_v73_matches_simplenn_reference(tmp_path: Path) -> None:
    path = corpus_file("matconvnet", "dncnn_sigma25.mat")
    module, model = convert_and_load(path, tmp_path)
    layers = simplenn_layers(path)
    assert layers[-1]["weights"][0].shape == (
        3,
        3,
        64,
    )  # the one-filter conv MATLAB saved without its K = 1
    x = np.random.default_rng(0).random(
        (37, 29, 1, 2)
    )  # odd, non-square sizes; H×W unknown to the converter
    (y,) = run_model(module, model, x)
    expected = R.simplenn_forward(layers, x)
    assert y.shape == expected.shape == (37, 29, 1, 2)
    assert rel(y, expected) <= 1e-5
    source = (tmp_path / "model.py").read_text()
    assert (
        "self.layer1 = nn.Conv2d(1, 64, kernel_size=(3, 3), padding=(1, 1))" in source
    )
    assert (
        "self.layer48 = nn.Conv2d(64, 1, kernel_size=(3, 3), padding=(1, 1))" in source
    )
    assert "(N, 1, H, W)" in source and "None" not in source.split('"""')[1]
    # No meta.normalization in the file: preprocess() has nothing to do and says so.
    t = torch.rand(1, 1, 5, 4)
    assert torch.equal(model.preprocess(t), t)
    assert "the file stores no meta.normalization" in source


def test_denoise_example_restores_set12() -> None:
    """The runnable example: σ = 25, fixed seed, PSNR per image and the mean."""
    corpus_file("matconvnet", "dncnn_sigma25.mat")
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "denoise_set12.py")],
        capture_output=True,
        text=True,
        cwd=REPO.parent,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = re.findall(
        r"^(\d\d\.png)\s+\d+x\d+\s+([\d.]+) dB\s+([\d.]+) dB",
        result.stdout,
        re.MULTILINE,
    )
    assert len(rows) == 12, result.stdout
    mean = re.search(r"^mean\s+([\d.]+) dB\s+([\d.]+) dB", result.stdout, re.MULTILINE)
    assert mean, result.stdout
    noisy, denoised = float(mean.group(1)), float(mean.group(2))
    assert 19.5 < noisy < 21.0
    # DnCNN-S reports 30.43 dB on Set12 at σ = 25; a broken conversion lands near the noisy input.
    assert denoised - noisy > 8.0
    assert denoised > 29.5
    assert all(float(d) - float(n) > 6.0 for _, n, d in rows)


def test_dncnn_dagnn_v73_batchnorm_sum_matches_reference(tmp_path: Path) -> None:
    path = corpus_file("matconvnet", "dncnn_dagnn_epoch50.mat")
    module, model = convert_and_load(path, tmp_path)
    x = np.random.default_rng(1).random((23, 31, 1, 2))
    (y,) = run_model(module, model, x)
    expected = R.dagnn_forward(dagnn_layers(path), {"input": x})["prediction"]
    assert rel(y, expected) <= 1e-5
    source = (tmp_path / "model.py").read_text()
    # The residual: the last conv's output flows in as x, the input keeps its name.
    assert "x = self.conv48(x)\n        sum49 = x + input_\n" in source
    assert (
        "def forward(self, input_: torch.Tensor)" in source
    )  # 'label' only fed the loss
    assert "'loss' (dagnn.Loss)" in source


def test_dagnn_batchnorm_uses_sigma_squared_minus_eps(tmp_path: Path) -> None:
    """moments(:, 2) is sigma = sqrt(var + eps): BatchNorm2d must divide by exactly that."""
    path = corpus_file("matconvnet", "dncnn_dagnn_epoch50.mat")
    _, model = convert_and_load(path, tmp_path)
    layer = dagnn_layers(path)[3]
    assert layer["type"] == "dagnn.BatchNorm" and layer["outputs"] == ["bnorm4"]
    moments = np.asarray(layer["params"][2], dtype=np.float64)
    assert moments.shape == (64, 2)
    eps = float(np.asarray(layer["block"]["epsilon"]).ravel()[0])
    assert model.bnorm4.eps == eps
    sigma = np.sqrt(model.bnorm4.running_var.numpy().astype(np.float64) + eps)
    assert np.allclose(sigma, moments[:, 1], rtol=1e-6, atol=0)
    assert np.array_equal(
        model.bnorm4.running_mean.numpy(), moments[:, 0].astype(np.float32)
    )


def test_dcfnet_v5_lrn_uint8_options_and_average_image(tmp_path: Path) -> None:
    path = corpus_file("matconvnet", "dcfnet_net.mat")
    # The options really are stored as uint8 (scipy shows the stored class).
    stored = sio.loadmat(str(path))["net"][0, 0]["layers"][0, 0][0, 0]
    assert stored["pad"].dtype == np.uint8
    module, model = convert_and_load(path, tmp_path)
    layers = simplenn_layers(path)
    meta = (
        load_from_mat(str(path))["net"]
        .ravel()[0]["meta"]
        .ravel()[0]["normalization"]
        .ravel()[0]
    )
    average = np.asarray(meta["averageImage"], dtype=np.float64).reshape(1, 1, 3, 1)
    rng = np.random.default_rng(2)
    for shape in (
        (125, 125, 3, 2),
        (40, 52, 3, 1),
    ):  # the stored imageSize, and another size
        x = rng.random(shape) * 255
        # forward is vl_simplenn: no mean subtraction, which is the caller's job ...
        (y,) = run_model(module, model, x)
        assert rel(y, R.simplenn_forward(layers, x)) <= 1e-5
        # ... and preprocess() is that job: minus meta.normalization.averageImage.
        (y,) = run_model(module, model, x, preprocess=True)
        expected = R.simplenn_forward(layers, x - average)
        assert rel(y, expected) <= 1e-5
    source = (tmp_path / "model.py").read_text()
    assert "nn.LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=1.0)\n" in source
    assert "meta.normalization.imageSize = [125 125 3]" in source
    forward = source.split("def forward")[1].split("def preprocess")[0]
    assert "average_image" not in forward
    assert "return input_ - self.input_average_image" in source


def test_dsr_user_classes_fail_with_one_sentence(tmp_path: Path) -> None:
    path = corpus_file("matconvnet", "dsr_x16_net_epoch108.mat")
    out = tmp_path / "out"
    result = run_cli("convert", str(path), "-o", str(out))
    assert result.returncode == 2
    assert not out.exists()
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert "'slice' (dagnn.Slice)" in message
    assert (
        "dagnn.lpLoss" in message
    )  # named too, as the training-only loss that is left out
    assert "dsr_x16_net_epoch108.mat, variable 'net'" in message
    assert "user-defined" in message
    inspected = run_cli("inspect", str(path))
    assert inspected.returncode == 0 and "dagnn.Slice" in inspected.stdout


# --------------------------------------------------------------------------- synthetic networks (schema inferred)


def cell(*items: Any) -> np.ndarray:
    arr = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        arr[0, i] = item
    return arr


def struct_array(records: list[dict[str, Any]]) -> np.ndarray:
    keys = list(dict.fromkeys(k for r in records for k in r))
    arr = np.zeros((1, len(records)), dtype=[(k, object) for k in keys])
    for i, record in enumerate(records):
        for k in keys:
            arr[0, i][k] = record.get(k, np.zeros((0, 0)))
    return arr


EMPTY_CELL = np.empty((0, 0), dtype=object)


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32) * 0.5


def _moments(rng: np.random.Generator, c: int) -> np.ndarray:
    return np.stack([rng.standard_normal(c), 0.5 + rng.random(c)], axis=1).astype(
        np.float32
    )


def simplenn_zoo(
    rng: np.random.Generator,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A SimpleNN exercising every supported type, option classes and old field names."""
    layers: list[dict[str, Any]] = [
        {
            "name": "conv1",
            "type": "conv",
            "weights": cell(_f32(rng, 3, 3, 3, 8), _f32(rng, 8, 1)),
            "pad": np.array([[1, 0, 2, 1]], np.uint8),
            "stride": np.array([[1, 1]], np.int32),
            "dilate": 1.0,
            "opts": EMPTY_CELL,
            "precious": np.uint8(0),
        },
        {
            "name": "bn1",
            "type": "bnorm",
            "weights": cell(_f32(rng, 8, 1), _f32(rng, 8, 1), _moments(rng, 8)),
            "epsilon": 1e-4,
            "precious": False,
        },
        {"name": "relu1", "type": "relu", "leak": 0.1},
        # Old field names, grouped filters (depth 4 of 8 channels: 2 groups), dilation.
        {
            "name": "conv2",
            "type": "conv",
            "filters": _f32(rng, 3, 3, 4, 8),
            "biases": _f32(rng, 1, 8),
            "pad": np.uint8(2),
            "stride": np.int32(1),
            "dilate": np.array([[2, 2]], np.uint8),
        },
        {
            "name": "pool1",
            "type": "pool",
            "method": "avg",
            "pool": np.array([[3, 2]]),
            "stride": 2.0,
            "pad": np.array([[0, 1, 1, 0]], np.int32),
            "opts": EMPTY_CELL,
        },
        {
            "name": "norm1",
            "type": "lrn",
            "param": np.array([[4, 2, 1e-2, 0.75]]),
        },  # even N
        {
            "name": "up1",
            "type": "convt",
            "weights": cell(_f32(rng, 4, 4, 3, 8), _f32(rng, 6, 1)),
            "upsample": np.uint8(2),
            "crop": np.array([[1, 2, 0, 1]]),
            "numGroups": np.int32(2),
            "opts": EMPTY_CELL,
        },
        {
            "name": "pool2",
            "type": "pool",
            "method": "max",
            "pool": 2.0,
            "stride": 1.0,
            "pad": 1.0,
        },
        {
            "name": "pool3",
            "type": "pool",
            "method": "max",
            "pool": 3.0,
            "stride": 1.0,
            "pad": np.array([[0, 2, 1, 0]]),
        },
        {
            "name": "pool4",
            "type": "pool",
            "method": "avg",
            "pool": 3.0,
            "stride": 1.0,
            "pad": 1.0,
        },
        {"name": "sp1", "type": "spnorm", "param": np.array([[3, 3, 0.5, 0.75]])},
        {"name": "sp2", "type": "spnorm", "param": np.array([[2, 4, 0.25, 0.5]])},
        {"name": "sig", "type": "sigmoid"},
        {"name": "drop", "type": "dropout", "rate": 0.3},
        {"name": "th", "type": "tanh"},
        {
            "name": "fc",
            "type": "conv",
            "weights": cell(_f32(rng, 1, 1, 6, 5), _f32(rng, 5, 1)),
            "pad": 0.0,
            "stride": 1.0,
        },
        {"name": "prob", "type": "softmax"},
        {"name": "loss", "type": "softmaxloss", "class": np.int32(3)},
    ]
    meta = {
        "normalization": {
            "averageImage": np.array([[[10.0, 20.0, 30.0]]], np.float32),
            "imageSize": np.array([[12.0, 11, 3]]),
            "interpolation": "bilinear",
            "keepAspect": True,
        },
        "classes": {
            "name": cell(*"abcde"),
            "description": cell("ant", "bee", "cat", "dog", "eel"),
        },
    }
    return layers, meta


def _mat_layer(layer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in layer.items()}


def _ref_layer(layer: dict[str, Any]) -> dict[str, Any]:
    out = dict(layer)
    if isinstance(out.get("weights"), np.ndarray):
        out["weights"] = list(out["weights"].ravel())
    return out


def test_simplenn_all_layer_types_match_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    layers, meta = simplenn_zoo(rng)
    path = tmp_path / "zoo.mat"
    sio.savemat(
        str(path),
        {"net": {"layers": cell(*[_mat_layer(lay) for lay in layers]), "meta": meta}},
    )
    module, model = convert_and_load(path, tmp_path / "out")
    x = rng.random((12, 11, 3, 2)) * 40
    (y,) = run_model(module, model, x, preprocess=True)
    expected = R.simplenn_forward(
        [_ref_layer(lay) for lay in layers],
        x - np.array([10.0, 20, 30]).reshape(1, 1, 3, 1),
    )
    assert y.shape == expected.shape
    assert rel(y, expected) <= 1e-5
    assert module.CLASSES == ("ant", "bee", "cat", "dog", "eel")
    source = (tmp_path / "out" / "model.py").read_text()
    assert "groups=2" in source  # conv2 and up1
    assert ".flip(1)).flip(1)\n" in source  # even-N LRN window
    assert "torch.ones_like" in source  # uneven average pooling excludes padding
    assert "meta.normalization.interpolation = bilinear" in source
    assert "loss" not in re.findall(r"self\.(\w+) =", source)


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        (
            "conv",
            lambda x: R.conv(
                x, np.ones((2, 3, 1, 1)), None, (0, 1, 2, 0), (2, 1), (1, 2)
            ),
        ),
        ("avgpool", lambda x: R.pool(x, (3, 3), "avg", (1, 1, 1, 1), 2)),
    ],
)
def test_reference_semantics_by_hand(kind: str, check: Any) -> None:
    """Pins the reference itself on small hand-worked cases."""
    x = (
        np.arange(1.0, 13.0).reshape(3, 4, order="F").reshape(3, 4, 1, 1)
    )  # x(i,j) = i + 3(j−1), 1-based
    y = check(x)
    if kind == "conv":
        # Pad [t b l r] = [0 1 2 0], stride [2 1], dilate [1 2]: y(i,j) = Σ_{u<2,v<3} xpad(2i+u, j+2v).
        xpad = np.zeros((4, 6))
        xpad[0:3, 2:6] = x[:, :, 0, 0]
        expected = np.array(
            [
                [xpad[2 * i : 2 * i + 2, j : j + 5 : 2].sum() for j in range(2)]
                for i in range(2)
            ]
        )
        assert np.allclose(y[:, :, 0, 0], expected)
    else:
        # The corner window covers 2×2 real pixels: their mean, not their sum / 9.
        assert y[0, 0, 0, 0] == pytest.approx(np.mean([1, 2, 4, 5]))


def test_reference_lrn_window_is_matconvnets() -> None:
    """N = 4: channel k sums channels [k − 1, k + 2] (PyTorch's window would be [k − 2, k + 1])."""
    x = np.zeros((1, 1, 6, 1))
    x[0, 0, 1, 0], x[0, 0, 3, 0] = 1.0, 2.0
    y = R.lrn(x, (4, 1.0, 1.0, 1.0))  # y = x / (1 + Σ x²)
    assert y[0, 0, 3, 0] == pytest.approx(2 / (1 + 4))  # channel 1 is outside [2, 5]
    assert y[0, 0, 1, 0] == pytest.approx(1 / (1 + 1 + 4))  # channel 3 is inside [0, 3]


def dagnn_zoo(rng: np.random.Generator) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A DagNN (as DagNN.saveobj returns it) exercising every supported class."""
    P = {
        "c1f": _f32(rng, 3, 3, 3, 4),
        "c1b": _f32(rng, 4, 1),
        "c2f": _f32(rng, 1, 1, 3, 4),
        "bn_g": _f32(rng, 8, 1),
        "bn_b": _f32(rng, 8, 1),
        "bn_m": _moments(rng, 8),
        "sc_w": _f32(rng, 1, 1, 8),
        "sc_b": _f32(rng, 1, 1, 8),
        "up_f": _f32(rng, 4, 4, 8, 8),
        "up_b": _f32(rng, 8, 1),
    }
    L = [  # (name, type, inputs, outputs, params, block); deliberately not in execution order
        ("cat", "dagnn.Concat", ["x1", "x2"], ["x3"], [], {"dim": np.uint8(3)}),
        (
            "c1",
            "dagnn.Conv",
            ["data"],
            ["x1"],
            ["c1f", "c1b"],
            {
                "size": np.array([[3.0, 3, 3, 4]]),
                "hasBias": np.uint8(1),
                "pad": np.array([[1.0, 1, 1, 1]]),
                "stride": np.array([[1.0, 1]]),
                "dilate": 1.0,
                "opts": cell("CudnnWorkspaceLimit", 1e9),
            },
        ),
        (
            "c2",
            "dagnn.Conv",
            ["data"],
            ["x2"],
            ["c2f"],
            {
                "size": np.array([[1.0, 1, 3, 4]]),
                "hasBias": False,
                "pad": 0.0,
                "stride": 1.0,
                "opts": EMPTY_CELL,
            },
        ),
        (
            "bn",
            "dagnn.BatchNorm",
            ["x3"],
            ["x4"],
            ["bn_g", "bn_b", "bn_m"],
            {"numChannels": 8.0, "epsilon": 1e-5},
        ),
        (
            "sc",
            "dagnn.Scale",
            ["x4"],
            ["x5"],
            ["sc_w", "sc_b"],
            {"size": np.array([[1.0, 1, 8]]), "hasBias": True},
        ),
        (
            "r",
            "dagnn.ReLU",
            ["x5"],
            ["x6"],
            [],
            {"leak": 0.0, "useShortCircuit": np.uint8(1), "opts": EMPTY_CELL},
        ),
        ("s", "dagnn.Sum", ["x6", "x4"], ["x7"], [], {}),
        (
            "p",
            "dagnn.Pooling",
            ["x7"],
            ["x8"],
            [],
            {
                "method": "max",
                "poolSize": np.array([[3.0, 3]]),
                "pad": np.array([[1.0, 1, 1, 1]]),
                "stride": np.array([[2.0, 2]]),
            },
        ),
        (
            "up",
            "dagnn.ConvTranspose",
            ["x8"],
            ["x9"],
            ["up_f", "up_b"],
            {
                "size": np.array([[4.0, 4, 8, 8]]),
                "hasBias": True,
                "upsample": np.array([[2.0, 2]]),
                "crop": np.array([[1.0, 1, 1, 1]]),
                "numGroups": 1.0,
                "opts": EMPTY_CELL,
            },
        ),
        (
            "crop",
            "dagnn.Crop",
            ["x9", "x1"],
            ["x10"],
            [],
            {"crop": np.array([[0.0, 1]])},
        ),
        (
            "lrn",
            "dagnn.LRN",
            ["x10"],
            ["x11"],
            [],
            {"param": np.array([[5.0, 1, 1e-3, 0.75]])},
        ),
        ("drop", "dagnn.DropOut", ["x11"], ["x12"], [], {"rate": 0.5}),
        (
            "apool",
            "dagnn.Pooling",
            ["x12"],
            ["x13"],
            [],
            {
                "method": "avg",
                "poolSize": 2.0,
                "pad": np.array([[0.0, 1, 0, 1]]),
                "stride": 2.0,
            },
        ),
        ("sm", "dagnn.SoftMax", ["x13"], ["prob"], [], {}),
        ("sig", "dagnn.Sigmoid", ["x13"], ["sg"], [], {}),
        (
            "loss",
            "dagnn.Loss",
            ["prob", "label"],
            ["objective"],
            [],
            {"loss": "softmaxlog", "opts": EMPTY_CELL},
        ),
    ]
    layers = struct_array(
        [
            {
                "name": n,
                "type": t,
                "inputs": cell(*i),
                "outputs": cell(*o),
                "params": cell(*p) if p else EMPTY_CELL,
                "block": b,
            }
            for n, t, i, o, p, b in L
        ]
    )
    params = struct_array(
        [
            {"name": k, "value": v, "learningRate": 1.0, "weightDecay": 1.0}
            for k, v in P.items()
        ]
    )
    names = ["data", "label"] + [v for _, _, _, o, _, _ in L for v in o]
    vars_ = struct_array([{"name": v, "precious": False} for v in names])
    net = {"vars": vars_, "params": params, "layers": layers, "meta": {}}
    ref = [
        {"type": t, "inputs": i, "outputs": o, "params": [P[k] for k in p], "block": b}
        for _, t, i, o, p, b in L
    ]
    return net, ref


def test_dagnn_all_classes_nested_match_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    net, ref_layers = dagnn_zoo(rng)
    path = tmp_path / "dag.mat"
    sio.savemat(
        str(path), {"bundle": {"model": net, "note": "a DagNN nested in a struct"}}
    )
    module, model = convert_and_load(path, tmp_path / "out")
    x = rng.random((14, 13, 3, 2))
    prob, sg = run_model(module, model, x)
    expected = R.dagnn_forward(ref_layers, {"data": x})
    assert prob.shape == expected["prob"].shape
    assert rel(prob, expected["prob"]) <= 1e-5
    assert rel(sg, expected["sg"]) <= 1e-5
    source = (tmp_path / "out" / "model.py").read_text()
    assert "def forward(self, data: torch.Tensor)" in source
    assert "torch.cat([c1, x], dim=1)" in source  # c2 flows in from the line before
    assert "bias=False" in source  # c2 has hasBias = false
    assert "x3" not in source  # variables are named after the layers that compute them


def test_dagnn_saved_with_struct_option_is_found_at_top_level(tmp_path: Path) -> None:
    net, ref_layers = dagnn_zoo(np.random.default_rng(5))
    path = tmp_path / "top.mat"
    sio.savemat(str(path), net)  # save('top.mat', '-struct', 'net')
    from codegen.api import inspect_file

    (entry,) = inspect_file(path)["networks"]
    assert entry["kind"] == "DagNN" and entry["error"] is None
    module, model = convert_and_load(path, tmp_path / "out")
    x = np.random.default_rng(6).random((9, 10, 3, 1))
    prob, _ = run_model(module, model, x)
    assert rel(prob, R.dagnn_forward(ref_layers, {"data": x})["prob"]) <= 1e-5


def test_unknown_simplenn_types_named_in_one_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    layers = [
        {
            "name": "conv1",
            "type": "conv",
            "weights": cell(_f32(rng, 3, 3, 1, 2), _f32(rng, 2, 1)),
            "pad": 1.0,
            "stride": 1.0,
        },
        {"name": "sub", "type": "SubP", "scale": 2.0},
        {"name": "cat", "type": "custom", "forward": "@fwd"},
        {"name": "offset", "type": "noffset", "param": np.array([[1.0, 0.5]])},
    ]
    path = tmp_path / "custom.mat"
    sio.savemat(str(path), {"net": {"layers": cell(*layers)}})
    out = tmp_path / "out"
    result = run_cli("convert", str(path), "-o", str(out))
    assert result.returncode == 2 and not out.exists()
    message = result.stderr.strip()
    assert message.count("\n") == 0
    for named in (
        "'sub' (simplenn.SubP)",
        "'cat' (simplenn.custom)",
        "'offset' (simplenn.noffset)",
    ):
        assert named in message
    assert "'conv1'" not in message


def test_gpuarray_in_training_only_layer_is_tolerated() -> None:
    """A loss layer holding a gpuArray object is dropped unread; gpuArray weights are a clear error."""
    from matio.utils.matclass import MatlabOpaque

    from codegen.importers.matconvnet import import_network

    gpu = MatlabOpaque(properties={}, classname="gpuArray", type_system="MCOS")
    rng = np.random.default_rng(8)
    conv = {
        "name": np.array(["conv1"]),
        "type": np.array(["conv"]),
        "weights": cell(_f32(rng, 3, 3, 1, 2), _f32(rng, 2, 1)),
        "pad": np.array([[1.0]]),
        "stride": np.array([[1.0]]),
    }
    loss = {"name": np.array(["loss"]), "type": np.array(["loss"]), "class": gpu}
    net = np.zeros((1, 1), dtype=[("layers", object)])
    net[0, 0]["layers"] = cell(struct_array([conv]), struct_array([loss]))
    graph = import_network(net, "SimpleNN", "x.mat, variable 'net'")
    assert [n.op for n in graph.nodes] == ["input", "conv2d"]
    conv["weights"] = cell(gpu, _f32(rng, 2, 1))
    net[0, 0]["layers"] = cell(struct_array([conv]), struct_array([loss]))
    with pytest.raises(
        ConversionError,
        match=r"'conv1' \(simplenn.conv\) stores a parameter as gpuArray",
    ):
        import_network(net, "SimpleNN", "x.mat, variable 'net'")


def test_simplenn_saved_with_struct_option_and_old_normalization(
    tmp_path: Path,
) -> None:
    """The model-zoo layout: `layers` and a pre-2015 top-level `normalization` as variables,
    with a full H×W×C averageImage (which fixes the input size)."""
    rng = np.random.default_rng(9)
    layers = [
        {
            "name": "conv1",
            "type": "conv",
            "weights": cell(_f32(rng, 3, 3, 2, 4), _f32(rng, 4, 1)),
            "pad": 1.0,
            "stride": 1.0,
        },
        {"name": "relu1", "type": "relu", "leak": 0.0},
        {
            "name": "pool1",
            "type": "pool",
            "method": "max",
            "pool": 2.0,
            "stride": 2.0,
            "pad": 0.0,
        },
    ]
    average = rng.random((6, 5, 2)).astype(np.float32)
    path = tmp_path / "zoo.mat"
    sio.savemat(
        str(path),
        {
            "layers": cell(*layers),
            "normalization": {
                "averageImage": average,
                "imageSize": np.array([[6.0, 5, 2]]),
            },
        },
    )
    from codegen.api import inspect_file

    (entry,) = inspect_file(path)["networks"]
    assert (entry["path"], entry["kind"], entry["error"]) == (
        "(top level)",
        "SimpleNN",
        None,
    )
    module, model = convert_and_load(path, tmp_path / "out")
    assert tuple(model.input_average_image.shape) == (2, 6, 5)
    x = rng.random((6, 5, 2, 3))
    (y,) = run_model(module, model, x, preprocess=True)
    expected = R.simplenn_forward(
        [_ref_layer(lay) for lay in layers], x - average[:, :, :, None]
    )
    assert rel(y, expected) <= 1e-5
    assert "float tensor (N, 2, 6, 5)" in (tmp_path / "out" / "model.py").read_text()
