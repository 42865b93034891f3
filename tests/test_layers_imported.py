"""Layers of MATLAB's Keras and ONNX importers (nnet.keras.layer.*, nnet.onnx.layer.*).

Their schema is inferred, no real sample: they are nnet.layer.Layer subclasses, written
the way the corpus's user-defined layers are stored (mimo_trainedNet.mat's sigmoidLayer,
eeg_eegNet.mat's identityLayer: plain properties beside the Layer base class's Name,
Description and Type), with the property names their MathWorks class files declare.
Each case writes a tiny network with the schema writer, converts it, runs the generated
module and compares it with the independent NumPy reference
(codegen/reference/matlab_numpy/imported.py, written from the classes' predict methods).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen import cli
from codegen.api import convert
from codegen.docs import supported_layers_markdown
from codegen.errors import ConversionError
from codegen.layers.registry import lookup
from codegen.readers.mat import find_networks, load
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import imported as ref_imported
from codegen.testing import dltwriter as w
from codegen.testing import hostile
from tests.conftest import convert_and_load
from tests.support import (
    TOL,
    convert_error,
    image_input,
    rand,
    reference_graph,
    rel_err,
    rng_fixture,
    run,
    to_matlab,
    write_and_convert,
)

Record = Callable[[str, object], None]
rng = rng_fixture(20261202)

IMPORTER_CLASSES = (
    "nnet.keras.layer.FlattenCStyleLayer",
    "nnet.keras.layer.ZeroPadding2dLayer",
    "nnet.keras.layer.ZeroPadding1dLayer",
    "nnet.keras.layer.ClipLayer",
    "nnet.keras.layer.SigmoidLayer",
    "nnet.keras.layer.TanhLayer",
    "nnet.onnx.layer.FlattenLayer",
    "nnet.onnx.layer.FlattenInto2dLayer",
    "nnet.onnx.layer.ElementwiseAffineLayer",
    "nnet.keras.layer.SoftsignLayer",
    "nnet.keras.layer.PreluLayer",
    "nnet.keras.layer.GlobalAveragePooling2dLayer",
    "nnet.onnx.layer.GlobalAveragePooling2dLayer",
    "nnet.onnx.layer.SigmoidLayer",
    "nnet.onnx.layer.TanhLayer",
    "nnet.onnx.layer.ClipLayer",
    "nnet.keras.layer.FlattenCStyleTFLayer",
    "nnet.keras.layer.TimeDistributedFlattenCStyleLayer",
    "nnet.onnx.layer.IdentityLayer",
    "nnet.onnx.layer.VerifyBatchSizeLayer",
)


def check_layers(
    tmp_path: Path,
    layers: list[Any],
    inputs: dict[str, np.ndarray],
    output: str,
    record_property: Record,
) -> tuple[str, np.ndarray]:
    """tests.support.check_layers, with MATLAB's 1×1×Out×N (1×1×1×Out×N) result of an
    FC after an image (volume) compared as the Out×N the generated model returns."""
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    _, model = convert_and_load(path, tmp_path / "out")
    # Volumes H×W×D×C×N → (N, C, D, H, W); the rest as tests.support converts them.
    args = [
        (
            torch.from_numpy(np.ascontiguousarray(x.transpose(4, 3, 2, 0, 1)))
            if x.ndim == 5
            else x
        )
        for x in inputs.values()
    ]
    got = to_matlab(run(model, *args))
    expected = reference_graph(ref.load_mat(str(path))["net"], inputs)[output]
    if (
        got.ndim == 2
        and expected.ndim > 2
        and expected.shape[:-2] == (1,) * (expected.ndim - 2)
    ):
        expected = expected.reshape(expected.shape[-2:])
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"
    return (tmp_path / "out" / "model.py").read_text(), got


# ------------------------------------------------------------------ reading and registry


def test_importer_layers_are_layers_of_a_layer_array(tmp_path: Path) -> None:
    """A layer array holding importer layers is a network (it was 'no network found'
    while only nnet.cnn.layer., nnet.layer. and rl.layer. classes counted as layers)."""
    layers = [
        image_input("in", 2, 3, 4),
        w.keras_flatten_cstyle("flat"),
        w.onnx_elementwise_affine("aff", 2.0, 0.5),
    ]
    path = tmp_path / "arr.mat"
    w.write_mat(path, {"layers": w.layer_array(layers)})
    found = find_networks(load(path).variables)
    assert [(f.path, f.kind) for f in found] == [("layers", "LayerArray")]
    write_and_convert(tmp_path, {"layers": w.layer_array(layers)}, name="conv.mat")


def test_importer_layers_write_and_reload_with_their_class_and_properties(
    tmp_path: Path,
) -> None:
    """The schema writer's importer layers read back (mat-io, with the project's
    per-element class fix) as their own classes with their own properties."""
    layers = [
        w.keras_flatten_cstyle("a"),
        w.keras_zero_padding2d("b", (1, 2, 3, 4)),
        w.keras_prelu("c", np.array([0.1, 0.2]).reshape(1, 1, 2)),
        w.onnx_elementwise_affine("d", np.ones((1, 1, 2)), 0.5),
        w.onnx_activation("e", "clip", (-np.inf, 6.0)),
    ]
    path = tmp_path / "layers.mat"
    w.write_mat(path, {"layers": w.layer_array(layers)})
    stored = list(load(path).variables["layers"].ravel(order="F"))
    assert [x.classname for x in stored] == [x.classname for x in layers]
    pad = stored[1].properties
    assert [float(pad[k].ravel()[0]) for k in ("Top", "Bottom", "Left", "Right")] == [
        1,
        2,
        3,
        4,
    ]
    assert bool(stored[3].properties["DoOffset"].ravel()[0])
    assert not bool(stored[3].properties["DoScale"].ravel()[0])
    assert float(stored[4].properties["Min"].ravel()[0]) == -np.inf


def test_importer_classes_are_registered_and_listed() -> None:
    table = supported_layers_markdown()
    for classname in IMPORTER_CLASSES:
        registration = lookup(classname)
        assert registration is not None, classname
        assert registration.family in ("imported", "imported_flatten"), classname
        assert registration.properties is not None, classname
        assert f"`{classname}`" in table, classname


# ------------------------------------------------------------------ FlattenCStyleLayer


def test_keras_flatten_feeds_a_fully_connected_layer_in_keras_order(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """H×W×C flattened C-style (channels fastest): the FC's weights see Keras' order,
    which MATLAB's own flatten order (h fastest) would not reproduce."""
    weights = rand(rng, 5, 3 * 4 * 2)
    layers = [
        image_input("in", 3, 4, 2),
        w.keras_flatten_cstyle("flat"),
        w.fully_connected("fc", weights, rand(rng, 5)),
    ]
    x = rand(rng, 3, 4, 2, 3)
    source, got = check_layers(tmp_path, layers, {"in": x}, "fc", record_property)
    assert "permute(0, 2, 3, 1)" in source and "Keras flatten" in source
    # The same FC after MATLAB's default (column-major) flatten gives something else.
    bias = np.asarray(got).reshape(5, -1) - weights @ ref_imported.flatten_cstyle(
        x
    ).reshape(24, -1)
    default = weights @ ref_imported.default_flatten(x) + bias
    assert rel_err(default, np.asarray(got).reshape(5, -1)) > 0.1


def test_keras_flatten_of_an_image_keeps_a_1x1_image(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    layers = [image_input("in", 2, 3, 4), w.keras_flatten_cstyle("flat")]
    _, got = check_layers(
        tmp_path, layers, {"in": rand(rng, 2, 3, 4, 2)}, "flat", record_property
    )
    assert got.shape == (1, 1, 24, 2)


def test_keras_flatten_of_a_volume(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """H×W×D×C: permute [4 3 2 1 5] then flatten (a 1×1×1 volume), then an FC."""
    layers = [
        w.image3d_input("in", (2, 3, 4, 2), "none"),
        w.keras_flatten_cstyle("flat"),
        w.fully_connected("fc", rand(rng, 3, 48), rand(rng, 3)),
    ]
    check_layers(
        tmp_path, layers, {"in": rand(rng, 2, 3, 4, 2, 2)}, "fc", record_property
    )


def test_keras_flatten_of_a_sequence(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """C×N×T (CBT) → (C·T)×N: time steps one after another, channels fastest."""
    layers = [
        w.sequence_input("in", 3),
        w.keras_flatten_cstyle("flat"),
        w.fully_connected("fc", rand(rng, 4, 3 * 5), rand(rng, 4)),
    ]
    check_layers(tmp_path, layers, {"in": rand(rng, 3, 2, 5)}, "fc", record_property)


def test_keras_flatten_of_features_changes_nothing(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    layers = [
        w.feature_input("in", 6),
        w.keras_flatten_cstyle("flat"),
        w.fully_connected("fc", rand(rng, 2, 6), rand(rng, 2)),
    ]
    source, _ = check_layers(
        tmp_path, layers, {"in": rand(rng, 6, 3)}, "fc", record_property
    )
    assert (
        "x = torch.flatten(in_, 1)" in source
        and "permute" not in source.split("def forward")[1].split("def predict")[0]
    )


# ------------------------------------------------------------------ FlattenCStyleTFLayer


@pytest.mark.parametrize("layout", ["image", "volume", "sequence"])
def test_tensorflow_flatten_feeds_a_fully_connected_layer(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, layout: str
) -> None:
    """The TensorFlow importer's flatten: the same C-style orders, a CB output."""
    first, x, count = {
        "image": (image_input("in", 3, 4, 2), rand(rng, 3, 4, 2, 2), 24),
        "volume": (
            w.image3d_input("in", (2, 3, 4, 2), "none"),
            rand(rng, 2, 3, 4, 2, 2),
            48,
        ),
        "sequence": (w.sequence_input("in", 3), rand(rng, 3, 2, 5), 15),
    }[layout]
    weights = rand(rng, 4, count)
    layers = [
        first,
        w.keras_flatten_cstyle_tf("flat"),
        w.fully_connected("fc", weights, np.zeros(4, np.float32)),
    ]
    _, got = check_layers(tmp_path, layers, {"in": x}, "fc", record_property)
    if layout == "image":
        default = weights @ ref_imported.default_flatten(x)
        assert rel_err(default, got) > 0.1


def test_tensorflow_flatten_of_an_image_sequence(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """SSCBT: H×W×C×N×T permuted to C×W×H×T×N, so time steps come outermost."""
    layers = [
        w.image_sequence_input("in", (2, 3, 2)),
        w.keras_flatten_cstyle_tf("flat"),
    ]
    _, model, _ = write_and_convert(
        tmp_path, {"net": w.series_network(layers)}, name="seq.mat"
    )
    x = rand(rng, 2, 3, 2, 2, 4)  # H×W×C×N×T
    tensor = torch.from_numpy(np.ascontiguousarray(x.transpose(3, 4, 2, 0, 1)))
    with torch.no_grad():
        got = model(tensor).numpy().T
    expected = ref_imported.flatten_cstyle_tf(x, "SSCBT")
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"


def test_time_distributed_flatten_between_folding_and_unfolding(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """Folded H×W×C×(N·T) images flattened C-style, then unfolded to (H·W·C)×N×T; the
    expectation is predict applied to each time step's images on their own."""
    layers = [
        w.image_sequence_input("in", (2, 3, 2)),
        w.sequence_folding("fold"),
        w.keras_time_distributed_flatten("flat"),
        w.sequence_unfolding("unfold"),
    ]
    edges = [
        ("in", "fold"),
        ("fold/out", "flat"),
        ("flat", "unfold"),
        ("fold/miniBatchSize", "unfold/miniBatchSize"),
    ]
    _, model, _ = write_and_convert(
        tmp_path, {"net": w.dag_network(layers, edges)}, name="td.mat"
    )
    x = rand(rng, 2, 3, 2, 3, 4)  # H×W×C×N×T
    tensor = torch.from_numpy(np.ascontiguousarray(x.transpose(3, 4, 2, 0, 1)))
    with torch.no_grad():
        got = model(tensor).numpy().transpose(2, 0, 1)  # (N, T, K) → K×N×T
    expected = np.stack(
        [ref_imported.flatten_time_distributed(x[..., t]) for t in range(4)], axis=-1
    )
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"


# ------------------------------------------------------------------ ONNX flatten


@pytest.mark.parametrize("flatten", [w.onnx_flatten, w.onnx_flatten_into_2d])
def test_onnx_flatten_feeds_a_fully_connected_layer_in_nchw_order(
    tmp_path: Path,
    rng: np.random.Generator,
    record_property: Record,
    flatten: Callable[[str], object],
) -> None:
    weights = rand(rng, 5, 24)
    layers = [
        image_input("in", 3, 4, 2),
        flatten("flat"),
        w.fully_connected("fc", weights, np.zeros(5, np.float32)),
    ]
    x = rand(rng, 3, 4, 2, 2)
    source, got = check_layers(tmp_path, layers, {"in": x}, "fc", record_property)
    assert re.search(r"x = torch\.flatten\(\w+, 1\)", source), source
    assert ".permute(0, 2, 3, 1)" not in source
    default = weights @ ref_imported.default_flatten(x)
    assert rel_err(default, np.asarray(got).reshape(5, -1)) > 0.1


def test_onnx_mlp_with_a_flatten_before_every_fully_connected_layer(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """MATLAB's ONNX importer puts a FlattenLayer before every Gemm: the second one gets
    the first FC's 1×1×C×N output and leaves it as it is."""
    layers = [
        image_input("in", 2, 3, 2),
        w.onnx_flatten("flat1"),
        w.fully_connected("fc1", rand(rng, 5, 12), rand(rng, 5)),
        w.relu("relu"),
        w.onnx_flatten("flat2"),
        w.fully_connected("fc2", rand(rng, 3, 5), rand(rng, 3)),
    ]
    source, _ = check_layers(
        tmp_path, layers, {"in": rand(rng, 2, 3, 2, 4)}, "fc2", record_property
    )
    assert "ONNX flatten of feature vectors: nothing to reorder" in source


def test_onnx_flatten_into_2d_gives_features(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    layers = [image_input("in", 2, 2, 3), w.onnx_flatten_into_2d("flat")]
    _, got = check_layers(
        tmp_path, layers, {"in": rand(rng, 2, 2, 3, 2)}, "flat", record_property
    )
    assert got.shape == (12, 2)


# ------------------------------------------------------------------ ElementwiseAffineLayer

AFFINE_CASES = {
    "image, 1×1×C scale, H×W×C offset": ("image", (1, 1, 3), (5, 7, 3), True),
    "image, scalars": ("image", None, None, True),
    "feature, C×1 arrays": ("feature", (3, 1), (3, 1), True),
    "feature, no DoScale/DoOffset stored": ("feature", (3, 1), None, False),
    "sequence, C×1 scale, scalar offset": ("sequence", (3, 1), None, True),
}


@pytest.mark.parametrize("case", sorted(AFFINE_CASES))
def test_onnx_elementwise_affine(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    layout, scale_shape, offset_shape, flags = AFFINE_CASES[case]
    scale = -1.5 if scale_shape is None else rng.uniform(-2, 2, scale_shape)
    offset = 0.25 if offset_shape is None else rng.uniform(-2, 2, offset_shape)
    affine = w.onnx_elementwise_affine("aff", scale, offset, flags=flags)
    inputs = {
        "image": (image_input("in", 5, 7, 3), rand(rng, 5, 7, 3, 2)),
        "feature": (w.feature_input("in", 3), rand(rng, 3, 4)),
        "sequence": (w.sequence_input("in", 3), rand(rng, 3, 2, 4)),
    }
    layer, x = inputs[layout]
    check_layers(tmp_path, [layer, affine], {"in": x}, "aff", record_property)


def test_onnx_elementwise_affine_follows_its_flags(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """predict multiplies only when DoScale is set, whatever Scale holds."""
    affine = w.onnx_elementwise_affine("aff", 3.0, 0.5)
    affine.properties["DoScale"] = w.logical(False)
    layers = [w.feature_input("in", 3), affine]
    x = rand(rng, 3, 4)
    source, got = check_layers(tmp_path, layers, {"in": x}, "aff", record_property)
    assert "* 3.0" not in source
    assert rel_err(got, x.astype(np.float64) + 0.5) < 1e-6


# ------------------------------------------------------------------ zero padding


@pytest.mark.parametrize(
    "amounts", [1, (2, 1), (1, 0, 2, 3)], ids=["scalar", "vertical-horizontal", "tblr"]
)
def test_keras_zero_padding2d(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, amounts: object
) -> None:
    layers = [
        image_input("in", 3, 4, 2),
        w.keras_zero_padding2d("zp", amounts),  # type: ignore[arg-type]
        w.conv2d("conv", rand(rng, 2, 2, 2, 3), rand(rng, 3)),
    ]
    check_layers(
        tmp_path, layers, {"in": rand(rng, 3, 4, 2, 2)}, "conv", record_property
    )


def test_keras_zero_padding2d_is_asymmetric_where_stored(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    layers = [image_input("in", 3, 4, 2), w.keras_zero_padding2d("zp", (1, 0, 2, 3))]
    source, got = check_layers(
        tmp_path, layers, {"in": rand(rng, 3, 4, 2, 1)}, "zp", record_property
    )
    assert "nn.ZeroPad2d((2, 3, 1, 0))" in source
    assert got.shape == (4, 9, 2, 1)


def test_keras_zero_padding1d(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    layers = [w.sequence_input("in", 3), w.keras_zero_padding1d("zp", 2, 1)]
    _, got = check_layers(
        tmp_path, layers, {"in": rand(rng, 3, 2, 5)}, "zp", record_property
    )
    assert got.shape == (3, 2, 8)


# ------------------------------------------------------------------ elementwise


@pytest.mark.parametrize(
    "make",
    [
        lambda: w.keras_sigmoid("act"),
        lambda: w.keras_tanh("act"),
        lambda: w.keras_clip("act", -0.5, 0.75),
        lambda: w.keras_clip("act", 1.0, -1.0),
        lambda: w.keras_softsign("act"),
        lambda: w.keras_prelu("act", 0.2),
        lambda: w.keras_prelu("act", np.array([0.1, -0.3]).reshape(1, 1, 2)),
        lambda: w.onnx_activation("act", "sigmoid"),
        lambda: w.onnx_activation("act", "tanh"),
        lambda: w.onnx_activation("act", "clip", (-0.25, 0.5)),
        lambda: w.onnx_activation("act", "clip", (-np.inf, 0.5)),
        lambda: w.onnx_activation("act", "clip"),
    ],
    ids=[
        "sigmoid",
        "tanh",
        "clip",
        "clip-min-above-max",
        "softsign",
        "prelu-scalar",
        "prelu-per-channel",
        "onnx-sigmoid",
        "onnx-tanh",
        "onnx-clip",
        "onnx-clip-no-min",
        "onnx-clip-no-bounds",
    ],
)
def test_keras_elementwise_layers(
    tmp_path: Path,
    rng: np.random.Generator,
    record_property: Record,
    make: Callable[[], object],
) -> None:
    layers = [image_input("in", 3, 4, 2), make()]
    check_layers(
        tmp_path, layers, {"in": 2 * rand(rng, 3, 4, 2, 2)}, "act", record_property
    )


@pytest.mark.parametrize("importer", ["keras", "onnx"])
def test_global_average_pooling_then_fully_connected(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, importer: str
) -> None:
    layers = [
        image_input("in", 3, 5, 4),
        w.importer_global_avg_pool2d("gap", importer),
        w.fully_connected("fc", rand(rng, 3, 4), rand(rng, 3)),
    ]
    check_layers(tmp_path, layers, {"in": rand(rng, 3, 5, 4, 2)}, "fc", record_property)


def test_keras_prelu_along_another_dimension_is_refused(tmp_path: Path) -> None:
    """Alpha may run along any one dimension (1×W against H×W×C); only one value per
    channel is converted."""
    layers = [
        image_input("in", 3, 4, 2),
        w.keras_prelu("act", np.full((1, 4), 0.1)),
    ]
    error = convert_error(tmp_path, layers)
    assert "layer 'act' (nnet.keras.layer.PreluLayer)" in error and "Alpha" in error


@pytest.mark.parametrize("kind", ["DAGNetwork", "dlnetwork"])
def test_an_imported_network_converts_and_verifies(
    tmp_path: Path,
    rng: np.random.Generator,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    """A Keras-style network (padding, conv, sigmoid, C-style flatten, FC, affine)
    converts, and `mat2torch verify --random` agrees with the NumPy reference."""
    layers = [
        image_input("in", 4, 5, 2),
        w.keras_zero_padding2d("zp", (1, 0, 1, 2)),
        w.conv2d("conv", rand(rng, 3, 3, 2, 3), rand(rng, 3)),
        w.keras_sigmoid("sig"),
        w.keras_flatten_cstyle("flat"),
        w.fully_connected("fc", rand(rng, 4, 3 * 3 * 6), rand(rng, 4)),
        # After an FC in an image network MATLAB's data is 1×1×4×N: the importer
        # stores Scale 1×1×4 for it.
        w.onnx_elementwise_affine("aff", rng.uniform(-2, 2, (1, 1, 4)), 0.5),
    ]
    names = ["in", "zp", "conv", "sig", "flat", "fc", "aff"]
    edges = list(itertools.pairwise(names))
    net = (
        w.dag_network(layers, edges)
        if kind == "DAGNetwork"
        else w.dlnetwork(layers, edges)
    )
    path = tmp_path / "imported.mat"
    w.write_mat(path, {"net": net})
    code = cli.main(["verify", str(path), "--random", "2"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [w.feature_input("in", 3), w.keras_zero_padding2d("zp", 1)],
            "layer 'zp' (nnet.keras.layer.ZeroPadding2dLayer) receives feature",
        ),
        (
            [w.sequence_input("in", 3), w.onnx_flatten("flat")],
            "layer 'flat' (nnet.onnx.layer.FlattenLayer) receives sequence",
        ),
        (
            [w.image3d_input("in", (2, 2, 2, 1), "none"), w.onnx_flatten("flat")],
            "layer 'flat' (nnet.onnx.layer.FlattenLayer) receives volume",
        ),
        (
            [image_input("in", 2, 2, 3), w.keras_zero_padding1d("zp", 1, 1)],
            "layer 'zp' (nnet.keras.layer.ZeroPadding1dLayer) receives image",
        ),
    ],
    ids=[
        "pad2d-features",
        "onnx-flatten-sequence",
        "onnx-flatten-volume",
        "pad1d-image",
    ],
)
def test_formats_predict_refuses_are_refused(
    tmp_path: Path, layers: list[object], message: str
) -> None:
    error = convert_error(tmp_path, layers)
    assert message in error
    assert "predict accepts only" in error or "converts it for images" in error


def test_keras_flatten_of_an_image_sequence_is_refused(tmp_path: Path) -> None:
    """predict accepts SSCT only without a batch dimension (no SSCBT): refused."""
    layers = [
        w.image_sequence_input("in", (4, 4, 2)),
        w.keras_flatten_cstyle("flat"),
    ]
    error = convert_error(tmp_path, layers)
    assert "layer 'flat' (nnet.keras.layer.FlattenCStyleLayer)" in error
    assert "predict accepts only" in error


def test_onnx_pass_through_layers_leave_no_line(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """What importONNXNetwork puts after a fixed-batch input (VerifyBatchSizeLayer) and
    makes of ONNX's Identity: pass-throughs at prediction, as MATLAB Coder's layer map
    generates them. Schema inferred (no real sample): plain properties like the corpus's
    user-defined layers; the batch-size check's own property is never read, so one a
    release adds cannot change the port."""
    check = w.onnx_verify_batch_size("x_BatchSizeVerifier", 1)
    check.properties["SomethingNewer"] = w.double(3.0)
    layers = [
        image_input("in", 4, 4, 2),
        check,
        w.conv2d("conv", rand(rng, 3, 3, 2, 3), rand(rng, 3)),
        w.onnx_identity("Identity_1"),
        w.relu("relu"),
    ]
    x = rand(rng, 4, 4, 2, 3)
    source, _ = check_layers(tmp_path, layers, {"in": x}, "relu", record_property)
    assert "BatchSizeVerifier" not in source.split("def forward")[1]
    assert "Identity_1" not in source.split("def forward")[1]
    assert re.search(r"x = self\.conv\(\w+\)", source), source
    # the identity reads its properties like any other importer class
    identity = w.onnx_identity("Identity_2")
    identity.properties["Axis"] = w.double(1.0)
    (tmp_path / "refused").mkdir()
    with pytest.raises(ConversionError, match="stores the property Axis"):
        write_and_convert(
            tmp_path / "refused",
            {"net": w.series_network([image_input("in", 2, 2, 1), identity])},
        )


def test_an_unknown_property_is_refused_naming_it(tmp_path: Path) -> None:
    """A class from a release whose importer layer gained a property (a padding value,
    say): its Version (the base class's) cannot say so, the property set does."""
    pad = w.keras_zero_padding2d("zp", 1)
    pad.properties["PaddingValue"] = w.double(1.0)
    with pytest.raises(ConversionError) as info:
        write_and_convert(
            tmp_path, {"net": w.series_network([image_input("in", 2, 2, 1), pad])}
        )
    message = str(info.value)
    assert (
        "layer 'zp' (nnet.keras.layer.ZeroPadding2dLayer) stores the property "
        "PaddingValue, which mat2torch does not know for this class (it reads: Top, "
        "Bottom, Left, Right)" in message
    ), message


def test_an_unknown_version_is_refused_naming_it(tmp_path: Path) -> None:
    flat = w.keras_flatten_cstyle("flat")
    flat.properties["Version"] = w.double(2)
    net = w.series_network([image_input("in", 2, 2, 1), flat])
    with pytest.raises(
        ConversionError,
        match=r"'flat' \(nnet\.keras\.layer\.FlattenCStyleLayer\) is stored in schema version 2",
    ):
        write_and_convert(tmp_path, {"net": net})


HOSTILE_CASES: dict[str, Callable[[], list[Any]]] = {
    "zero-padding-2d": lambda: [
        image_input("in", 3, 4, 2),
        w.keras_zero_padding2d("L", (1, 0, 2, 1)),
    ],
    "zero-padding-1d": lambda: [
        w.sequence_input("in", 3),
        w.keras_zero_padding1d("L", 1, 2),
    ],
    "keras-clip": lambda: [image_input("in", 3, 4, 2), w.keras_clip("L", -1, 1)],
    "onnx-clip": lambda: [
        image_input("in", 3, 4, 2),
        w.onnx_activation("L", "clip", (-1, 1)),
    ],
    "affine": lambda: [
        image_input("in", 3, 4, 2),
        w.onnx_elementwise_affine("L", np.full((1, 1, 2), 2.0), np.ones((3, 4, 2))),
    ],
    "prelu": lambda: [
        image_input("in", 3, 4, 2),
        w.keras_prelu("L", np.array([0.1, 0.2]).reshape(1, 1, 2)),
    ],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CASES))
def test_wrong_values_in_importer_properties_are_one_sentence_or_convert(
    tmp_path: Path, case: str
) -> None:
    """Each of the layer's own properties swapped for each of the fuzzer's wrong values
    (NaN, text, a cell, a struct, complex, ...): a conversion or one ConversionError
    sentence, never another exception."""
    own = [
        key
        for key in HOSTILE_CASES[case]()[1].properties
        if "." not in key and key not in ("Name", "Description", "Type", "Version")
    ]
    assert own
    for index, (key, kind) in enumerate(
        itertools.product(own, sorted(hostile.BAD_VALUES))
    ):
        layers = HOSTILE_CASES[case]()
        layers[1].properties[key] = hostile.BAD_VALUES[kind]()
        path = tmp_path / f"n{index}.mat"
        w.write_mat(path, {"net": w.series_network(layers)})
        try:
            with np.errstate(over="ignore"):  # a huge Alpha cast to single
                convert(path, tmp_path / f"out{index}", force=True)
        except ConversionError as error:
            assert "\n" not in str(error) and "layer 'L'" in str(error), (key, kind)


def test_the_reference_tells_importer_classes_from_built_in_ones() -> None:
    """nnet.onnx.layer.FlattenLayer and nnet.cnn.layer.FlattenLayer share a short name,
    not an order: the reference dispatches on the full class name."""
    from codegen.reference.matlab_numpy.networks import run_layer

    x = np.arange(2 * 3 * 2 * 1, dtype=np.float64).reshape((2, 3, 2, 1), order="F")
    onnx = run_layer(w.onnx_flatten("f"), [x])
    keras = run_layer(w.keras_flatten_cstyle("f"), [x])
    # ONNX: row-major over (C, H, W); Keras: row-major over (H, W, C).
    expected_onnx = x[:, :, :, 0].transpose(2, 0, 1).reshape(-1)
    expected_keras = x[:, :, :, 0].reshape(-1)
    assert np.array_equal(onnx.reshape(-1), expected_onnx)
    assert np.array_equal(keras.reshape(-1), expected_keras)
