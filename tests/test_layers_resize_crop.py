"""Per-layer checks for resize and crop (U-Nets).

Each case writes a tiny network with the project's schema writer, converts it, runs the
generated module and compares it with the independent NumPy reference run on the same
file, in MATLAB layout. Resize2DLayer's schema is copied from a real file
(pac48_imagecontrolBC_dlnet.mat); Crop2DLayer's is inferred (no real sample), as the
writer's docstrings say. Shapes are odd, batches > 1. Each comparison records its error
as the ``max_rel_err`` property (see it with ``--junitxml``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codegen.emit import render_node
from codegen.ir import IMAGE, TensorInfo
from codegen.layers.record import LayerRecord
from codegen.layers.registry import lookup
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests.conftest import corpus_file
from tests.support import (
    check_layers,
    convert_error,
    image_input,
    rand,
    rel_err,
    rng_fixture,
    to_matlab,
    to_torch,
)

Record = Callable[[str, object], None]
rng = rng_fixture(20260301)


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
    # 'onnx-10' (dlresize: ceil when downsampling, else floor): rows up, columns down.
    "size nearest onnx-10": dict(
        output_size=(9, 4), nearest_rounding_mode="onnx-10", mode=None
    ),
    "scale [1.5 0.6] nearest asymmetric onnx-10": dict(
        scale=(1.5, 0.6),
        geometric_transform_mode="asymmetric",
        nearest_rounding_mode="onnx-10",
        mode=None,
    ),
}


@pytest.mark.parametrize("case", sorted(RESIZE_CASES))
def test_resize2d(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    options = dict(RESIZE_CASES[case])
    mode = options.pop("mode")
    layers = [image_input("in", 5, 7, 3), w.resize2d("resize", **options)]
    source, _ = check_layers(
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
    source, got = check_layers(
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
        (dict(output_size=(4, 4), nearest_rounding_mode="ceil"), 1, "'ceil'"),
        (dict(output_size=(4, 4), method="cubic"), 1, "Method 'cubic'"),
        (dict(output_size=(4, float("nan"))), 1, "NaN"),
        (dict(scale=0.1), 1, "empty"),
        (dict(enable_reference_input=True), 1, "EnableReferenceInput true"),
    ],
    ids=["ceil", "cubic", "nan size", "scale to nothing", "reference unconnected"],
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
    source, got = check_layers(tmp_path, layers, inputs, "crop", record_property, conns)
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
