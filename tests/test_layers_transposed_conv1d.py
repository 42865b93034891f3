"""Transposed 1-D convolution over time (transposedConv1dLayer, R2022a+) against the NumPy
reference of MATLAB's rules (codegen/reference/matlab_numpy/conv1d.py).

No real MATLAB file holds a TransposedConvolution1DLayer: its schema is **inferred** from
the observed TransposedConvolution2DLayer v2 (its field names, OutputSizeOffset included)
and the Convolution1DLayer shapes (scalar FilterSize and Stride, [left right] sizes),
with Weights FilterSize×NumFilters×NumChannels as MATLAB's documentation gives them (see
codegen/testing/dltwriter/sequence_conv.py). Also inferred: that a 'same' layer stores
the [left right] split it resolved. An odd 'same' total with no stored split is refused,
never guessed. Every case runs a batch of several sequences at an odd and an even
length, with several channels, so a transposed weight, a wrong split or a cropping
resolved from the wrong end shows.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.reference import sequence_numpy as seqref
from codegen.testing import dltwriter as dw
from tests.support import (
    TOL,
    convert_network,
    rel_error,
    run,
    to_matlab,
    write_and_convert,
)

C, N = 3, 4
STEPS = (7, 10)  # an odd and an even sequence length


def _series(*layers: Any, channels: int = C) -> Any:
    return dw.series_network([dw.sequence_input("seq", channels), *layers])


def _reference(net: Any, x: np.ndarray) -> np.ndarray:
    layers, _ = ref.network_layers(net)
    return ref.run_layers(layers, x)


def _filters(
    rng: np.random.Generator, kernel: int, cin: int = C, cout: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's transposed layout: FilterSize×NumFilters×NumChannels (K×Cout×Cin)."""
    w = rng.normal(size=(kernel, cout, cin)).astype(np.float32)
    return w, rng.normal(size=cout).astype(np.float32)


def _check(tmp_path: Path, net: Any, channels: int = C) -> torch.nn.Module:
    """Convert ``net`` and compare it with the reference on an odd and an even length."""
    _, model = convert_network(tmp_path, net)
    rng = np.random.default_rng(100)
    for steps in STEPS:
        x = rng.normal(size=(channels, N, steps))
        got, expected = to_matlab(run(model, x)), _reference(net, x)
        assert rel_error(got, expected) <= TOL, steps
    return model


# (kernel, builder keywords, input channels, filters, output steps for T)
CASES: dict[str, tuple[int, dict[str, Any], int, int, Any]] = {
    "manual-stride1-no-cropping": (3, {}, C, 4, lambda t: t + 2),
    "manual-stride2-asymmetric": (
        4,
        {"stride": 2, "cropping": (1, 2)},
        C,
        4,
        lambda t: 2 * t - 1,
    ),
    "manual-stride3-symmetric": (
        5,
        {"stride": 3, "cropping": (2, 2)},
        C,
        2,
        lambda t: 3 * t - 2,
    ),
    "manual-one-value": (4, {"cropping": (1,)}, C, 4, lambda t: t + 1),
    "same-stride1-odd-kernel": (3, {"cropping_mode": "same"}, C, 4, lambda t: t),
    "same-stride1-even-kernel-stored-1-2": (
        4,
        {"cropping_mode": "same"},
        C,
        4,
        lambda t: t,
    ),
    "same-stride2-even-total": (
        4,
        {"stride": 2, "cropping_mode": "same"},
        C,
        4,
        lambda t: 2 * t,
    ),
    "same-stride2-even-total-none-stored": (
        6,
        {"stride": 2, "cropping_mode": "same", "cropping": None},
        C,
        4,
        lambda t: 2 * t,
    ),
    "same-stride2-odd-total-stored-1-2": (
        5,
        {"stride": 2, "cropping_mode": "same"},
        C,
        4,
        lambda t: 2 * t,
    ),
    "same-stride2-odd-total-stored-2-1": (
        5,
        {"stride": 2, "cropping_mode": "same", "cropping": (2, 1)},
        C,
        4,
        lambda t: 2 * t,
    ),
    "same-stride-equals-kernel": (
        3,
        {"stride": 3, "cropping_mode": "same"},
        C,
        4,
        lambda t: 3 * t,
    ),
    "one-filter": (3, {"stride": 2}, C, 1, lambda t: 2 * t + 1),  # K×1×Cin
    "one-channel": (3, {"cropping_mode": "same"}, 1, 4, lambda t: t),  # stored K×Cout
    "one-channel-one-filter": (2, {"stride": 2}, 1, 1, lambda t: 2 * t),  # stored K×1
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_transposed_conv1d_matches_reference(tmp_path: Path, case: str) -> None:
    kernel, options, cin, cout, steps = CASES[case]
    w, b = _filters(np.random.default_rng(1), kernel, cin, cout)
    net = _series(dw.transposed_conv1d("up", w, b, **options), channels=cin)
    model = _check(tmp_path, net, channels=cin)
    # MATLAB's K×Cout×Cin becomes ConvTranspose1d's (Cin, Cout, K).
    np.testing.assert_array_equal(
        model.up.weight.detach().numpy(), w.transpose(2, 1, 0)
    )
    for t in STEPS:
        assert run(model, np.ones((cin, 2, t))).shape == (2, steps(t), cout)


def test_reference_is_the_adjoint_of_the_convolution() -> None:
    """An independent check of the reference: a transposed convolution is the adjoint of
    convolution1dLayer with the same array (K×Cin×Cout of the convolution is
    K×NumFilters×NumChannels of the transposed layer going back), so
    <conv(x), y> = <x, transposed(y)>."""
    rng = np.random.default_rng(2)
    for kernel, stride, steps in [(3, 1, 9), (4, 2, 10), (5, 3, 11)]:
        w = rng.normal(size=(kernel, C, 5))
        x = rng.normal(size=(C, N, steps))
        y_shape = ref.conv1d(x, w, stride=stride).shape
        y = rng.normal(size=y_shape)
        back = ref.transposed_conv1d(y, w, stride=stride)
        assert back.shape == x.shape
        forward_dot = float(np.sum(ref.conv1d(x, w, stride=stride) * y))
        assert abs(forward_dot - float(np.sum(x * back))) <= 1e-9 * abs(forward_dot)


def test_weight_layout_and_cropping_side_matter() -> None:
    """The alternatives give different outputs, so the tests above can fail."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(5, C, C))  # Cin == Cout: both layouts are valid arrays
    x = rng.normal(size=(C, N, 8))
    right = ref.transposed_conv1d(x, w, stride=2, cropping=(1, 2))
    assert (
        rel_error(ref.transposed_conv1d(x, w, stride=2, cropping=(2, 1)), right) > 1e-2
    )
    swapped = w.transpose(0, 2, 1)  # K×Cin×Cout read as K×Cout×Cin
    assert (
        rel_error(ref.transposed_conv1d(x, swapped, stride=2, cropping=(1, 2)), right)
        > 1e-2
    )
    # The full output is (T − 1)·Stride + FilterSize steps.
    assert ref.transposed_conv1d(x, w, stride=2).shape == (C, N, 7 * 2 + 5)


def test_forward_is_one_readable_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    net = _series(
        dw.transposed_conv1d(
            "up_same", *_filters(rng, 4, C, 4), stride=2, cropping_mode="same"
        ),
        dw.transposed_conv1d(
            "up_odd", *_filters(rng, 5, 4, 4), stride=2, cropping_mode="same"
        ),
        dw.transposed_conv1d("plain", *_filters(rng, 3, 4, 2)),
    )
    convert_network(tmp_path, net)
    source = (tmp_path / "out" / "model.py").read_text()
    comments = re.sub(r"\n\s*# ", " ", source)  # comment lines wrapped, joined again
    # Symmetric cropping is the module's padding, said in a comment above it.
    assert (
        "'same' cropping: FilterSize − Stride = 2 steps, [left right] = [1 1] as the "
        "layer stores it: ConvTranspose1d's padding crops both ends" in comments
    )
    assert (
        "self.up_same = nn.ConvTranspose1d(3, 4, kernel_size=4, stride=2, padding=1)"
        in source
    )
    # Asymmetric cropping is a slice after a padding-free module.
    assert "self.up_odd = nn.ConvTranspose1d(4, 4, kernel_size=5, stride=2)" in source
    assert (
        "'same' cropping: FilterSize − Stride = 3 steps, [left right] = [1 2] as the "
        "layer stores it" in comments
    )
    assert "[:, :, 1:-2].transpose(1, 2)" in source
    assert "self.plain = nn.ConvTranspose1d(4, 2, kernel_size=3)" in source
    assert "codegen" not in source


def _padded(
    rng: np.random.Generator, lengths: list[int]
) -> tuple[list[np.ndarray], np.ndarray]:
    sequences = [rng.normal(size=(C, n)) for n in lengths]
    batch = np.zeros((C, len(lengths), max(lengths)))
    for i, s in enumerate(sequences):
        batch[:, i, : s.shape[1]] = s  # MATLAB pads on the right
    return sequences, batch


LENGTHS = [7, 3, 10, 1]


def test_lengths_with_time_keeping_layers_match_each_sequence_alone(
    tmp_path: Path,
) -> None:
    """Stride 1 and a total cropping of FilterSize − 1 keep T: masked, each sequence
    gives what it gives alone (both 'same' splits, and a manual one)."""
    rng = np.random.default_rng(5)
    net = _series(
        dw.transposed_conv1d("t1", *_filters(rng, 3, C, 4), cropping_mode="same"),
        dw.relu("relu"),
        dw.transposed_conv1d("t2", *_filters(rng, 4, 4, 4), cropping_mode="same"),
        dw.transposed_conv1d("t3", *_filters(rng, 4, 4, 3), cropping=(0, 3)),
    )
    _, model = convert_network(tmp_path, net)
    source = (tmp_path / "out" / "model.py").read_text()
    assert "mask_padded_steps(seq, lengths)" in source
    sequences, batch = _padded(rng, LENGTHS)
    out = to_matlab(run(model, batch, torch.tensor(LENGTHS)))
    alone = seqref.per_observation(lambda s: _reference(net, s), sequences)
    for i, (expected, n) in enumerate(zip(alone, LENGTHS, strict=True)):
        assert rel_error(out[:, i, :n], expected) <= TOL, i
    # Without lengths the padded steps count: the short sequences' last steps differ.
    unmasked = to_matlab(run(model, batch))
    assert (
        max(
            rel_error(unmasked[:, i, :n], expected)
            for i, (expected, n) in enumerate(zip(alone, LENGTHS, strict=True))
        )
        > 1e-3
    )


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (
            {"kernel": 4, "stride": 2, "cropping_mode": "same"},
            r"'up' changes the number of time steps \(2·T\)",
        ),
        ({"kernel": 3}, r"'up' changes the number of time steps \(T \+ 2\)"),
        (
            {"kernel": 4, "stride": 2, "cropping": (1, 2)},
            r"'up' changes the number of time steps \(2·T − 1\)",
        ),
    ],
)
def test_layers_that_change_t_refuse_lengths(
    tmp_path: Path, options: dict[str, Any], reason: str
) -> None:
    """Refused at run time with the reason; without lengths the padded batch runs as
    MATLAB runs its own padded mini-batches."""
    rng = np.random.default_rng(6)
    options = dict(options)
    kernel = options.pop("kernel")
    net = _series(
        dw.transposed_conv1d("up", *_filters(rng, kernel), **options),
        dw.global_avg_pool1d("gap"),
    )
    _, model = convert_network(tmp_path, net)
    _, batch = _padded(rng, LENGTHS)
    with pytest.raises(ValueError, match=reason):
        run(model, batch, torch.tensor(LENGTHS))
    assert rel_error(to_matlab(run(model, batch)), _reference(net, batch)) <= TOL


def test_sequence_autoencoder(tmp_path: Path) -> None:
    """MATLAB's documented 1-D convolutional autoencoder, small: strided 'same'
    convolutions down, strided 'same' transposed convolutions up."""
    rng = np.random.default_rng(7)
    f = 4
    net = _series(
        dw.conv1d("down1", *_down(rng, 3, C, 2 * f), stride=2, padding_mode="same"),
        dw.relu("relu1"),
        dw.conv1d("down2", *_down(rng, 3, 2 * f, f), stride=2, padding_mode="same"),
        dw.relu("relu2"),
        dw.transposed_conv1d(
            "up1", *_filters(rng, 3, f, f), stride=2, cropping_mode="same"
        ),
        dw.relu("relu3"),
        dw.transposed_conv1d(
            "up2", *_filters(rng, 4, f, 2 * f), stride=2, cropping_mode="same"
        ),
        dw.relu("relu4"),
        dw.transposed_conv1d("out", *_filters(rng, 3, 2 * f, C), cropping_mode="same"),
    )
    model = _check(tmp_path, net)
    assert run(model, rng.normal(size=(C, 2, 12))).shape == (2, 12, C)


def _down(
    rng: np.random.Generator, kernel: int, cin: int, cout: int
) -> tuple[np.ndarray, np.ndarray]:
    """convolution1dLayer weights K×Cin×Cout."""
    w = rng.normal(size=(kernel, cin, cout)).astype(np.float32)
    return w, rng.normal(size=cout).astype(np.float32)


def _convert_layer(tmp_path: Path, layer: Any) -> None:
    convert_network(tmp_path, _series(layer))


def _layer(**fields: Any) -> Any:
    w, b = _filters(np.random.default_rng(8), 5)
    return dw.with_fields(dw.transposed_conv1d("up", w, b, stride=2), **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"Version": dw.double(2)},
            r"layer 'up' \(nnet\.cnn\.layer\.TransposedConvolution1DLayer\) is stored "
            r"in schema version 2, which mat2torch does not know \(it reads this class "
            r"in version 1\)",
        ),
        ({"CroppingMode": dw.char("full")}, r"'up'.*uses CroppingMode 'full'"),
        (
            {"CroppingMode": dw.char("same"), "CroppingSize": dw.double(None)},
            r"'up'.*'same' cropping of an odd 3 steps \(FilterSize − Stride\) but stores "
            r"no CroppingSize; MATLAB's split of an odd 'same' cropping is uncertain",
        ),
        (
            {"CroppingMode": dw.char("same"), "CroppingSize": dw.double((2, 2))},
            r"'up'.*stores CroppingSize \[2 2\], which does not add up to them",
        ),
        (
            {"CroppingMode": dw.char("same"), "Stride": dw.double(6)},
            r"'up'.*'same' cropping with a FilterSize 5 smaller than its Stride 6",
        ),
        ({"OutputSizeOffset": dw.double(1)}, r"'up'.*OutputSizeOffset \[1\]"),
        ({"CroppingSize": dw.double((1, 1, 1))}, r"'up'.*crops \[left right\]"),
        ({"FilterSize": dw.double((5, 3))}, r"'up'.*a single FilterSize"),
        ({"NumFilters": dw.double(3)}, r"'up'.*filters that do not match its size"),
        ({"DilationFactor": dw.double(2)}, r"'up'.*DilationFactor \[2\]"),
    ],
)
def test_unknown_versions_and_options_are_refused(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConversionError, match=message) as info:
        _convert_layer(tmp_path, _layer(**fields))
    assert "\n" not in str(info.value)


def test_refuses_an_image_input(tmp_path: Path) -> None:
    net = dw.series_network(
        [
            dw.image_input("img", (8, 8, C), normalization="none"),
            dw.transposed_conv1d("up", *_filters(np.random.default_rng(9), 3)),
        ]
    )
    with pytest.raises(ConversionError, match=r"'up'.*expects a sequence"):
        convert_network(tmp_path, net)


def test_untrained_layer_converts(tmp_path: Path) -> None:
    up = dw.transposed_conv1d(
        "up", filter_size=4, num_filters=6, stride=2, cropping_mode="same"
    )
    net = dw.layer_graph([dw.sequence_input("seq", C), up], [("seq", "up")])
    module, model, _ = write_and_convert(tmp_path, {"lgraph": net})
    assert "UNTRAINED" in Path(module.__file__).read_text()
    assert run(model, np.ones((C, 2, 5))).shape == (2, 10, 6)


def test_written_layer_reads_back_with_its_class_and_shapes(tmp_path: Path) -> None:
    """The inferred schema round-trips through a .mat file with its own class."""
    from codegen.readers.mat import load

    rng = np.random.default_rng(10)
    layers = [
        dw.transposed_conv1d(
            "up", *_filters(rng, 5, C, 4), stride=2, cropping_mode="same"
        ),
        dw.transposed_conv1d("one", *_filters(rng, 3, 1, 4)),
    ]
    dw.write_mat(tmp_path / "layers.mat", {"layers": dw.layer_array(layers)})
    stored = load(tmp_path / "layers.mat").variables["layers"].ravel(order="F")
    assert [s.classname for s in stored] == [layer.classname for layer in layers]
    up, one = (s.properties["any"][0, 0] for s in stored)
    assert up["Weights"][0, 0]["Value"].shape == (5, 4, C)  # K×NumFilters×NumChannels
    assert up["Bias"][0, 0]["Value"].shape == (1, 4)
    assert list(up["CroppingSize"].ravel()) == [1.0, 2.0]
    assert str(up["CroppingMode"][0]) == "same"
    assert one["Weights"][0, 0]["Value"].shape == (3, 4)  # one channel: dropped


def test_graph_with_a_skip_connection(tmp_path: Path) -> None:
    """A dlnetwork: a strided convolution down and a transposed one back up, added to
    the input (both 'same', so T matches)."""
    rng = np.random.default_rng(11)
    layers = [
        dw.sequence_input("seq", C),
        dw.conv1d("down", *_down(rng, 3, C, 4), stride=2, padding_mode="same"),
        dw.transposed_conv1d(
            "up", *_filters(rng, 4, 4, C), stride=2, cropping_mode="same"
        ),
        dw.addition("add"),
    ]
    edges = [
        *itertools.pairwise(["seq", "down", "up"]),
        ("up", "add/in1"),
        ("seq", "add/in2"),
    ]
    net = dw.dlnetwork(layers, edges)
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(C, N, 10))
    expected = ref.run_graph(layers, edges, {"seq": x})["add"]
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
