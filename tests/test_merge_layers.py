"""Per-layer tests: addition, multiplication, depth/plain concatenation, transposed and
grouped convolution, each against the independent NumPy reference of MATLAB semantics.

No real file holds MultiplicationLayer, ConcatenationLayer or GroupedConvolution2DLayer,
and no trained TransposedConvolution2DLayer: the networks here are written with the
project's schema writer (``codegen.testing.dltwriter``), whose schemas for those classes
are inferred from the closest real ones and MATLAB's documentation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests.support import (
    TOL,
    as_matlab_features,
    from_torch,
    rand,
    reference_graph,
    rel_err,
    rng_fixture,
    run,
    write_and_convert,
)

rng = rng_fixture(20240611)


def _image_branches(
    rng: np.random.Generator, sizes: list[tuple[int, int, int]]
) -> list:
    """One conv per branch from a 6×5×3 input: (kernel h, kernel w, filters)."""
    return [
        w.conv2d(f"b{i + 1}", rand(rng, kh, kw, 3, f), rand(rng, f))
        for i, (kh, kw, f) in enumerate(sizes)
    ]


def _dense_branches(rng: np.random.Generator, source: str, shapes: list[tuple[int, ...]], dim: int):  # type: ignore[no-untyped-def]
    """Fully connected branches 'fa' and 'fb' from ``source`` (weight shapes in MATLAB
    layout, outputs last for image-style weights) joined by concatenationLayer(dim) 'cat'.
    """
    layers = [
        w.fully_connected(
            name,
            rand(rng, *shape),
            rand(rng, shape[0] if len(shape) == 2 else shape[-1]),
        )
        for name, shape in zip(("fa", "fb"), shapes, strict=True)
    ]
    conns = [(source, "fa"), (source, "fb"), ("fa", "cat/in1"), ("fb", "cat/in2")]
    return [*layers, w.concatenation("cat", dim, 2)], conns


def _check(
    tmp_path,
    net,
    inputs: dict[str, np.ndarray],
    output: str,
    variable: str = "net",
    **kw,
):
    module, model, _ = write_and_convert(tmp_path, {variable: net}, **kw)
    got = run(model, *inputs.values())
    expected = reference_graph(net, inputs)[output]
    return module, got, expected


# ---------------------------------------------------------------------------- addition etc.


def test_addition_of_three_inputs_in_port_order(tmp_path, rng):
    layers = [
        w.image_input("in", (6, 5, 3), "none"),
        *_image_branches(rng, [(1, 1, 4), (3, 3, 4), (1, 1, 4)]),
    ]
    layers[2] = w.conv2d(
        "b2", rand(rng, 3, 3, 3, 4), rand(rng, 4), padding=(1, 1, 1, 1)
    )
    layers.append(w.addition("add", 3))
    # Connections listed out of port order: the port suffix decides the order, not the row.
    conns = [
        ("in", "b1"),
        ("in", "b2"),
        ("in", "b3"),
        ("b3", "add/in3"),
        ("b1", "add/in1"),
        ("b2", "add/in2"),
    ]
    x = rng.standard_normal((6, 5, 3, 2))
    _module, got, expected = _check(
        tmp_path, w.dag_network(layers, conns), {"in": x}, "add"
    )
    assert rel_err(from_torch(got), expected) <= TOL
    source = (tmp_path / "out_net" / "model.py").read_text()
    # b3, computed on the line before, flows in as x.
    assert "x = self.b3(in_)\n        add = b1 + b2 + x\n" in source


def test_multiplication(tmp_path, rng):
    layers = [
        w.image_input("in", (4, 4, 2), "none"),
        w.conv2d("a", rand(rng, 1, 1, 2, 3), rand(rng, 3)),
        w.conv2d("b", rand(rng, 1, 1, 2, 3), rand(rng, 3)),
        w.multiplication("mul", 2),
    ]
    conns = [("in", "a"), ("in", "b"), ("b", "mul/in2"), ("a", "mul/in1")]
    x = rng.standard_normal((4, 4, 2, 3))
    _module, got, expected = _check(
        tmp_path, w.dag_network(layers, conns), {"in": x}, "mul"
    )
    assert rel_err(from_torch(got), expected) <= TOL
    assert (
        "x = self.b(in_)\n        mul = a * x\n"
        in (tmp_path / "out_net" / "model.py").read_text()
    )


def test_addition_of_features(tmp_path, rng):
    layers = [
        w.feature_input("in", 5),
        w.fully_connected("fa", rand(rng, 3, 5), rand(rng, 3)),
        w.fully_connected("fb", rand(rng, 3, 5), rand(rng, 3)),
        w.addition("add", 2),
        w.multiplication("mul", 2),
    ]
    conns = [
        ("in", "fa"),
        ("in", "fb"),
        ("fa", "add/in1"),
        ("fb", "add/in2"),
        ("add", "mul/in1"),
        ("fa", "mul/in2"),
    ]
    x = rng.standard_normal((5, 4))
    _, got, expected = _check(tmp_path, w.dag_network(layers, conns), {"in": x}, "mul")
    assert rel_err(from_torch(got), expected) <= TOL


def test_image_1x1_added_to_fc_output_is_flattened(tmp_path, rng):
    """MATLAB sees both as 1×1×C×N; PyTorch would broadcast (N,C,1,1) + (N,C) wrongly."""
    layers = [
        w.image_input("in", (4, 4, 3), "none"),
        w.conv2d("conv", rand(rng, 1, 1, 3, 6), rand(rng, 6)),
        w.global_avg_pool2d("gap"),
        w.fully_connected("fc", rand(rng, 4, 4, 3, 6), rand(rng, 6)),
        w.addition("add", 2),
    ]
    conns = [
        ("in", "conv"),
        ("conv", "gap"),
        ("in", "fc"),
        ("gap", "add/in1"),
        ("fc", "add/in2"),
    ]
    x = rng.standard_normal((4, 4, 3, 2))
    _, got, expected = _check(tmp_path, w.dag_network(layers, conns), {"in": x}, "add")
    assert tuple(got.shape) == (2, 6)
    assert rel_err(from_torch(got), as_matlab_features(expected)) <= TOL


# ---------------------------------------------------------------------------- concatenation


def test_depth_concatenation_of_images(tmp_path, rng):
    layers = [
        w.image_input("in", (6, 5, 3), "none"),
        *_image_branches(rng, [(1, 1, 2), (1, 1, 5)]),
        w.depth_concatenation("cat", 2),
    ]
    conns = [("in", "b1"), ("in", "b2"), ("b2", "cat/in2"), ("b1", "cat/in1")]
    x = rng.standard_normal((6, 5, 3, 2))
    _module, got, expected = _check(
        tmp_path, w.dag_network(layers, conns), {"in": x}, "cat"
    )
    assert tuple(got.shape) == (2, 7, 6, 5)
    assert rel_err(from_torch(got), expected) <= TOL
    # b2, computed on the line before, flows in as x.
    assert (
        "cat = torch.cat([b1, x], dim=1)"
        in (tmp_path / "out_net" / "model.py").read_text()
    )


@pytest.mark.parametrize(
    ("dim", "kernels", "torch_dim", "shape"),
    [
        (1, [(1, 1, 4), (3, 1, 4)], 2, (2, 4, 10, 5)),  # H: 6 + 4
        (2, [(1, 1, 4), (1, 3, 4)], 3, (2, 4, 6, 8)),  # W: 5 + 3
        (3, [(1, 1, 2), (1, 1, 3)], 1, (2, 5, 6, 5)),  # C: 2 + 3
    ],
)
def test_concatenation_dim_maps_through_image_layout(
    tmp_path, rng, dim, kernels, torch_dim, shape
):
    layers = [
        w.image_input("in", (6, 5, 3), "none"),
        *_image_branches(rng, kernels),
        w.concatenation("cat", dim, 2),
    ]
    conns = [("in", "b1"), ("in", "b2"), ("b1", "cat/in1"), ("b2", "cat/in2")]
    x = rng.standard_normal((6, 5, 3, 2))
    _, got, expected = _check(tmp_path, w.dag_network(layers, conns), {"in": x}, "cat")
    assert tuple(got.shape) == shape
    assert rel_err(from_torch(got), expected) <= TOL
    assert (
        f"cat = torch.cat([b1, x], dim={torch_dim})"  # b2 flows in as x
        in (tmp_path / "out_net" / "model.py").read_text()
    )


def test_concatenation_of_features_and_of_fc_outputs_in_an_image_network(tmp_path, rng):
    # Feature network: C×N, Dim 1 is the channel dimension.
    branches, conns = _dense_branches(rng, "in", [(3, 6), (2, 6)], 1)
    layers = [w.feature_input("in", 6), *branches]
    x = rng.standard_normal((6, 3))
    _, got, expected = _check(tmp_path, w.dag_network(layers, conns), {"in": x}, "cat")
    assert rel_err(from_torch(got), expected) <= TOL
    # Image network: an FC's output is 1×1×C×N to MATLAB, so concatenationLayer(3, ...).
    branches, conns = _dense_branches(rng, "img", [(3, 3, 2, 4), (3, 3, 2, 5)], 3)
    layers = [w.image_input("img", (3, 3, 2), "none"), *branches]
    layers.append(w.fully_connected("head", rand(rng, 1, 1, 9, 2), rand(rng, 2)))
    conns.append(("cat", "head"))
    x = rng.standard_normal((3, 3, 2, 4))
    (tmp_path / "b").mkdir()
    _, got, expected = _check(
        tmp_path / "b", w.dag_network(layers, conns), {"img": x}, "head"
    )
    assert rel_err(from_torch(got), as_matlab_features(expected)) <= TOL


def test_concatenation_of_sequences(tmp_path, rng):
    branches, conns = _dense_branches(rng, "seq", [(3, 4), (2, 4)], 1)
    layers = [w.sequence_input("seq", 4), *branches, w.depth_concatenation("dcat", 2)]
    conns += [("cat", "dcat/in1"), ("fa", "dcat/in2")]
    x = rng.standard_normal((4, 2, 7))  # C×N×T
    _, got, expected = _check(
        tmp_path, w.dag_network(layers, conns), {"seq": x}, "dcat"
    )
    assert tuple(got.shape) == (2, 7, 8)
    assert rel_err(from_torch(got), expected) <= TOL


def test_concatenation_over_batch_is_refused(tmp_path, rng):
    layers = [
        w.image_input("in", (4, 4, 3), "none"),
        *_image_branches(rng, [(1, 1, 2), (1, 1, 2)]),
        w.concatenation("cat", 4, 2),
    ]
    conns = [("in", "b1"), ("in", "b2"), ("b1", "cat/in1"), ("b2", "cat/in2")]
    with pytest.raises(ConversionError, match=r"'cat'.*dimension 4.*Dim 1, 2, 3"):
        write_and_convert(tmp_path, {"net": w.dag_network(layers, conns)})


def test_merge_errors_name_the_layer(tmp_path, rng):
    layers = [
        w.image_input("in", (4, 4, 3), "none"),
        *_image_branches(rng, [(1, 1, 2), (1, 1, 3)]),
        w.addition("add", 2),
    ]
    conns = [("in", "b1"), ("in", "b2"), ("b1", "add/in1"), ("b2", "add/in2")]
    with pytest.raises(
        ConversionError,
        match=r"layer 'add' \(nnet.cnn.layer.AdditionLayer\).*different sizes",
    ):
        write_and_convert(tmp_path, {"net": w.dag_network(layers, conns)})
    layers[-1] = w.addition("add", 3)
    layers[2] = w.conv2d("b2", rand(rng, 1, 1, 3, 2), rand(rng, 2))
    with pytest.raises(ConversionError, match=r"declares 3 inputs but 2 are connected"):
        write_and_convert(
            tmp_path, {"net": w.dag_network(layers, conns)}, name="n2.mat"
        )


# ---------------------------------------------------------------------------- transposed conv


@pytest.mark.parametrize(
    ("kernel", "stride", "mode", "cropping", "expected_crop"),
    [
        ((2, 2), (2, 2), "manual", (0, 0, 0, 0), (0, 0, 0, 0)),
        ((3, 3), (2, 2), "manual", (1, 1, 1, 1), (1, 1, 1, 1)),
        ((4, 3), (2, 3), "manual", (0, 1, 2, 0), (0, 1, 2, 0)),
        ((4, 4), (2, 2), "same", None, (1, 1, 1, 1)),
        (
            (3, 3),
            (2, 2),
            "same",
            (0, 1, 0, 1),
            (0, 1, 0, 1),
        ),  # a stored split is MATLAB's own
    ],
)
def test_transposed_convolution(
    tmp_path, rng, kernel, stride, mode, cropping, expected_crop
):
    if mode == "same" and cropping is None:  # an even total, halved
        assert (
            expected_crop
            == ((kernel[0] - stride[0]) // 2,) * 2 + ((kernel[1] - stride[1]) // 2,) * 2
        )
    weights, bias = rand(rng, kernel[0], kernel[1], 4, 3), rand(
        rng, 4
    )  # FH×FW×Cout×Cin
    layers = [
        w.image_input("in", (5, 6, 3), "none"),
        w.transposed_conv2d(
            "up", weights, bias, stride=stride, cropping_mode=mode, cropping=cropping
        ),
    ]
    x = rng.standard_normal((5, 6, 3, 2))
    _module, model, _ = write_and_convert(tmp_path, {"net": w.series_network(layers)})
    got = from_torch(run(model, x))
    expected = ref.transposed_conv2d(x, weights, bias, stride, expected_crop)
    assert rel_err(got, expected) <= TOL
    if mode == "same":
        assert got.shape[:2] == (5 * stride[0], 6 * stride[1])
    source = (tmp_path / "out_net" / "model.py").read_text()
    if expected_crop[0] != expected_crop[1] or expected_crop[2] != expected_crop[3]:
        assert (
            "MATLAB crops" in source and f"= {expected_crop}" in source
        )  # the slice says what it crops


@pytest.mark.parametrize(
    ("kernel", "stride", "stored"),
    [((3, 3), (2, 2), None), ((5, 4), (2, 1), None), ((3, 3), (2, 2), (0, 0, 0, 0))],
)
def test_same_cropping_with_an_odd_total_and_no_stored_split_is_refused(
    tmp_path, rng, kernel, stride, stored
):
    """MATLAB's documentation crops the extra row from the top, its implementation from
    the bottom: without the split a trained network stores, mat2torch does not guess."""
    layers = [
        w.image_input("in", (5, 6, 3), "none"),
        w.transposed_conv2d(
            "up",
            rand(rng, kernel[0], kernel[1], 4, 3),
            rand(rng, 4),
            stride=stride,
            cropping_mode="same",
            cropping=stored,
        ),
    ]
    with pytest.raises(ConversionError, match=r"layer 'up' .* 'same' cropping whose "):
        write_and_convert(tmp_path, {"net": w.series_network(layers)})


def test_untrained_transposed_convolution_takes_channels_from_its_input(tmp_path):
    layers = [
        w.image_input("in", (7, 7, 5), "none"),
        w.transposed_conv2d(
            "up",
            filter_size=(3, 3),
            num_filters=2,
            stride=(2, 2),
            cropping=(0, 1, 0, 1),
        ),
    ]
    _module, model, _ = write_and_convert(
        tmp_path, {"net": w.layer_graph(layers, [("in", "up")])}
    )
    assert model.up.in_channels == 5 and model.up.out_channels == 2
    assert tuple(run(model, np.zeros((7, 7, 5, 1))).shape) == (
        1,
        2,
        14,
        14,
    )  # (7−1)·2 + 3 − 1
    assert not (tmp_path / "out_net" / "model.safetensors").exists()


# ---------------------------------------------------------------------------- grouped conv


@pytest.mark.parametrize(
    ("groups", "per_group", "filters_per_group", "stride", "padding"),
    [
        (2, 2, 3, (1, 1), (0, 0, 0, 0)),
        (3, 2, 1, (2, 1), (1, 0, 0, 2)),  # asymmetric padding → explicit F.pad
        (4, 1, 2, (1, 1), (1, 1, 1, 1)),  # depthwise with a channel multiplier of 2
    ],
)
def test_grouped_convolution(
    tmp_path, rng, groups, per_group, filters_per_group, stride, padding
):
    cin = groups * per_group
    weights = rand(rng, 3, 3, per_group, filters_per_group, groups)
    bias = rand(rng, filters_per_group * groups)
    layers = [
        w.image_input("in", (6, 7, cin), "none"),
        w.grouped_conv2d("gc", weights, bias, stride=stride, padding=padding),
    ]
    x = rng.standard_normal((6, 7, cin, 2))
    _module, model, _ = write_and_convert(tmp_path, {"net": w.series_network(layers)})
    got = from_torch(run(model, x))
    expected = reference_graph(w.series_network(layers), {"in": x})["gc"]
    direct = ref.grouped_conv2d(x, weights, bias, stride, (1, 1), padding)
    assert (
        rel_err(expected, direct) < 1e-12
    )  # the reference's dispatch reads the file as written
    assert rel_err(got, expected) <= TOL
    assert f"groups={groups}" in (tmp_path / "out_net" / "model.py").read_text()


def test_channel_wise_grouped_convolution(tmp_path, rng):
    """NumGroups 'channel-wise' (one group per input channel), trained and untrained."""
    weights, bias = rand(rng, 3, 3, 1, 2, 4), rand(rng, 8)
    layer = w.grouped_conv2d("dw", weights, bias, padding_mode="same", padding=None)
    layer.properties["any"][0, 0]["NumGroups"] = np.array(["channel-wise"])
    layers = [w.image_input("in", (5, 5, 4), "none"), layer]
    x = rng.standard_normal((5, 5, 4, 2))
    _module, model, _ = write_and_convert(tmp_path, {"net": w.series_network(layers)})
    got = from_torch(run(model, x))
    expected = ref.grouped_conv2d(x, weights, bias, (1, 1), (1, 1), (1, 1, 1, 1))
    assert rel_err(got, expected) <= TOL
    assert model.dw.groups == 4
    untrained = w.grouped_conv2d(
        "dw",
        filter_size=(3, 3),
        num_filters_per_group=1,
        num_groups=1,
        padding=(0, 0, 0, 0),
    )
    untrained.properties["any"][0, 0]["NumGroups"] = np.array(["channel-wise"])
    (tmp_path / "u").mkdir()
    _, model, _ = write_and_convert(
        tmp_path / "u",
        {
            "net": w.layer_graph(
                [w.image_input("in", (5, 5, 6), "none"), untrained], [("in", "dw")]
            )
        },
    )
    assert (model.dw.in_channels, model.dw.out_channels, model.dw.groups) == (6, 6, 6)
    assert tuple(run(model, np.zeros((5, 5, 6, 1))).shape) == (1, 6, 3, 3)


def test_every_merge_op_has_no_module(tmp_path, rng):
    """Merges are plain expressions: no nn.Module attribute, no state_dict entry."""
    layers = [
        w.image_input("in", (4, 4, 2), "none"),
        *[w.conv2d(f"b{i}", rand(rng, 1, 1, 2, 2), rand(rng, 2)) for i in (1, 2)],
    ]
    layers += [w.addition("add", 2), w.depth_concatenation("cat", 2)]
    conns = [
        ("in", "b1"),
        ("in", "b2"),
        ("b1", "add/in1"),
        ("b2", "add/in2"),
        ("add", "cat/in1"),
        ("b1", "cat/in2"),
    ]
    _, model, _ = write_and_convert(tmp_path, {"net": w.dag_network(layers, conns)})
    assert not any(k.startswith(("add", "cat")) for k in model.state_dict())
    assert not hasattr(model, "add") and not hasattr(model, "cat")
    assert isinstance(run(model, rng.standard_normal((4, 4, 2, 1))), torch.Tensor)
