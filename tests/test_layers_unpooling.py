"""Max pooling with unpooling outputs and max unpooling (SegNet's pattern), against the
NumPy reference of MATLAB's documented semantics (codegen/reference/matlab_numpy/
unpooling.py).

The saved schema is **inferred** for both new pieces, no real sample holds them:
MaxPooling2DLayer with HasUnpoolingOutputs true is the real v2/v3 schema with the flag
set (real files store it false), and MaxUnpooling2DLayer is written as ReLULayer is
(Version 1 and Name), its inputs 'in', 'indices' and 'size' fixed by the class
(codegen/testing/dltwriter/pooling.py). No MATLAB oracle confirms the rules; the
reference's pooling indices are checked against the example in MATLAB's documentation.

Sizes are odd so that pooling leaves rows and columns out (unpooling must put zeros
there and still return the pooling input's size).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import torch

from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import unpooling as uref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load
from tests.support import TOL, rel_err, rng_fixture, run, to_matlab

rng = rng_fixture(20261202)

H, W, C, N = 11, 9, 3, 2
CLASSES = ("sky", "road", "car")


def rand(g: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * g.standard_normal(shape)).astype(np.float32)


def conv(g: np.random.Generator, name: str, cin: int, cout: int, k: int = 3) -> Any:
    pad = (k // 2,) * 4
    weights = rand(g, k, k, cin, cout, scale=1 / np.sqrt(k * k * cin))
    return w.conv2d(name, weights, rand(g, cout, scale=0.1), padding=pad)


def pool(name: str, size: tuple[int, int] = (2, 2), **kw: Any) -> Any:
    stride = kw.pop("stride", size)
    return w.max_pool2d(name, size, stride=stride, has_unpooling_outputs=True, **kw)


def unpool_edges(pool_name: str, unpool_name: str) -> list[tuple[str, str]]:
    return [
        (f"{pool_name}/indices", f"{unpool_name}/indices"),
        (f"{pool_name}/size", f"{unpool_name}/size"),
    ]


def segnet_like(
    g: np.random.Generator, pool_version: int = 3
) -> tuple[list[Any], list[tuple[str, str]]]:
    """Two encoder stages (conv–relu–max pool with unpooling outputs) and two decoder
    stages (max unpool–conv), as segnetLayers builds them, ending in a softmax."""
    layers = [
        w.image_input("input", (H, W, C), "none"),
        conv(g, "encoder1_conv", C, 4),
        w.relu("encoder1_relu"),
        pool("encoder1_maxpool", version=pool_version),
        conv(g, "encoder2_conv", 4, 5),
        w.relu("encoder2_relu"),
        pool("encoder2_maxpool", version=pool_version),
        conv(g, "bottleneck_conv", 5, 5),
        w.max_unpool2d("decoder2_unpool"),
        conv(g, "decoder2_conv", 5, 4),
        w.max_unpool2d("decoder1_unpool"),
        conv(g, "decoder1_conv", 4, len(CLASSES)),
        w.softmax("softmax"),
    ]
    edges = [
        ("input", "encoder1_conv"),
        ("encoder1_conv", "encoder1_relu"),
        ("encoder1_relu", "encoder1_maxpool"),
        ("encoder1_maxpool/out", "encoder2_conv"),
        ("encoder2_conv", "encoder2_relu"),
        ("encoder2_relu", "encoder2_maxpool"),
        ("encoder2_maxpool/out", "bottleneck_conv"),
        ("bottleneck_conv", "decoder2_unpool/in"),
        *unpool_edges("encoder2_maxpool", "decoder2_unpool"),
        ("decoder2_unpool", "decoder2_conv"),
        ("decoder2_conv", "decoder1_unpool/in"),
        *unpool_edges("encoder1_maxpool", "decoder1_unpool"),
        ("decoder1_unpool", "decoder1_conv"),
        ("decoder1_conv", "softmax"),
    ]
    return layers, edges


def network(kind: str, layers: list[Any], edges: list[tuple[str, str]]) -> Any:
    if kind == "dag":
        output = w.classification_output("labels", list(CLASSES))
        last = edges[-1][1]
        return w.dag_network([*layers, output], [*edges, (last, "labels")])
    if kind == "layer_graph":
        return w.layer_graph(layers, edges)
    return w.dlnetwork(layers, edges)


def convert(
    tmp_path: Path, net: Any, version: Literal["v7", "v7.3"] = "v7"
) -> tuple[Any, torch.nn.Module, Any]:
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net}, version=version)
    module, model = convert_and_load(path, tmp_path / "out")
    return module, model, ref.load_mat(str(path))["net"]


def reference(saved: Any, x: np.ndarray) -> dict[str, Any]:
    layers, connections = ref.network_layers(saved)
    assert connections is not None
    return uref.run_network(layers, connections, {"input": x})


def check(got: np.ndarray, expected: np.ndarray, record_property: Any) -> float:
    err = rel_err(got, expected, floor=1e-12)
    record_property("max_rel_err", err)
    print(f"max relative error {err:.1e}")
    assert err <= TOL, f"relative error {err:.2e}"
    return err


def source(tmp_path: Path) -> str:
    return (tmp_path / "out" / "model.py").read_text()


def refused(tmp_path: Path, net: Any) -> str:
    with pytest.raises(ConversionError) as info:
        convert(tmp_path, net)
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    return message


# --------------------------------------------------------------------------- reference


def test_reference_indices_are_those_of_matlabs_documented_example() -> None:
    """The maxpool example of MATLAB's documentation (6×6×1×1, 2×2 windows, stride 2):
    the pooled values and indx = 2 10 12 20 15 24 26 27 36, inputSize 6×6×1×1."""
    x = np.array(
        [
            [0.8147, 0.2785, 0.9572, 0.7922, 0.6787, 0.7060],
            [0.9058, 0.5469, 0.4854, 0.9595, 0.7577, 0.0318],
            [0.1270, 0.9575, 0.8003, 0.6557, 0.7431, 0.2769],
            [0.9134, 0.9649, 0.1419, 0.0357, 0.3922, 0.0462],
            [0.6324, 0.1576, 0.4218, 0.8491, 0.6555, 0.0971],
            [0.0975, 0.9706, 0.9157, 0.9340, 0.1712, 0.8235],
        ]
    )
    y, indx, size = uref.max_pool2d_indices(x, (2, 2), (2, 2))
    assert indx.ravel(order="F").tolist() == [2, 10, 12, 20, 15, 24, 26, 27, 36]
    np.testing.assert_array_equal(
        y[:, :, 0, 0],
        [[0.9058, 0.9595, 0.7577], [0.9649, 0.8003, 0.7431], [0.9706, 0.9340, 0.8235]],
    )
    assert size == (6, 6, 1, 1)
    unpooled = uref.max_unpool2d(y, indx, size)[:, :, 0, 0]
    assert np.count_nonzero(unpooled) == 9
    assert unpooled[1, 0] == 0.9058 and unpooled[5, 5] == 0.8235


def test_reference_refuses_what_matlab_does_not_document() -> None:
    with pytest.raises(NotImplementedError, match="overlapping"):
        uref.max_pool2d_indices(np.zeros((5, 5, 1, 1)), (3, 3), (2, 2))


# --------------------------------------------------------------------------- networks


@pytest.mark.parametrize(
    ("kind", "version", "pool_version"),
    [
        ("dag", "v7", 3),
        ("dlnetwork", "v7", 3),
        ("layer_graph", "v7", 3),
        ("dag", "v7.3", 3),
        ("dag", "v7", 2),
    ],
)
def test_segnet_like_network_against_reference(
    tmp_path: Path,
    rng: np.random.Generator,
    kind: str,
    version: Literal["v7", "v7.3"],
    pool_version: int,
    record_property: Any,
) -> None:
    """Every container, both file formats, both stored MaxPooling2DLayer versions."""
    layers, edges = segnet_like(rng, pool_version)
    _, model, saved = convert(tmp_path, network(kind, layers, edges), version)
    x = rng.standard_normal((H, W, C, N))
    expected = reference(saved, x)
    assert expected["decoder1_unpool"].shape == (H, W, 4, N)
    # 11×9 pools to 5×4 and 2×2: the last row and column never hold a maximum.
    assert not expected["decoder1_unpool"][H - 1].any()
    assert not expected["decoder1_unpool"][:, W - 1].any()
    got = to_matlab(run(model, x))
    assert got.shape == (H, W, len(CLASSES), N)
    check(got, expected["softmax"], record_property)


def test_unpooled_values_sit_where_the_maxima_were(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    """The unpooling output itself, compared as a second output of a dlnetwork (which
    also feeds the next convolution)."""
    layers, edges = segnet_like(rng)
    outputs = ["softmax", "decoder2_unpool"]
    net = w.dlnetwork(layers, edges, output_names=outputs)
    _, model, saved = convert(tmp_path, net)
    x = rng.standard_normal((H, W, C, N))
    expected = reference(saved, x)
    softmax, unpooled = run(model, x)
    check(to_matlab(unpooled), expected["decoder2_unpool"], record_property)
    check(to_matlab(softmax), expected["softmax"], record_property)


@pytest.mark.parametrize(
    ("size", "stride"), [((2, 3), (2, 3)), ((2, 2), (3, 2)), ((3, 1), (4, 1))]
)
def test_rectangular_windows_and_gaps_between_them(
    tmp_path: Path,
    rng: np.random.Generator,
    size: tuple[int, int],
    stride: tuple[int, int],
    record_property: Any,
) -> None:
    """Windows of other shapes, and strides longer than the window (positions no window
    covers stay zero)."""
    layers = [
        w.image_input("input", (H, W, C), "none"),
        conv(rng, "conv1", C, 4),
        pool("pool", size, stride=stride),
        conv(rng, "conv2", 4, 4),
        w.max_unpool2d("unpool"),
        conv(rng, "conv3", 4, 2, k=1),
    ]
    edges = [
        ("input", "conv1"),
        ("conv1", "pool"),
        ("pool/out", "conv2"),
        ("conv2", "unpool/in"),
        *unpool_edges("pool", "unpool"),
        ("unpool", "conv3"),
    ]
    _, model, saved = convert(tmp_path, w.dlnetwork(layers, edges))
    x = rng.standard_normal((H, W, C, N))
    check(to_matlab(run(model, x)), reference(saved, x)["conv3"], record_property)


def test_pooling_indices_nobody_reads_leave_an_ordinary_pooling(
    tmp_path: Path, rng: np.random.Generator, record_property: Any
) -> None:
    layers = [
        w.image_input("input", (H, W, C), "none"),
        pool("pool"),
        conv(rng, "conv", C, 2),
    ]
    edges = [("input", "pool"), ("pool/out", "conv")]
    _, model, saved = convert(tmp_path, w.dlnetwork(layers, edges))
    x = rng.standard_normal((H, W, C, N))
    expected = reference(saved, x)
    plain = ref.max_pool2d(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(expected["pool"], plain)
    layer_objects, connections = ref.network_layers(saved)
    graph = ref.run_graph(layer_objects, connections, {"input": x})
    np.testing.assert_array_equal(graph["conv"], expected["conv"])
    check(to_matlab(run(model, x)), expected["conv"], record_property)


def test_verify_random_compares_every_layer(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """`mat2torch verify --random` runs the reference on the file and compares each
    layer, the unpooling layers among them."""
    from codegen.verify import verify_random

    layers, edges = segnet_like(rng)
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": network("dag", layers, edges)})
    report = verify_random(path, 2)
    compared = [row.name for row in report.rows if row.kind == "layer"]
    assert {"encoder1_maxpool", "decoder2_unpool", "decoder1_unpool"} <= set(compared)
    assert report.passed, [(r.name, r.passed) for r in report.rows]


def test_generated_code_reads_like_a_hand_port(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    layers, edges = segnet_like(rng)
    convert(tmp_path, network("dag", layers, edges))
    text = source(tmp_path)
    assert (
        "encoder1_maxpool, encoder1_maxpool_indices, encoder1_maxpool_size = (\n"
        "            *F.max_pool2d(x, (2, 2), stride=(2, 2), return_indices=True),\n"
        "            list(x.shape[-2:]),\n"
        "        )"
    ) in text
    assert (
        "        # MATLAB layer 'decoder1_unpool'\n"
        "        # MATLAB max unpooling: values back where 'encoder1_maxpool' found the maxima,\n"
        "        # zeros elsewhere\n"
        "        x = max_unpool(x, encoder1_maxpool_indices, encoder1_maxpool_size)\n"
    ) in text
    # One helper for both unpooling layers.
    assert text.count("def max_unpool(") == 1
    # The undocumented tie rule is stated where the indices are made.
    flat = " ".join(line.strip().lstrip("# ") for line in text.splitlines())
    assert (
        "of tied maxima PyTorch takes the first in row order, MATLAB's choice is "
        "undocumented" in flat
    )
    assert "codegen" not in text


def test_generated_model_works_with_torch_tools(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """torch.jit.script, torch.jit.trace and torch.export (dynamic batch) run it and agree
    with eager mode (nn.MaxUnpool2d, and F.max_unpool2d with an output size, fail under
    script or trace), and mypy finds nothing (unpacking nn.MaxPool2d's result with *
    would be an error)."""
    import subprocess
    import sys
    import warnings

    layers, edges = segnet_like(rng)
    _, model, _ = convert(tmp_path, network("dag", layers, edges))
    x = torch.randn(2, C, H, W)
    with torch.no_grad():
        eager = model(x)
        scripted = torch.jit.script(model)(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, (x,))(x)
        batch = torch.export.Dim("batch", min=1, max=64)
        exported = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
        torch.testing.assert_close(scripted, eager)
        torch.testing.assert_close(traced, eager)
        torch.testing.assert_close(exported.module()(x), eager)
        x3 = torch.randn(3, C, H, W)
        torch.testing.assert_close(exported.module()(x3), model(x3))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "model.py"],
        cwd=tmp_path / "out",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_ties_go_to_the_first_maximum_in_row_order(tmp_path: Path) -> None:
    """Pins the chosen behaviour where MATLAB's is undocumented: of a window's tied
    maxima, PyTorch's indices (and so the unpooled value) take the first in row order.
    """
    layers = [
        w.image_input("input", (2, 2, 1), "none"),
        pool("pool"),
        w.max_unpool2d("unpool"),
    ]
    edges = [
        ("input", "pool"),
        ("pool/out", "unpool/in"),
        *unpool_edges("pool", "unpool"),
    ]
    _, model, _ = convert(tmp_path, w.dlnetwork(layers, edges))
    x = np.array([[0.0, 1.0], [1.0, 0.0]]).reshape(2, 2, 1, 1)
    got = to_matlab(run(model, x))[:, :, 0, 0]
    np.testing.assert_array_equal(got, [[0.0, 1.0], [0.0, 0.0]])


# --------------------------------------------------------------------------- refused


def _pool_unpool(
    pooling: Any, size: tuple[int, int, int] = (8, 8, 2)
) -> tuple[list[Any], list[tuple[str, str]]]:
    layers = [w.image_input("input", size, "none"), pooling, w.max_unpool2d("unpool")]
    edges = [
        ("input", "pool"),
        ("pool/out", "unpool/in"),
        *unpool_edges("pool", "unpool"),
    ]
    return layers, edges


def test_overlapping_windows_are_refused(tmp_path: Path) -> None:
    layers, edges = _pool_unpool(pool("pool", (3, 3), stride=(2, 2)))
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert "layer 'pool' (nnet.cnn.layer.MaxPooling2DLayer)" in message
    assert "overlapping pooling windows (PoolSize [3 3], Stride [2 2])" in message
    assert "MATLAB does not document how unpooling combines" in message


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ({"padding": (1, 1, 1, 1)}, "[1 1 1 1]"),
        ({"padding": (0, 1, 0, 1)}, "[0 1 0 1]"),
        ({"padding_mode": "same", "padding": None, "stride": (2, 2)}, "[0 1 0 1]"),
    ],
)
def test_padding_is_refused(
    tmp_path: Path, options: dict[str, Any], shown: str
) -> None:
    layers, edges = _pool_unpool(pool("pool", **options), size=(7, 7, 2))
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert (
        f"has unpooling outputs (HasUnpoolingOutputs true) and padding {shown}"
        in message
    )


def test_same_padding_that_resolves_to_none_is_converted(tmp_path: Path) -> None:
    layers, edges = _pool_unpool(
        pool("pool", padding_mode="same", padding=None), size=(8, 8, 2)
    )
    convert(tmp_path, w.dlnetwork(layers, edges))


@pytest.mark.parametrize("port", ["indices", "size"])
def test_any_other_reader_of_indices_or_size_is_refused(
    tmp_path: Path, port: str
) -> None:
    layers, edges = _pool_unpool(pool("pool"))
    layers.append(w.relu("act"))
    edges.append((f"pool/{port}", "act"))
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert (
        f"layer 'act' (nnet.cnn.layer.ReLULayer) reads output '{port}' of layer 'pool', "
        f"which only the '{port}' input of a MaxUnpooling2DLayer may read"
    ) in message
    assert "PyTorch's max pooling indices" in message


def test_indices_at_the_unpooling_layers_main_input_are_refused(tmp_path: Path) -> None:
    layers = [
        w.image_input("input", (8, 8, 2), "none"),
        pool("pool"),
        w.max_unpool2d("unpool"),
    ]
    edges = [
        ("input", "pool"),
        ("pool/indices", "unpool/in"),
        *unpool_edges("pool", "unpool"),
    ]
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert (
        "layer 'unpool' (nnet.cnn.layer.MaxUnpooling2DLayer) reads output 'indices'"
        in message
    )


def test_a_dropped_layer_reading_indices_is_refused(tmp_path: Path) -> None:
    layers, edges = _pool_unpool(pool("pool"))
    layers.append(w.dropout("drop"))
    edges.append(("pool/indices", "drop"))
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert (
        "layer 'drop' (nnet.cnn.layer.DropoutLayer) reads output 'indices'" in message
    )


@pytest.mark.parametrize("port", ["indices", "size"])
def test_indices_or_size_as_network_output_are_refused(
    tmp_path: Path, port: str
) -> None:
    layers, edges = _pool_unpool(pool("pool"))
    net = w.dlnetwork(layers, edges, output_names=["unpool", f"pool/{port}"])
    message = refused(tmp_path, net)
    assert (
        f"the network outputs 'pool/{port}', which only the '{port}' input" in message
    )


def test_indices_and_size_of_two_pooling_layers_are_refused(tmp_path: Path) -> None:
    layers = [
        w.image_input("input", (8, 8, 2), "none"),
        pool("pool1"),
        pool("pool2"),
        w.max_unpool2d("unpool"),
    ]
    edges = [
        ("input", "pool1"),
        ("pool1/out", "pool2"),
        ("pool2/out", "unpool/in"),
        ("pool2/indices", "unpool/indices"),
        ("pool1/size", "unpool/size"),
    ]
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert (
        "takes its 'indices' from max pooling layer 'pool2' but its 'size' from 'pool1'"
        in message
    )


def test_unpooling_without_pooling_indices_is_refused(tmp_path: Path) -> None:
    layers = [
        w.image_input("input", (8, 8, 2), "none"),
        pool("pool"),
        w.relu("act"),
        w.max_unpool2d("unpool"),
    ]
    edges = [
        ("input", "pool"),
        ("pool/out", "act"),
        ("pool/out", "unpool/in"),
        ("act", "unpool/indices"),
        ("pool/size", "unpool/size"),
    ]
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert "receives at its 'indices' or 'size' input something other than" in message


def test_unpooling_with_unconnected_inputs_is_refused(tmp_path: Path) -> None:
    layers = [
        w.image_input("input", (8, 8, 2), "none"),
        pool("pool"),
        w.max_unpool2d("unpool"),
    ]
    edges = [("input", "pool"), ("pool/out", "unpool/in")]
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert (
        "layer 'unpool' (nnet.cnn.layer.MaxUnpooling2DLayer) has 1 of its 3 inputs"
        in message
    )


def test_unpooling_input_of_another_size_is_refused(tmp_path: Path) -> None:
    layers, edges = _pool_unpool(pool("pool"))
    edges[1] = ("input", "unpool/in")  # the 8×8 input, not the 4×4 pooled values
    edges.append(("pool/out", "unpool_out_reader"))
    layers.append(w.relu("unpool_out_reader"))
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert re.search(
        r"receives image C×H×W = 2×8×8 at its 'in' input", message
    ), message
    assert "the sizes must agree" in message


def test_unknown_unpooling_schema_version_is_refused(tmp_path: Path) -> None:
    layers, edges = _pool_unpool(pool("pool"))
    layers[2] = w.with_fields(w.max_unpool2d("unpool"), Version=w.double(2))
    message = refused(tmp_path, w.dlnetwork(layers, edges))
    assert (
        "'unpool' (nnet.cnn.layer.MaxUnpooling2DLayer) is stored in schema version 2"
        in message
    )
