"""3-D (volumetric) layers against the NumPy reference of MATLAB's rules
(codegen/reference/matlab_numpy/volume.py): image3dInputLayer, convolution3dLayer,
transposedConv3dLayer, max/average pooling 3-D and their global forms, and batch
normalization, fully connected, softmax, addition and (depth) concatenation on volumes.

No real MATLAB file holds a 3-D layer: every schema here is **inferred** from the 2-D
classes' real ones with 3-element sizes and the documented 2×3 PaddingSize/CroppingSize
[t l f; b r k] (see codegen/testing/dltwriter/volume.py), and no MATLAB oracle confirms
the rules either — 'same' padding with the extra voxel at the end of each dimension,
'same' cropping with the extra voxel at the start (as the 2-D converter takes it), −inf
padding in max pooling, the column-major (H, W, D, C) flatten of a fully connected layer.

Each case runs a batch of two through odd sizes (H, W, D all different, so a swapped
dimension shows), stride 2 with 'same', asymmetric padding and cropping; the last test
converts a small 3-D U-Net-like DAG with skip concatenations and an addition.
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
from codegen.layers.record import LayerRecord
from codegen.readers.mat import load
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import volume as vref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load, import_generated
from tests.support import TOL, reference_graph

RNG = np.random.default_rng(31)
H, W, D = 7, 5, 6  # odd, odd, even; all different
N = 2


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def filters(*shape: int) -> np.ndarray:
    """Conv weights scaled by 1/sqrt(fan-in), so activations stay near 1 through a deep
    network and float32 rounding stays far below the tolerance."""
    return rand(*shape) / np.float32(np.sqrt(np.prod(shape[:-1])))


def volume(c: int, h: int = H, w_: int = W, d: int = D, n: int = N) -> np.ndarray:
    """A MATLAB-layout batch H×W×D×C×N."""
    return RNG.standard_normal((h, w_, d, c, n))


def to_torch(x: np.ndarray) -> torch.Tensor:
    """MATLAB H×W×D×C×N → PyTorch (N, C, D, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(4, 3, 2, 0, 1))).float()


def to_matlab(y: torch.Tensor) -> np.ndarray:
    """PyTorch (N, C, D, H, W) → MATLAB H×W×D×C×N; (N, C) features → MATLAB's 1×1×1×C×N."""
    a = y.detach().numpy().astype(np.float64)
    if a.ndim == 2:
        return a.T.reshape((1, 1, 1, *a.T.shape))
    return a.transpose(3, 4, 2, 1, 0)


def rel_err(got: np.ndarray, expected: np.ndarray) -> float:
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    return float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-12))


def convert(tmp_path: Path, net: Any) -> tuple[Any, torch.nn.Module, Any]:
    """Write ``net``, convert it, load the model strictly; also the network as re-read
    from the file, for the reference."""
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    module, model = convert_and_load(path, tmp_path / "out")
    return module, model, ref.load_mat(str(path))["net"]


def check(tmp_path: Path, layers: list[Any], x: np.ndarray) -> str:
    """A SeriesNetwork of ``layers`` on ``x``: generated module vs. reference; returns the
    generated source."""
    module, model, saved = convert(tmp_path, w.series_network(layers))
    with torch.no_grad():
        got = to_matlab(model.predict(module.from_matlab(x)))
    objects, _ = ref.network_layers(saved)
    err = rel_err(got, ref.run_layers(objects, x))
    print(f"max relative error {err:.1e}")
    assert err <= TOL, f"relative error {err:.2e}"
    return (tmp_path / "out" / "model.py").read_text()


def inp(c: int, h: int = H, w_: int = W, d: int = D) -> Any:
    return w.image3d_input("in", (h, w_, d, c), "none")


# --------------------------------------------------------------------------- convolution

NO_PAD = ((0, 0, 0), (0, 0, 0))
CONV_CASES: dict[str, dict[str, Any]] = {
    "manual symmetric": dict(k=(3, 3, 3), padding=((1, 1, 1), (1, 1, 1))),
    "no padding, stride 2": dict(k=(3, 2, 3), stride=(2, 2, 2), padding=NO_PAD),
    "asymmetric manual": dict(k=(3, 2, 2), padding=((1, 0, 2), (0, 2, 1))),
    "same unresolved, stride 2, odd sizes": dict(
        k=(3, 3, 3), stride=(2, 2, 2), padding_mode="same", padding=None
    ),
    "same unresolved, even kernel, mixed strides": dict(
        k=(2, 4, 3), stride=(1, 2, 2), padding_mode="same", padding=None
    ),
    "same stored, stride 2": dict(
        # what a trained network stores for k 3, stride 2 on 7×5×6: H and W pad 1|1,
        # D (6 → 3) pads 0|1
        k=(3, 3, 3),
        stride=(2, 2, 2),
        padding_mode="same",
        padding=((1, 1, 0), (1, 1, 1)),
    ),
    "dilation 2 same": dict(
        k=(3, 3, 2), dilation=(2, 1, 2), padding_mode="same", padding=None
    ),
    "pad value 1.5": dict(
        k=(3, 3, 3), padding=((1, 2, 0), (2, 1, 1)), padding_value=1.5
    ),
    "replicate": dict(
        k=(3, 3, 3), padding=((1, 0, 2), (1, 2, 0)), padding_value="replicate"
    ),
    "symmetric exclude edge": dict(
        k=(3, 3, 3),
        padding=((2, 1, 1), (1, 2, 1)),
        padding_value="symmetric-exclude-edge",
    ),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv3d(tmp_path: Path, case: str) -> None:
    spec = dict(CONV_CASES[case])
    kh, kw, kd = spec.pop("k")
    c_in, c_out = 2, 3
    layer = w.conv3d("conv", rand(kh, kw, kd, c_in, c_out), rand(c_out), **spec)
    source = check(tmp_path, [inp(c_in), layer], volume(c_in))
    # MATLAB's [h w d] sizes appear in PyTorch's (d, h, w) order.
    assert f"kernel_size=({kd}, {kh}, {kw})" in source


def test_conv3d_same_padding_keeps_ceil_of_input_over_stride(tmp_path: Path) -> None:
    layer = w.conv3d(
        "conv",
        rand(3, 3, 3, 2, 4),
        rand(4),
        stride=(2, 2, 2),
        padding_mode="same",
        padding=None,
    )
    module, model, _ = convert(tmp_path, w.series_network([inp(2), layer]))
    with torch.no_grad():
        y = model.predict(to_torch(volume(2)))
    assert tuple(y.shape) == (N, 4, 3, 4, 3)  # (N, C, ceil(D/2), ceil(H/2), ceil(W/2))


def test_conv3d_single_filter_weights_without_trailing_singleton(
    tmp_path: Path,
) -> None:
    weights = rand(3, 2, 3, 4, 1)  # MATLAB saves it FH×FW×FD×Cin
    layer = w.conv3d("conv", weights, rand(1), padding=((1, 0, 1), (1, 1, 1)))
    check(tmp_path, [inp(4), layer], volume(4))


def test_conv3d_symmetric_include_edge_is_refused(tmp_path: Path) -> None:
    layer = w.conv3d(
        "conv",
        rand(3, 3, 3, 2, 2),
        rand(2),
        padding=((1, 1, 1), (1, 1, 1)),
        padding_value="symmetric-include-edge",
    )
    with pytest.raises(ConversionError, match="symmetric-include-edge"):
        convert(tmp_path, w.series_network([inp(2), layer]))


def test_padding_is_stored_as_documented_and_read_column_major(tmp_path: Path) -> None:
    """The inferred schema stores MATLAB's 2×3 [t l f; b r k]; read column-major, as
    every field is, it is [t b l r f k] — the 2-D [t b l r] plus [front back]."""
    path = tmp_path / "pad.mat"
    layer = w.conv3d(
        "conv", rand(1, 1, 1, 1, 1), rand(1), padding=((1, 3, 5), (2, 4, 6))
    )
    w.write_mat(path, {"net": w.series_network([inp(1), layer])})
    saved = load(path).variables["net"]
    objects, _ = ref.network_layers(saved)
    record = LayerRecord.from_object(objects[1])
    assert np.asarray(record.raw("PaddingSize")).shape == (2, 3)
    assert record.ints("PaddingSize") == (1, 2, 3, 4, 5, 6)


# --------------------------------------------------------------------------- pooling

POOL_CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "max 2, stride 2": (w.max_pool3d, dict(pool=(2, 2, 2), stride=(2, 2, 2))),
    "max 3, stride 2, same, odd sizes": (
        w.max_pool3d,
        dict(pool=(3, 3, 3), stride=(2, 2, 2), padding_mode="same", padding=None),
    ),
    "max asymmetric manual": (
        w.max_pool3d,
        dict(pool=(3, 2, 2), stride=(1, 2, 1), padding=((1, 0, 1), (0, 1, 0))),
    ),
    "max padding wider than half the window": (
        w.max_pool3d,
        dict(pool=(3, 3, 3), stride=(1, 1, 1), padding=((2, 2, 2), (2, 2, 2))),
    ),
    "avg 2, stride 2": (w.avg_pool3d, dict(pool=(2, 2, 2), stride=(2, 2, 2))),
    "avg symmetric, zeros count": (
        w.avg_pool3d,
        dict(pool=(3, 3, 3), stride=(1, 1, 1), padding=((1, 1, 1), (1, 1, 1))),
    ),
    "avg symmetric, mean excludes padding": (
        w.avg_pool3d,
        dict(
            pool=(3, 3, 3),
            stride=(2, 1, 2),
            padding=((1, 1, 1), (1, 1, 1)),
            padding_value="mean",
        ),
    ),
    "avg same, stride 2, odd sizes": (
        w.avg_pool3d,
        dict(pool=(3, 2, 3), stride=(2, 2, 2), padding_mode="same", padding=None),
    ),
}


@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pooling3d(tmp_path: Path, case: str) -> None:
    builder, spec = POOL_CASES[case]
    spec = dict(spec)
    pool = spec.pop("pool")
    check(tmp_path, [inp(3), builder("pool", pool, **spec)], volume(3))


def test_average_pooling_mean_with_asymmetric_padding_is_refused(
    tmp_path: Path,
) -> None:
    layer = w.avg_pool3d(
        "pool", (3, 3, 3), padding=((1, 0, 1), (0, 1, 1)), padding_value="mean"
    )
    with pytest.raises(ConversionError, match="PaddingValue 'mean'"):
        convert(tmp_path, w.series_network([inp(2), layer]))


@pytest.mark.parametrize("builder", [w.global_avg_pool3d, w.global_max_pool3d])
def test_global_pooling3d(tmp_path: Path, builder: Any) -> None:
    check(tmp_path, [inp(3), builder("gpool")], volume(3))


# --------------------------------------------------------------------------- transposed

TRANSPOSED_CASES: dict[str, dict[str, Any]] = {
    "stride 2, no cropping": dict(k=(2, 2, 2), stride=(2, 2, 2)),
    "symmetric cropping": dict(
        k=(3, 3, 3), stride=(2, 2, 2), cropping=((1, 1, 1),) * 2
    ),
    "asymmetric manual cropping": dict(
        k=(4, 3, 3), stride=(2, 3, 1), cropping=((0, 2, 1), (1, 0, 1))
    ),
    "same, even totals halved": dict(
        k=(4, 4, 2), stride=(2, 2, 2), cropping_mode="same", cropping=None
    ),
    "same, stored split": dict(
        k=(3, 3, 3),
        stride=(2, 2, 2),
        cropping_mode="same",
        cropping=((0, 1, 0), (1, 0, 1)),
    ),
}


@pytest.mark.parametrize("case", sorted(TRANSPOSED_CASES))
def test_transposed_conv3d(tmp_path: Path, case: str) -> None:
    spec = dict(TRANSPOSED_CASES[case])
    kh, kw, kd = spec.pop("k")
    weights = rand(kh, kw, kd, 4, 3)  # FH×FW×FD×Cout×Cin
    layer = w.transposed_conv3d("up", weights, rand(4), **spec)
    source = check(tmp_path, [inp(3, 5, 4, 3), layer], volume(3, 5, 4, 3))
    if spec.get("cropping_mode") == "same":
        stride = spec["stride"]
        assert f"stride={(stride[2], stride[0], stride[1])}" in source


def test_transposed_conv3d_same_cropping_odd_total_without_split_is_refused(
    tmp_path: Path,
) -> None:
    """Odd totals FilterSize − Stride and no stored CroppingSize: which side MATLAB crops
    the extra voxel from is uncertain (as in 2-D), so the conversion says so."""
    layer = w.transposed_conv3d(
        "up",
        rand(3, 3, 3, 2, 2),
        rand(2),
        stride=(2, 2, 2),
        cropping_mode="same",
        cropping=None,
    )
    with pytest.raises(ConversionError, match=r"layer 'up' .* is odd, and stores no"):
        convert(tmp_path, w.series_network([inp(2, 3, 4, 5), layer]))


# ------------------------------------------------------- input, normalization, dense


@pytest.mark.parametrize(
    "kind",
    [
        "zerocenter full",
        "zscore per channel",
        "rescale-symmetric scalar",
        "rescale-zero-one",
    ],
)
def test_image3d_input_normalization(tmp_path: Path, kind: str) -> None:
    c = 2
    size = (H, W, D, c)
    spec: dict[str, Any] = {
        "zerocenter full": dict(normalization="zerocenter", mean=rand(*size)),
        "zscore per channel": dict(
            normalization="zscore", mean=rand(c), std=np.abs(rand(c)) + 0.5
        ),
        "rescale-symmetric scalar": dict(
            normalization="rescale-symmetric", min=np.float32(-2.5), max=np.float32(3.0)
        ),
        "rescale-zero-one": dict(
            normalization="rescale-zero-one", min=rand(c) - 3, max=rand(c) + 3
        ),
    }[kind]
    layer = w.image3d_input("in", size, **spec)
    source = check(tmp_path, [layer, w.relu("relu")], volume(c))
    assert "H×W×D×C×N" in source and "N×C×D×H×W" in source


def test_batchnorm_relu_softmax_on_volumes(tmp_path: Path) -> None:
    c = 4
    layers = [
        inp(c),
        w.batchnorm3d(
            "bn", rand(c), np.abs(rand(c)) + 0.1, rand(c), rand(c), epsilon=1e-3
        ),
        w.relu("relu"),
        w.softmax("softmax"),
    ]
    source = check(tmp_path, layers, volume(c))
    assert "nn.BatchNorm3d(4, eps=0.001)" in source and "nn.Softmax(dim=1)" in source


@pytest.mark.parametrize("form", ["H×W×D×C×Out weights", "Out×In weights"])
def test_fully_connected_flattens_h_w_d_c_column_major(
    tmp_path: Path, form: str
) -> None:
    c, out = 3, 5
    if form == "Out×In weights":
        fc = w.fully_connected("fc", rand(out, H * W * D * c), rand(out))
    else:
        fc = w.fully_connected3d("fc", rand(H, W, D, c, out), rand(out))
    source = check(tmp_path, [inp(c), fc, w.softmax("sm")], volume(c))
    assert (
        "# flattens C×D×H×W = 3×6×7×5; weights reordered from MATLAB's H, W, D, C"
        in source
    )


def test_global_pooling_then_fully_connected(tmp_path: Path) -> None:
    layers = [
        inp(3),
        w.conv3d(
            "conv", rand(3, 3, 3, 3, 6), rand(6), padding_mode="same", padding=None
        ),
        w.global_max_pool3d("gmp"),
        w.fully_connected3d("fc", rand(1, 1, 1, 6, 4), rand(4)),
    ]
    check(tmp_path, layers, volume(3))


# --------------------------------------------------------------------------- merges


@pytest.mark.parametrize("dim", [1, 2, 3, 4])
def test_concatenation_along_each_matlab_dimension(tmp_path: Path, dim: int) -> None:
    """Dim 1..3 are H, W, D and Dim 4 is channels for a volume."""
    layers = [
        inp(2),
        w.conv3d("a", rand(1, 1, 1, 2, 3), rand(3)),
        w.conv3d("b", rand(1, 1, 1, 2, 3), rand(3)),
        w.concatenation("cat", dim),
        w.addition("add"),
    ]
    conns = [
        ("in", "a"),
        ("in", "b"),
        ("a", "cat/in1"),
        ("b", "cat/in2"),
        ("cat", "add/in1"),
        ("cat", "add/in2"),
    ]
    module, model, saved = convert(tmp_path, w.layer_graph(layers, conns))
    x = volume(2)
    with torch.no_grad():
        got = to_matlab(model.predict(module.from_matlab(x)))
    err = rel_err(got, reference_graph(saved, {"in": x})["add"])
    print(f"max relative error {err:.1e}")
    assert err <= TOL
    torch_dim = {1: 3, 2: 4, 3: 2, 4: 1}[dim]
    assert (
        f"dim={torch_dim})  # MATLAB dimension {dim}"
        in (tmp_path / "out" / "model.py").read_text()
    )


def test_unet3d_dag(tmp_path: Path) -> None:
    """A small 3-D U-Net: encoder conv → pool → bottleneck → transposed conv up,
    concatenated with the skip connection (depth concatenation), a residual addition,
    a 1×1×1 classifier and a softmax over channels. Even sizes so that pooling and
    upsampling line up, as they must in MATLAB."""
    h, w_, d, c = 8, 6, 4, 2
    layers = [
        w.image3d_input("in", (h, w_, d, c), "zscore", rand(c), np.abs(rand(c)) + 0.5),
        w.conv3d(
            "enc", filters(3, 3, 3, c, 4), rand(4), padding_mode="same", padding=None
        ),
        w.batchnorm3d("enc_bn", rand(4), np.abs(rand(4)) + 0.1, rand(4), rand(4)),
        w.relu("enc_relu"),
        w.max_pool3d("pool", (2, 2, 2), stride=(2, 2, 2)),
        w.conv3d(
            "mid", filters(3, 3, 3, 4, 8), rand(8), padding=((1, 1, 1), (1, 1, 1))
        ),
        w.relu("mid_relu"),
        w.transposed_conv3d("up", filters(2, 2, 2, 4, 8), rand(4), stride=(2, 2, 2)),
        w.depth_concatenation("skip"),
        w.conv3d(
            "dec", filters(3, 3, 3, 8, 4), rand(4), padding_mode="same", padding=None
        ),
        w.addition("res"),
        w.conv3d("head", filters(1, 1, 1, 4, 3), rand(3)),
        w.softmax("softmax"),
    ]
    chain = ["in", "enc", "enc_bn", "enc_relu", "pool", "mid", "mid_relu", "up"]
    conns = list(itertools.pairwise(chain))
    conns += [
        ("up", "skip/in1"),
        ("enc_relu", "skip/in2"),
        ("skip", "dec"),
        ("dec", "res/in1"),
        ("enc_relu", "res/in2"),
        ("res", "head"),
        ("head", "softmax"),
    ]
    module, model, saved = convert(tmp_path, w.dag_network(layers, conns))
    x = volume(c, h, w_, d, n=3)
    with torch.no_grad():
        got = to_matlab(model.predict(module.from_matlab(x)))
    expected = reference_graph(saved, {"in": x})["softmax"]
    assert got.shape == (h, w_, d, 3, 3)
    err = rel_err(got, expected)
    print(f"max relative error {err:.1e}")
    assert err <= TOL
    source = (tmp_path / "out" / "model.py").read_text()
    assert "torch.cat([x, enc_relu], dim=1)" in source  # up flows in as x


# --------------------------------------------------------------------------- errors


def test_2d_layer_fed_a_volume_is_one_clear_sentence(tmp_path: Path) -> None:
    layers = [inp(2), w.conv2d("conv2", rand(3, 3, 2, 2), rand(2))]
    with pytest.raises(ConversionError, match=r"'conv2'.*expects an image \(C×H×W\)"):
        convert(tmp_path, w.series_network(layers))


def test_3d_layer_fed_an_image_is_one_clear_sentence(tmp_path: Path) -> None:
    layers = [
        w.image_input("in", (5, 5, 2), "none"),
        w.conv3d("conv3", rand(3, 3, 3, 2, 2), rand(2)),
    ]
    with pytest.raises(ConversionError, match=r"'conv3'.*expects a 3-D image"):
        convert(tmp_path, w.series_network(layers))


def test_untrained_volume_network_converts_and_runs(tmp_path: Path) -> None:
    """No weights, an unresolved 'same' and a zerocenter input without statistics: the
    architecture converts; buffers keep their (C, 1, 1, 1) place."""
    layers = [
        w.image3d_input("in", (H, W, D, 2), "zerocenter", None),
        w.conv3d(
            "conv",
            None,
            filter_size=(3, 3, 3),
            num_filters=4,
            stride=(2, 2, 2),
            padding_mode="same",
            padding=None,
        ),
        w.max_pool3d("pool", (2, 2, 2), stride=(2, 2, 2)),
    ]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    api_convert(path, tmp_path / "out")
    module = import_generated(tmp_path / "out")
    model = module.load_model()
    assert tuple(model.in_mean.shape) == (2, 1, 1, 1)
    with torch.no_grad():
        y = model.predict(to_torch(volume(2)))
    assert tuple(y.shape) == (N, 4, 1, 2, 1)


# --------------------------------------------------------------------------- reference


def test_reference_padding_helpers() -> None:
    """The reference keeps MATLAB's [t l f; b r k]: six stored values fill it column-major."""
    assert vref.pad_matrix(np.array([[1, 3, 5], [2, 4, 6]])).tolist() == [
        [1, 3, 5],
        [2, 4, 6],
    ]
    assert vref.pad_matrix(np.arange(1, 7)).tolist() == [[1, 3, 5], [2, 4, 6]]
    assert vref.pad_matrix(np.array([1, 2, 3])).tolist() == [[1, 2, 3], [1, 2, 3]]
    # 7×5×6 with a 3×3×3 filter and stride 2: H, W pad 1|1; D (6 → 3) pads 0|1.
    same = vref.same_padding3d((7, 5, 6), (3, 3, 3), (2, 2, 2))
    assert same.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert vref.same_cropping3d((3, 4, 2), (2, 2, 2)).tolist() == [[1, 1, 0], [0, 1, 0]]


def test_reference_conv3d_matches_the_defining_sum() -> None:
    """The tap-by-tap reference against the definition, one output voxel at a time."""
    x = RNG.standard_normal((4, 3, 5, 2, 2))
    weights = RNG.standard_normal((2, 3, 2, 2, 3))
    bias = RNG.standard_normal(3)
    pad = np.array([[1, 0, 2], [0, 1, 1]])
    stride, dilation = (1, 2, 2), (2, 1, 1)
    y = vref.conv3d(x, weights, bias, stride, dilation, pad)
    xp = np.pad(x, [(1, 0), (0, 1), (2, 1), (0, 0), (0, 0)])
    for i, j, k, o, n in itertools.product(*(range(s) for s in y.shape)):
        total = bias[o]
        for p, q, r, c in itertools.product(range(2), range(3), range(2), range(2)):
            total += (
                weights[p, q, r, c, o]
                * xp[i * 1 + p * 2, j * 2 + q * 1, k * 2 + r * 1, c, n]
            )
        assert abs(y[i, j, k, o, n] - total) < 1e-12


def test_flatten_layer_on_volumes_uses_matlab_order(tmp_path: Path) -> None:
    c, out = 2, 4
    layers = [
        inp(c),
        w.flatten("flat"),
        w.fully_connected("fc", rand(out, H * W * D * c), rand(out), input_size=None),
    ]
    module, model, saved = convert(tmp_path, w.series_network(layers))
    x = volume(c)
    with torch.no_grad():
        got = (
            model.predict(module.from_matlab(x)).numpy().T
        )  # (N, Out) -> MATLAB's Out×N
    objects, _ = ref.network_layers(saved)
    assert rel_err(got, ref.run_layers(objects, x)) <= TOL
    assert ".transpose(3, 4), 1)" in (tmp_path / "out" / "model.py").read_text()


def test_layer_normalization_of_volumes_is_refused(tmp_path: Path) -> None:
    layers = [inp(2), w.layer_norm("ln", offset=rand(2), scale=rand(2))]
    with pytest.raises(ConversionError, match="layer normalization of volumes"):
        convert(tmp_path, w.series_network(layers))
