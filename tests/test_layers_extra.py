"""Per-layer checks for classes common in real networks: cross-channel normalization
(AlexNet, GoogLeNet), resize and crop (U-Nets), the RL toolbox's scalingLayer (actors)
and batch normalization of sequences.

Each case writes a tiny network with the project's schema writer, converts it, runs the
generated module and compares it with the independent NumPy reference run on the same
file, in MATLAB layout. Resize2DLayer's schema is copied from a real file
(pac48_imagecontrolBC_dlnet.mat); the schemas of CrossChannelNormalizationLayer,
Crop2DLayer and rl.layer.ScalingLayer are inferred (no real sample), as the writer's
docstrings say. Shapes are odd, batches > 1. Each comparison records its error as the
``max_rel_err`` property (see it with ``--junitxml``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen.emit import render_node
from codegen.errors import ConversionError
from codegen.ir import IMAGE, TensorInfo
from codegen.layers.record import LayerRecord
from codegen.layers.registry import lookup
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load, corpus_file
from tests.support import TOL, rand, rel_err, rng_fixture, to_matlab, to_torch

rng = rng_fixture(20260301)
Record = Callable[[str, object], None]


def check(
    tmp_path: Path,
    layers: Sequence[Any],
    inputs: Mapping[str, np.ndarray],
    output: str,
    record_property: Record,
    connections: Sequence[tuple[str, str]] | None = None,
) -> tuple[str, np.ndarray]:
    """Write a SeriesNetwork (or a DAGNetwork with ``connections``), convert, run the
    generated module on ``inputs`` (MATLAB layout, keyed by input layer name) and compare
    layer ``output`` with the reference; returns the generated source and the output."""
    net = (
        w.series_network(layers)
        if connections is None
        else w.dag_network(layers, connections)
    )
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    _, model = convert_and_load(path, tmp_path / "out")
    with torch.no_grad():
        # Positional, in the file's order of input layers (the generated forward's order).
        got = to_matlab(model.predict(*[to_torch(v) for v in inputs.values()]))
    objects, conns = ref.network_layers(ref.load_mat(str(path))["net"])
    if conns is None:
        names = [ref.layer_name(layer) for layer in objects]
        conns = list(itertools.pairwise(names))
    expected = ref.run_graph(objects, conns, inputs)[output]
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"
    return (tmp_path / "out" / "model.py").read_text(), got


def image_input(name: str, h: int, w_: int, c: int) -> Any:
    return w.image_input(name, (h, w_, c), "none")


def convert_error(
    tmp_path: Path, layers: Sequence[Any], connections: Any = None
) -> str:
    net = (
        w.series_network(layers)
        if connections is None
        else w.dag_network(layers, connections)
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    with pytest.raises(ConversionError) as info:
        convert_and_load(path, tmp_path / "out")
    message = str(info.value)
    assert "net.mat, variable 'net'" in message and "\n" not in message
    return message


# ------------------------------------------------------------- cross-channel normalization

# (WindowChannelSize, Alpha, Beta, K): Alpha large enough that the window matters.
CCN_CASES = {
    "window 1": (1, 1.0, 0.75, 1.0),
    "window 2 (even)": (2, 2.0, 0.6, 1.0),
    "window 3": (3, 1.5, 0.75, 2.0),
    "window 4 (even)": (4, 3.0, 1.0, 0.5),
    "window 5, MATLAB defaults": (5, 1e-4, 0.75, 2.0),
    "window 8 > 7 channels": (8, 2.0, 0.5, 1.0),
}


@pytest.mark.parametrize("case", sorted(CCN_CASES))
def test_cross_channel_norm(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    n, alpha, beta, k = CCN_CASES[case]
    layers = [
        image_input("in", 5, 3, 7),
        w.cross_channel_norm("ccn", n, alpha, beta, k),
    ]
    x = rand(rng, 5, 3, 7, 3)
    source, got = check(tmp_path, layers, {"in": x}, "ccn", record_property)
    assert (
        f"nn.LocalResponseNorm({n}, alpha={alpha!r}, beta={beta!r}, k={k!r})" in source
    )
    assert (".flip(1)" in source) == (n % 2 == 0)
    if n % 2 == 0 and alpha > 1:
        # The test can tell the two ways of centring an even window apart.
        mirrored = np.flip(ref.cross_channel_norm(np.flip(x, 2), n, alpha, beta, k), 2)
        assert rel_err(got, mirrored) > 1e-2


def test_cross_channel_norm_refuses_features(tmp_path: Path) -> None:
    layers = [w.feature_input("in", 4), w.cross_channel_norm("ccn", 3)]
    assert "expects an image" in convert_error(tmp_path, layers)


# --------------------------------------------------------------------------------- resize

# Resize2DLayer options on a 5×7×3 input; "mode" is the F.interpolate mode expected, or
# None for the explicit helper. 'nearest' sizes avoid exact rounding ties, where
# F.interpolate's float32 scale may round the other way (see resize_crop.py).
RESIZE_CASES: dict[str, dict[str, Any]] = {
    "size bilinear up": dict(output_size=(11, 16), method="bilinear", mode="bilinear"),
    "size bilinear down": dict(output_size=(3, 4), method="bilinear", mode="bilinear"),
    "size bilinear up and down": dict(
        output_size=(9, 5), method="bilinear", mode="bilinear"
    ),
    "size nearest half-pixel round": dict(output_size=(12, 4), mode="nearest-exact"),
    "size nearest asymmetric floor": dict(
        output_size=(7, 10),
        geometric_transform_mode="asymmetric",
        nearest_rounding_mode="floor",
        mode="nearest",
    ),
    "size bilinear asymmetric": dict(
        output_size=(8, 5),
        method="bilinear",
        geometric_transform_mode="asymmetric",
        mode=None,
    ),
    "size nearest half-pixel floor": dict(
        output_size=(9, 11), nearest_rounding_mode="floor", mode=None
    ),
    "size nearest asymmetric round": dict(
        output_size=(13, 4), geometric_transform_mode="asymmetric", mode=None
    ),
    "scale 2 bilinear": dict(scale=2.0, method="bilinear", mode="bilinear"),
    "scale [2 3] nearest": dict(scale=(2.0, 3.0), mode="nearest-exact"),
    "scale [3 2] nearest asymmetric floor": dict(
        scale=(3.0, 2.0),
        geometric_transform_mode="asymmetric",
        nearest_rounding_mode="floor",
        mode="nearest",
    ),
    "scale 0.5 nearest": dict(scale=0.5, mode="nearest-exact"),
    # 5·1.5 and 7·0.7 are not whole: pins the Scale rule (out = floor(in·Scale),
    # coordinates from Scale, not from in/out) — uncertain, see resize_crop.resize2d.
    "scale [1.5 0.7] bilinear": dict(scale=(1.5, 0.7), method="bilinear", mode=None),
    # Output 5×7 = input: F.interpolate would copy; MATLAB still samples at d/1.1.
    "scale [1.1 1] bilinear": dict(scale=(1.1, 1.0), method="bilinear", mode=None),
    "scale [1.3 1.1] nearest": dict(scale=(1.3, 1.1), mode=None),
    "scale [1.5 2.5] bilinear asymmetric": dict(
        scale=(1.5, 2.5),
        method="bilinear",
        geometric_transform_mode="asymmetric",
        mode=None,
    ),
    "scale [1.5 1.3] nearest half-pixel floor": dict(
        scale=(1.5, 1.3), nearest_rounding_mode="floor", mode=None
    ),
}


@pytest.mark.parametrize("case", sorted(RESIZE_CASES))
def test_resize2d(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    options = dict(RESIZE_CASES[case])
    mode = options.pop("mode")
    layers = [image_input("in", 5, 7, 3), w.resize2d("resize", **options)]
    source, _ = check(
        tmp_path, layers, {"in": rand(rng, 5, 7, 3, 2)}, "resize", record_property
    )
    if mode is None:
        assert "resize = resize2d_matlab(" in source and "F.interpolate(" not in source
    else:
        assert f'mode="{mode}"' in source and "resize2d_matlab" not in source
        assert ("align_corners=False" in source) == (mode == "bilinear")


def test_resize_scale_rule_differs_from_output_size_rule(
    rng: np.random.Generator,
) -> None:
    """The Scale case above really pins a choice: with in·Scale not whole, sampling with
    Scale and sampling with in/out give different images."""
    x = rand(rng, 5, 7, 1, 1).astype(np.float64)
    by_scale = ref.resize2d_scaled(x, (1.5, 0.7), "bilinear")
    by_size = ref.resize2d(x, by_scale.shape[:2], "bilinear")
    assert by_scale.shape[:2] == (7, 4) and rel_err(by_scale, by_size) > 1e-2
    # Where F.interpolate would copy (output size = input size), MATLAB resamples.
    assert rel_err(ref.resize2d_scaled(x, (1.1, 1.0), "bilinear"), x) > 1e-2


@pytest.mark.parametrize(
    "options",
    [
        dict(method="bilinear"),
        dict(geometric_transform_mode="asymmetric"),  # explicit helper
    ],
    ids=["bilinear", "nearest asymmetric round"],
)
def test_resize2d_to_reference_input(
    tmp_path: Path,
    rng: np.random.Generator,
    record_property: Record,
    options: dict[str, str],
) -> None:
    """EnableReferenceInput: 'in' (a 3×4 max-pooled image) resized to 'ref' (7×9)."""
    layers = [
        image_input("in", 7, 9, 2),
        w.max_pool2d("pool", (2, 2), stride=(2, 2)),
        w.resize2d("resize", enable_reference_input=True, **options),
    ]
    conns = [("in", "pool"), ("pool", "resize/in"), ("in", "resize/ref")]
    source, got = check(
        tmp_path,
        layers,
        {"in": rand(rng, 7, 9, 2, 3)},
        "resize",
        record_property,
        conns,
    )
    assert got.shape == (7, 9, 2, 3)
    assert "in_.shape[2:]" in source


def test_real_resize_layer_from_pac48() -> None:
    """The real Resize2DLayer of pac48 (OutputSize [64 64], bilinear, half-pixel) converts
    to one F.interpolate call."""
    variables = ref.load_mat(
        str(corpus_file("dltoolbox", "pac48_imagecontrolBC_dlnet.mat"))
    )
    layers, _ = ref.network_layers(variables["dlnet"])
    (real,) = [x for x in layers if x.classname == "nnet.cnn.layer.Resize2DLayer"]
    record = LayerRecord.from_object(real, "pac48_imagecontrolBC_dlnet.mat")
    registration = lookup(record.classname)
    assert registration is not None
    node = registration.convert(record, [TensorInfo(IMAGE, (1, 32, 32))])
    assert node.out == TensorInfo(IMAGE, (1, 64, 64))  # type: ignore[union-attr]
    node.ident = "layer_1"
    line = render_node(node, ["x"]).forward[-1]  # type: ignore[arg-type]
    # Before black: pyrepr writes single quotes.
    assert line == (
        "layer_1 = F.interpolate(x, size=(64, 64), mode='bilinear', align_corners=False)"
    )


@pytest.mark.parametrize(
    ("options", "inputs", "expected"),
    [
        (dict(output_size=(4, 4), nearest_rounding_mode="onnx-10"), 1, "'onnx-10'"),
        (dict(output_size=(4, 4), method="cubic"), 1, "Method 'cubic'"),
        (dict(output_size=(4, float("nan"))), 1, "NaN"),
        (dict(scale=0.1), 1, "empty"),
        (dict(enable_reference_input=True), 1, "EnableReferenceInput true"),
    ],
    ids=["onnx-10", "cubic", "nan size", "scale to nothing", "reference unconnected"],
)
def test_resize2d_refusals_name_the_layer(
    tmp_path: Path, options: dict[str, Any], inputs: int, expected: str
) -> None:
    layers = [image_input("in", 5, 7, 3), w.resize2d("resize", **options)]
    message = convert_error(tmp_path, layers)
    assert "layer 'resize' (nnet.cnn.layer.Resize2DLayer)" in message
    assert expected in message


# ----------------------------------------------------------------------------------- crop

# ('in' H×W, 'ref' H×W, mode, Location [x y] or None)
CROP_CASES = {
    "center odd from odd": ((9, 7), (3, 5), "centercrop", None),
    "center even from odd": ((9, 7), (4, 2), "centercrop", None),
    "center odd from even": ((8, 6), (3, 5), "centercrop", None),
    "center even from even": ((8, 6), (2, 4), "centercrop", None),
    "center same size": ((8, 7), (8, 7), "centercrop", None),
    "custom [x y] = [2 3]": ((9, 7), (4, 5), "custom", (2, 3)),
    "custom at the corner": ((9, 7), (4, 5), "custom", (1, 1)),
    "custom to the far edge": ((9, 7), (4, 5), "custom", (3, 6)),
}


def _crop_network(
    big: tuple[int, int], small: tuple[int, int], mode: str, location: Any
) -> tuple[list[Any], list[tuple[str, str]]]:
    """Two image inputs: 'img' (3 channels) is cropped to the size of 'guide' (2)."""
    layers = [
        image_input("img", *big, 3),
        image_input("guide", *small, 2),
        w.crop2d("crop", mode, location),
    ]
    return layers, [("img", "crop/in"), ("guide", "crop/ref")]


@pytest.mark.parametrize("case", sorted(CROP_CASES))
def test_crop2d(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    big, small, mode, location = CROP_CASES[case]
    layers, conns = _crop_network(big, small, mode, location)
    inputs = {"img": rand(rng, *big, 3, 2), "guide": rand(rng, *small, 2, 2)}
    source, got = check(tmp_path, layers, inputs, "crop", record_property, conns)
    assert got.shape == (*small, 3, 2)
    assert "crop = img[:, :," in source  # a plain slice when the sizes are known


def test_crop2d_with_unknown_sizes_computes_the_centre_at_run_time() -> None:
    """Sizes unknown at conversion: the start is computed in forward (narrow)."""
    fields = {
        "Name": "crop",
        "Mode": np.array(["centercrop"]),
        "Location": np.array(["auto"]),
    }
    record = LayerRecord("nnet.cnn.layer.Crop2DLayer", fields, "net.mat")
    registration = lookup(record.classname)
    assert registration is not None
    unknown = TensorInfo(IMAGE, (3, None, None))
    node = registration.convert(record, [unknown, TensorInfo(IMAGE, (2, None, None))])
    node.ident = "crop"
    line = render_node(node, ["x", "ref"]).forward[-1]  # type: ignore[arg-type]
    assert "narrow(2, x.shape[2] // 2 - ref.shape[2] // 2, ref.shape[2])" in line
    rng = np.random.default_rng(5)
    for big, small in [((9, 7), (4, 5)), ((8, 6), (3, 3))]:
        x, r = rng.standard_normal((*big, 3, 2)), rng.standard_normal((*small, 2, 2))
        got = eval(line.split(" = ", 1)[1], {"x": to_torch(x), "ref": to_torch(r)})
        assert rel_err(to_matlab(got), ref.crop2d(x, small)) < 1e-6


@pytest.mark.parametrize(
    ("big", "small", "mode", "location", "expected"),
    [
        ((9, 7), (4, 5), "custom", (4, 3), "width of 5 from 3 out of 7"),
        ((9, 7), (4, 5), "custom", (1, 7), "height of 4 from 6 out of 9"),
        ((5, 5), (6, 4), "centercrop", None, "height of 6 from -1 out of 5"),
    ],
)
def test_crop2d_outside_the_input_is_refused(
    tmp_path: Path,
    big: tuple[int, int],
    small: tuple[int, int],
    mode: str,
    location: Any,
    expected: str,
) -> None:
    layers, conns = _crop_network(big, small, mode, location)
    message = convert_error(tmp_path, layers, conns)
    assert (
        "layer 'crop' (nnet.cnn.layer.Crop2DLayer)" in message and expected in message
    )


def test_crop2d_needs_its_reference_input(tmp_path: Path) -> None:
    layers = [image_input("img", 9, 7, 3), w.crop2d("crop")]
    assert "input 'ref'" in convert_error(tmp_path, layers)


# -------------------------------------------------------------------------- scalingLayer


def _scaling_case(
    rng: np.random.Generator,
    layout: str,
    scale_shape: tuple[int, ...] | None,
    bias_shape: tuple[int, ...] | None,
) -> tuple[list[Any], np.ndarray]:
    """An input of 3 channels (5×7 images, 4-step sequences) and a scalingLayer whose
    Scale/Bias have the given MATLAB shapes (None: a scalar)."""

    def operand(shape: tuple[int, ...] | None, scalar: float) -> Any:
        return scalar if shape is None else rng.uniform(-2, 2, shape)

    scaling = w.scaling_layer(
        "scale", operand(scale_shape, -1.5), operand(bias_shape, 0.25)
    )
    if layout == "image":
        return [image_input("in", 5, 7, 3), scaling], rand(rng, 5, 7, 3, 2)
    if layout == "feature":
        return [w.feature_input("in", 3), scaling], rand(rng, 3, 4)
    return [w.sequence_input("in", 3), scaling], rand(rng, 3, 2, 4)


SCALING_CASES = {
    "feature, C×1 arrays": ("feature", (3, 1), (3, 1)),
    "feature, scalars": ("feature", None, None),
    "feature, C×1 scale, scalar bias": ("feature", (3, 1), None),
    "image, 1×1×C scale, H×W×C bias": ("image", (1, 1, 3), (5, 7, 3)),
    "image, H×W scale, scalar bias": ("image", (5, 7), None),
    "image, scalars": ("image", None, None),
    "sequence, C×1 arrays": ("sequence", (3, 1), (3, 1)),
}


@pytest.mark.parametrize("case", sorted(SCALING_CASES))
def test_scaling_layer(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    layers, x = _scaling_case(rng, *SCALING_CASES[case])
    source, _ = check(tmp_path, layers, {"in": x}, "scale", record_property)
    layout, scale_shape, bias_shape = SCALING_CASES[case]
    if scale_shape is None:
        assert "* -1.5" in source
    if bias_shape is None:
        assert "+ 0.25" in source


def test_scaling_layer_refuses_what_matlab_cannot_broadcast(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    # A 1×C row against C×N features would expand to C×C in MATLAB, not scale channels.
    layers = [
        w.feature_input("in", 3),
        w.scaling_layer("scale", rng.uniform(size=(1, 3))),
    ]
    message = convert_error(tmp_path, layers)
    assert "layer 'scale' (rl.layer.ScalingLayer)" in message and "1×3 Scale" in message
    layers = [
        image_input("in", 5, 7, 3),
        w.scaling_layer("scale", 1.0, np.ones((1, 1, 4))),
    ]
    assert "1×1×4 Bias" in convert_error(tmp_path / "b", layers)


# ------------------------------------------------------------- batch normalization of sequences


@pytest.mark.parametrize("stored", ["1×1×C", "C×1"])
def test_batchnorm_of_sequences(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, stored: str
) -> None:
    """MATLAB normalizes a sequence per channel over batch and time: BatchNorm1d on (N, C, T)."""
    c = 5
    layer = w.batchnorm(
        "bn",
        mean=rand(rng, c),
        var=(np.abs(rand(rng, c)) + 0.1).astype(np.float32),
        offset=rand(rng, c),
        scale=rand(rng, c),
        epsilon=1e-3,
        channel_dim=None,
    )
    if stored == "C×1":
        record = layer.properties["any"][0, 0]
        for field in ("TrainedMean", "TrainedVariance"):
            value = record[field]
            w.with_fields(layer, **{field: value.reshape(c, 1)})
    x = rand(rng, c, 3, 7)  # C, N, T: batch of 3, 7 steps
    source, _ = check(
        tmp_path, [w.sequence_input("in", c), layer], {"in": x}, "bn", record_property
    )
    assert "self.bn = nn.BatchNorm1d(5, eps=0.001)" in source
    assert "bn = self.bn(in_.transpose(1, 2)).transpose(1, 2)" in source


@pytest.mark.parametrize(
    "classname",
    [
        "nnet.cnn.layer.FocalLossLayer",
        "nnet.cnn.layer.YOLOv2OutputLayer",
        "nnet.cnn.layer.RPNClassificationLayer",
        "nnet.cnn.layer.RCNNBoxRegressionLayer",
    ],
)
def test_training_only_heads_vanish_and_keep_class_names(classname: str) -> None:
    """Schema inferred (no real sample): these losses save Classes like the
    classification output layer; at inference they are the identity and are dropped."""
    from codegen.layers.record import LayerRecord
    from codegen.layers.registry import Dropped, lookup

    classes = np.empty((1, 2), dtype=object)
    classes[0, 0], classes[0, 1] = np.array(["car"]), np.array(["person"])
    record = LayerRecord(classname, {"Name": np.array(["head"]), "Classes": classes})
    registration = lookup(classname)
    assert registration is not None
    result = registration.convert(record, [])
    assert isinstance(result, Dropped) and result.classes == ("car", "person")
