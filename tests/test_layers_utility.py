"""identityLayer, spatialDropoutLayer and crop3dLayer against the NumPy reference of
MATLAB's documented behaviour (codegen/reference/matlab_numpy/utility.py).

No real MATLAB file holds any of these classes: their schemas are **inferred** from the
closest real built-in classes (DropoutLayer's saveobj struct: Version 1, Name, then the
documented properties; see codegen/testing/dltwriter/utility.py). crop3dLayer's
'centercrop' rule is crop2dLayer's (MATLAB's TensorFlow exporter computes both with
floor(in/2 + 1) − floor(out/2 + 1)), and its [x y z] location is column, row, slice.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import utility as uref
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

rng = rng_fixture(2024)


def rand(g: np.random.Generator, *shape: int) -> np.ndarray:
    return g.standard_normal(shape).astype(np.float32)


def _forward_source(source: str) -> str:
    return source[source.index("def forward") : source.index("def predict")]


# ------------------------------------------------------------------------------ identity


def test_identity_passes_its_input_on_without_a_forward_line(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    layers = [
        image_input("in", 5, 7, 3),
        w.conv2d("conv", rand(rng, 3, 3, 3, 4), rand(rng, 4), padding=(1, 1, 1, 1)),
        w.identity("skip_me"),
        w.relu("relu"),
    ]
    x = rng.standard_normal((5, 7, 3, 2))
    source, _ = check_layers(tmp_path, layers, {"in": x}, "relu", record_property)
    forward = _forward_source(source)
    assert "skip_me" not in source
    assert "x = self.conv(in_)\n        relu = self.relu(x)\n" in forward


def test_identity_in_a_skip_connection_and_as_an_output(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    """in → conv → add/in1, in → identity → add/in2: the addition reads the input itself;
    a second identity after the addition is the network's output."""
    layers = [
        image_input("in", 4, 6, 2),
        w.conv2d("conv", rand(rng, 1, 1, 2, 2), rand(rng, 2)),
        w.identity("shortcut"),
        w.addition("add"),
        w.identity("out"),
    ]
    conns = [
        ("in", "conv"),
        ("in", "shortcut"),
        ("conv", "add/in1"),
        ("shortcut", "add/in2"),
        ("add", "out"),
    ]
    x = rng.standard_normal((4, 6, 2, 3))
    source, _ = check_layers(tmp_path, layers, {"in": x}, "out", record_property, conns)
    forward = _forward_source(source)
    print(forward)
    assert "shortcut" not in forward and "out =" not in forward


def test_identity_on_sequences(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    layers = [
        w.sequence_input("in", 3),
        w.identity("id"),
        w.fully_connected("fc", rand(rng, 2, 3), rand(rng, 2)),
    ]
    x = rng.standard_normal((3, 2, 5))
    check_layers(tmp_path, layers, {"in": x}, "fc", record_property)


# ------------------------------------------------------------------------ spatial dropout

# layout → (input layer, MATLAB batch shape, the nn module generated)
SPATIAL_DROPOUT_CASES = {
    "image": (lambda: image_input("in", 5, 7, 3), (5, 7, 3, 2), "nn.Dropout2d"),
    "sequence": (lambda: w.sequence_input("in", 3), (3, 2, 6), "nn.Dropout1d"),
    "feature": (lambda: w.feature_input("in", 3), (3, 2), "nn.Dropout("),
}


@pytest.mark.parametrize("case", sorted(SPATIAL_DROPOUT_CASES))
def test_spatial_dropout_is_the_identity_at_prediction(
    tmp_path: Path, rng: np.random.Generator, record_property: Any, case: str
) -> None:
    make_input, shape, module = SPATIAL_DROPOUT_CASES[case]
    layers = [make_input(), w.spatial_dropout("sdrop", 0.25), w.relu("relu")]
    x = rng.standard_normal(shape)
    source, got = check_layers(tmp_path, layers, {"in": x}, "relu", record_property)
    assert f"self.sdrop = {module}" in source and "p=0.25" in source
    assert np.array_equal(got, np.maximum(x.astype(np.float32), 0))


def test_spatial_dropout_on_volumes(tmp_path: Path, rng: np.random.Generator) -> None:
    layers = [w.image3d_input("in", (4, 5, 3, 2), "none"), w.spatial_dropout("sdrop")]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    module, model = convert_and_load(path, tmp_path / "out")
    x = rng.standard_normal((4, 5, 3, 2, 2))
    with torch.no_grad():
        got = model.predict(module.from_matlab(x)).numpy().transpose(3, 4, 2, 1, 0)
    expected = ref.run_layers(ref.network_layers(ref.load_mat(str(path))["net"])[0], x)
    assert rel_err(got, expected) <= TOL
    assert "nn.Dropout3d(p=0.5)" in (tmp_path / "out" / "model.py").read_text()


@pytest.mark.parametrize("case", ["image", "sequence"])
def test_spatial_dropout_drops_whole_channels_in_training(
    tmp_path: Path, rng: np.random.Generator, case: str
) -> None:
    """MATLAB's mask is rand over the channel and batch dimensions only: in training a
    channel of an observation is all zeros or all scaled by 1/(1 − p), at every pixel
    (or time step)."""
    make_input, shape, _ = SPATIAL_DROPOUT_CASES[case]
    layers = [make_input(), w.spatial_dropout("sdrop", 0.5)]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    _, model = convert_and_load(path, tmp_path / "out")
    x = torch.ones((16, 3, 5, 7) if case == "image" else (16, 6, 3))
    model.train()
    torch.manual_seed(0)
    y = model(x)
    per_channel = y if case == "image" else y.transpose(1, 2)  # (N, C, ...)
    flat = per_channel.reshape(16, 3, -1)
    assert torch.all((flat == 0).all(-1) | (flat == 2).all(-1))
    assert 0 < int((flat == 0).all(-1).sum()) < 48


def test_spatial_dropout_probability_one_is_refused(tmp_path: Path) -> None:
    message = convert_error(
        tmp_path, [image_input("in", 3, 3, 1), w.spatial_dropout("sdrop", 1.0)]
    )
    assert "layer 'sdrop' (nnet.cnn.layer.SpatialDropoutLayer)" in message
    assert "Probability 1.0" in message


# -------------------------------------------------------------------------------- crop3d

H, W_, D = 9, 7, 8

CROP_CASES: dict[str, tuple[tuple[int, int, int], list[int] | None]] = {
    # reference size [h w d], CropLocation [x y z] or None for 'centercrop'
    "center, odd and even differences": ((4, 4, 5), None),
    "center, same depth": ((5, 3, 8), None),
    "center, one voxel": ((1, 1, 1), None),
    "center, same size": ((9, 7, 8), None),
    "location": ((3, 5, 2), [2, 4, 6]),
    "location at the origin": ((3, 2, 4), [1, 1, 1]),
    "location at the far corner": ((2, 3, 1), [5, 8, 8]),
}


def _crop_network(small: tuple[int, int, int], location: list[int] | None) -> Any:
    layers = [
        w.image3d_input("img", (H, W_, D, 3), "none"),
        w.image3d_input("guide", (*small, 2), "none"),
        w.crop3d("crop", location),
        w.relu("relu"),
    ]
    conns = [("img", "crop/in"), ("guide", "crop/ref"), ("crop", "relu")]
    return layers, conns


def _run_crop(tmp_path: Path, network: Any, x: np.ndarray, g: np.ndarray) -> Any:
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": network})
    module, model = convert_and_load(path, tmp_path / "out")
    with torch.no_grad():
        y = model.predict(module.from_matlab(x), module.from_matlab(g))
    saved = ref.load_mat(str(path))["net"]
    layers, conns = ref.network_layers(saved)
    expected = ref.run_graph(layers, conns, {"img": x, "guide": g})["relu"]
    return y.numpy().transpose(3, 4, 2, 1, 0), expected


@pytest.mark.parametrize("case", sorted(CROP_CASES))
def test_crop3d(
    tmp_path: Path, rng: np.random.Generator, record_property: Any, case: str
) -> None:
    small, location = CROP_CASES[case]
    layers, conns = _crop_network(small, location)
    x = rng.standard_normal((H, W_, D, 3, 2))
    g = rng.standard_normal((*small, 2, 2))
    got, expected = _run_crop(tmp_path, w.dag_network(layers, conns), x, g)
    assert got.shape == (*small, 3, 2)
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL
    source = (tmp_path / "out" / "model.py").read_text()
    assert (
        "x = img[" in source and ".narrow(" not in source
    )  # a plain slice when the sizes are known


def test_crop3d_reference_follows_matlab_center_rule() -> None:
    """The reference's window, checked by hand: from 9 rows to 4, MATLAB's centre start
    is floor(9/2 + 1) − floor(4/2 + 1) + 1 = 5 − 3 + 1 = 3 (1-based): rows 3..6; from 8
    slices to 5, floor(5) − floor(3.5) + 1 = 3: slices 3..7; odd differences leave the
    extra voxel at the end."""
    x = np.arange(9 * 7 * 8, dtype=np.float64).reshape(9, 7, 8, 1, 1)
    y = uref.crop3d(x, (4, 4, 5))
    assert np.array_equal(y, x[2:6, 1:5, 2:7])
    y = uref.crop3d(x, (3, 5, 2), location=(2, 4, 6))  # column 2, row 4, slice 6
    assert np.array_equal(y, x[3:6, 1:6, 5:7])


def test_crop3d_unknown_sizes_computes_the_centre_at_run_time(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """The template's run-time form (sizes unknown when converting), rendered and run."""
    from codegen.emit import forward_expression
    from codegen.ir import VOLUME, TensorInfo
    from codegen.layers.record import LayerRecord
    from codegen.layers.utility import crop3d

    record = LayerRecord(
        "nnet.cnn.layer.Crop3DLayer",
        {"Name": "crop", "CropLocation": np.array(["centercrop"]), "Version": 1.0},
    )
    unknown = TensorInfo(VOLUME, (3, None, None, None))
    node = crop3d(record, [unknown, TensorInfo(VOLUME, (2, None, None, None))])
    expression = forward_expression(node, ["a", "b"])
    assert ".narrow(" in expression
    x = rng.standard_normal((H, W_, D, 3, 1))
    a = torch.from_numpy(x.transpose(4, 3, 2, 0, 1).copy())
    b = torch.zeros((1, 2, 5, 4, 4))  # D, H, W = 5, 4, 4
    got = eval(expression, {"a": a, "b": b}).numpy().transpose(3, 4, 2, 1, 0)
    assert np.array_equal(got, uref.crop3d(x, (4, 4, 5)))


@pytest.mark.parametrize(
    "small, location, expected",
    [
        ((4, 4, 9), None, "depth of 9 from 0 out of 8"),
        ((3, 3, 3), [6, 1, 1], "width of 3 from 5 out of 7"),
        ((3, 3, 3), [1, 8, 1], "height of 3 from 7 out of 9"),
    ],
)
def test_crop3d_outside_the_input_is_refused(
    tmp_path: Path, small: Any, location: Any, expected: str
) -> None:
    layers, conns = _crop_network(small, location)
    message = convert_error(tmp_path, layers, conns)
    assert "layer 'crop' (nnet.cnn.layer.Crop3DLayer)" in message
    assert expected in message


def test_crop3d_needs_its_reference_input(tmp_path: Path) -> None:
    layers = [w.image3d_input("img", (H, W_, D, 3), "none"), w.crop3d("crop")]
    message = convert_error(tmp_path, layers)
    assert "1 input(s) connected" in message and "'ref'" in message


def test_crop3d_on_images_is_refused(tmp_path: Path) -> None:
    layers = [image_input("img", 9, 7, 3), image_input("g", 3, 3, 3), w.crop3d("crop")]
    conns = [("img", "crop/in"), ("g", "crop/ref")]
    message = convert_error(tmp_path, layers, conns)
    assert "layer 'crop'" in message and "3-D image" in message


@pytest.mark.parametrize(
    "value, expected",
    [
        (w.char("center"), "CropLocation 'center'"),
        (w.double([1, 2]), "CropLocation [1.0, 2.0]"),
        (w.double([0, 1, 1]), "CropLocation [0.0, 1.0, 1.0]"),
        (w.double([1.5, 1, 1]), "CropLocation [1.5, 1.0, 1.0]"),
    ],
)
def test_crop3d_bad_crop_location_is_refused(
    tmp_path: Path, value: Any, expected: str
) -> None:
    layers, conns = _crop_network((3, 3, 3), None)
    layers[2] = w.with_fields(layers[2], CropLocation=value)
    message = convert_error(tmp_path, layers, conns)
    assert expected in message


# --------------------------------------------------------------------- schema versions


@pytest.mark.parametrize(
    "make, classname",
    [
        (lambda: w.identity("layer"), "IdentityLayer"),
        (lambda: w.spatial_dropout("layer"), "SpatialDropoutLayer"),
    ],
)
@pytest.mark.parametrize("version", [0, 2])
def test_unknown_schema_versions_are_refused(
    tmp_path: Path, make: Any, classname: str, version: int
) -> None:
    layer = w.with_fields(make(), Version=w.double(version))
    message = convert_error(tmp_path, [image_input("in", 3, 3, 1), layer])
    assert f"layer 'layer' (nnet.cnn.layer.{classname})" in message
    assert f"schema version {version}" in message


def test_crop3d_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    layers, conns = _crop_network((3, 3, 3), None)
    layers[2] = w.with_fields(layers[2], Version=w.double(2))
    message = convert_error(tmp_path, layers, conns)
    assert "(nnet.cnn.layer.Crop3DLayer)" in message and "schema version 2" in message


def test_identity_chain_in_a_dlnetwork(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    """Identity layers in a row, in a dlnetwork (no output layer): each hands on what
    it receives."""
    layers = [
        w.feature_input("in", 4),
        w.identity("id1"),
        w.identity("id2"),
        w.fully_connected("fc", rand(rng, 3, 4), rand(rng, 3)),
        w.identity("id3"),
    ]
    names = ["in", "id1", "id2", "fc", "id3"]
    net = w.dlnetwork(layers, list(itertools.pairwise(names)))
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    _, model = convert_and_load(path, tmp_path / "out")
    x = rng.standard_normal((4, 5))
    got = run(model, x).numpy().T
    saved = ref.load_mat(str(path))["net"]
    layers_, conns = ref.network_layers(saved)
    expected = ref.run_graph(layers_, conns, {"in": x})["id3"]
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL


def test_spatial_dropout_on_image_sequences_drops_channels_over_all_frames(
    tmp_path: Path,
) -> None:
    """Image sequences (N, T, C, H, W): the identity in eval; in training one mask per
    channel and observation, constant over frames and pixels (nn.Dropout3d on the
    channels-first (N, C, T, H, W))."""
    layers = [
        w.image_sequence_input("in", (4, 5, 3), "none"),
        w.spatial_dropout("sdrop", 0.5),
    ]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    _, model = convert_and_load(path, tmp_path / "out")
    source = (tmp_path / "out" / "model.py").read_text()
    assert "nn.Dropout3d(p=0.5)" in source and ".transpose(1, 2)" in source
    x = torch.randn(2, 6, 3, 4, 5)
    with torch.no_grad():
        assert torch.equal(model(x), x)
    model.train()
    torch.manual_seed(1)
    y = model(torch.ones(16, 6, 3, 4, 5)).transpose(1, 2).reshape(16, 3, -1)
    assert torch.all((y == 0).all(-1) | (y == 2).all(-1))
    assert 0 < int((y == 0).all(-1).sum()) < 48


def test_crop3d_in_a_3d_unet_with_valid_convolutions(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    """The unpadded 3-D U-Net pattern (unet3dLayers with 'valid' convolutions): the
    encoder's features are cropped to the upsampled decoder's size and concatenated;
    written as v7.3, as large volumes usually are."""
    h, w_, d, c = 12, 10, 11, 2
    layers = [
        w.image3d_input("in", (h, w_, d, c), "none"),
        w.conv3d("enc", rand(rng, 3, 3, 3, c, 4) / 6, rand(rng, 4)),
        w.relu("enc_relu"),
        w.max_pool3d("pool", (2, 2, 2), stride=(2, 2, 2)),
        w.conv3d("mid", rand(rng, 3, 3, 3, 4, 4) / 10, rand(rng, 4)),
        w.transposed_conv3d(
            "up", rand(rng, 2, 2, 2, 4, 4) / 6, rand(rng, 4), stride=(2, 2, 2)
        ),
        w.crop3d("crop"),
        w.depth_concatenation("cat"),
        w.conv3d("head", rand(rng, 1, 1, 1, 8, 3) / 3, rand(rng, 3)),
    ]
    conns = [
        ("in", "enc"),
        ("enc", "enc_relu"),
        ("enc_relu", "pool"),
        ("pool", "mid"),
        ("mid", "up"),
        ("enc_relu", "crop/in"),
        ("up", "crop/ref"),
        ("crop", "cat/in1"),
        ("up", "cat/in2"),
        ("cat", "head"),
    ]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.dag_network(layers, conns)}, version="v7.3")
    module, model = convert_and_load(path, tmp_path / "out")
    x = rng.standard_normal((h, w_, d, c, 2))
    with torch.no_grad():
        got = model.predict(module.from_matlab(x)).numpy().transpose(3, 4, 2, 1, 0)
    saved = ref.load_mat(str(path))["net"]
    objects, connections = ref.network_layers(saved)
    expected = ref.run_graph(objects, connections, {"in": x})["head"]
    # enc: 10×8×9, pool: 5×4×4, mid: 3×2×2, up: 6×4×4 — crop from 10×8×9 to 6×4×4
    assert got.shape == (6, 4, 4, 3, 2)
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL
