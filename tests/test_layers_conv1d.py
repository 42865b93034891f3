"""1-D convolution and pooling over time (convolution1dLayer, maxPooling1dLayer,
averagePooling1dLayer, globalAveragePooling1dLayer, globalMaxPooling1dLayer) against the
NumPy reference of MATLAB's rules (codegen/reference/matlab_numpy/conv1d.py).

No real MATLAB file holds these classes: their schema is inferred (see
codegen/testing/dltwriter/sequence_conv.py), and so are the rules no oracle confirms:
'same' padding with the odd step at the end and, with a stride, resolved from each
batch's T; global pooling of 'CBT' data returning 'CB'; −inf padding in max pooling.
Every case uses a batch of several sequences and both an odd and an even length, so a
padding resolved once at conversion time, a wrong split or a transposed weight shows.
"""

from __future__ import annotations

import itertools
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


def _check(tmp_path: Path, net: Any, channels: int = C) -> torch.nn.Module:
    """Convert ``net`` and compare it with the reference on an odd and an even length."""
    _, model = convert_network(tmp_path, net)
    rng = np.random.default_rng(100)
    for steps in STEPS:
        x = rng.normal(size=(channels, N, steps))
        assert rel_error(to_matlab(run(model, x)), _reference(net, x)) <= TOL, steps
    return model


def _filters(
    rng: np.random.Generator, kernel: int, cin: int = C, cout: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    w = rng.normal(size=(kernel, cin, cout)).astype(np.float32)
    return w, rng.normal(size=cout).astype(np.float32)


# (kernel, builder keywords, input channels, filters)
CONV_CASES: dict[str, tuple[int, dict[str, Any], int, int]] = {
    "manual-default-no-padding": (3, {}, C, 4),
    "manual-asymmetric-stride2-dilation2": (
        3,
        {"stride": 2, "dilation": 2, "padding": (1, 2)},
        C,
        4,
    ),
    "manual-constant-1.5": (3, {"padding": (2, 2), "padding_value": 1.5}, C, 4),
    "same-even-kernel": (4, {"padding_mode": "same"}, C, 4),
    "same-stride2-dilation2": (
        3,
        {"padding_mode": "same", "stride": 2, "dilation": 2},
        C,
        4,
    ),
    "same-stride3-even-kernel": (4, {"padding_mode": "same", "stride": 3}, C, 4),
    "causal-dilation3": (3, {"padding_mode": "causal", "dilation": 3}, C, 4),
    "causal-stride2": (2, {"padding_mode": "causal", "stride": 2}, C, 4),
    "same-replicate": (5, {"padding_mode": "same", "padding_value": "replicate"}, C, 4),
    "same-symmetric-include-edge": (
        4,
        {"padding_mode": "same", "padding_value": "symmetric-include-edge"},
        C,
        4,
    ),
    "same-stride2-symmetric-exclude-edge": (
        3,
        {
            "padding_mode": "same",
            "stride": 2,
            "padding_value": "symmetric-exclude-edge",
        },
        C,
        4,
    ),
    "one-filter": (3, {"padding_mode": "same"}, C, 1),  # stored K×Cin: Cout dropped
    "one-channel-one-filter": (3, {"padding_mode": "causal"}, 1, 1),  # stored K×1
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv1d_matches_reference(tmp_path: Path, case: str) -> None:
    kernel, options, cin, cout = CONV_CASES[case]
    w, b = _filters(np.random.default_rng(1), kernel, cin, cout)
    net = _series(dw.conv1d("conv", w, b, **options), channels=cin)
    model = _check(tmp_path, net, channels=cin)
    # MATLAB's K×Cin×Cout becomes Conv1d's (Cout, Cin, K).
    np.testing.assert_array_equal(
        model.conv.weight.detach().numpy(), w.transpose(2, 1, 0)
    )


def test_conv1d_forward_is_one_readable_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    w, b = _filters(rng, 3)
    net = _series(
        dw.conv1d("causal_conv", w, b, padding_mode="causal", dilation=2),
        dw.conv1d("strided", *_filters(rng, 3, 4, 4), padding_mode="same", stride=2),
        dw.conv1d("plain", *_filters(rng, 3, 4, 4), padding=(1, 1)),
    )
    convert_network(tmp_path, net)
    source = (tmp_path / "out" / "model.py").read_text()
    assert "self.causal_conv = nn.Conv1d(3, 4, kernel_size=3, dilation=2)" in source
    assert (
        "# 'causal' padding: (FilterSize − 1)·DilationFactor = 4 steps before the start"
        in source
    )
    assert "F.pad(mask_padded_steps(seq, lengths).transpose(1, 2), (4, 0))" in source
    assert "same_padding_1d(x.shape[1], 3, 2)" in source  # causal_conv's output, as x
    # Symmetric zero padding stays the module's own.
    assert "self.plain = nn.Conv1d(4, 4, kernel_size=3, padding=1)" in source
    assert "codegen" not in source


def test_same_padding_split_and_run_time_resolution_matter() -> None:
    """The reference's 'same' rule differs from the alternatives, so the tests above can fail."""
    rng = np.random.default_rng(3)
    w, _ = _filters(rng, 4)
    x = rng.normal(size=(C, N, 9))
    extra_at_end = ref.conv1d(x, w, pad=ref.padding_1d("same", None, 9, 4))
    extra_at_start = ref.conv1d(x, w, pad=(2, 1))
    assert rel_error(extra_at_end, extra_at_start) > 1e-2
    # With a stride, the padding depends on T: 7 and 10 steps split differently.
    assert ref.padding_1d("same", None, 7, 3, 2, 2) == [2, 2]
    assert ref.padding_1d("same", None, 10, 3, 2, 2) == [1, 2]


# (op, pool size, builder keywords)
POOL_CASES: dict[str, tuple[str, int, dict[str, Any]]] = {
    "max-same-stride2": ("max", 3, {"padding_mode": "same", "stride": 2}),
    "max-causal": ("max", 3, {"padding_mode": "causal"}),
    "max-manual-asymmetric": ("max", 2, {"padding": (0, 1)}),
    "max-manual-symmetric-stride2": ("max", 3, {"padding": (1, 1), "stride": 2}),
    "max-manual-wide-padding": ("max", 3, {"padding": (2, 0)}),
    "avg-same-even": ("avg", 4, {"padding_mode": "same"}),
    "avg-manual-symmetric": ("avg", 3, {"padding": (1, 1)}),
    "avg-mean-same": ("avg", 4, {"padding_mode": "same", "padding_value": "mean"}),
    "avg-mean-same-stride2": (
        "avg",
        3,
        {"padding_mode": "same", "stride": 2, "padding_value": "mean"},
    ),
    "avg-mean-causal": ("avg", 3, {"padding_mode": "causal", "padding_value": "mean"}),
    "avg-mean-no-padding": ("avg", 2, {"stride": 2, "padding_value": "mean"}),
}


@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pool1d_matches_reference(tmp_path: Path, case: str) -> None:
    op, size, options = POOL_CASES[case]
    build = dw.max_pool1d if op == "max" else dw.avg_pool1d
    _check(tmp_path, _series(build("pool", size, **options)))


def test_mean_padding_value_leaves_padding_out() -> None:
    x = np.random.default_rng(4).normal(size=(C, N, 7))
    counted = ref.avg_pool1d(x, 3, 1, (1, 1), 0.0)
    excluded = ref.avg_pool1d(x, 3, 1, (1, 1), "mean")
    assert rel_error(counted, excluded) > 1e-2


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_global_pool1d_gives_features(tmp_path: Path, kind: str) -> None:
    """Global 1-D pooling of 'CBT' data is 'CB' [doc, uncertain]: (N, T, C) → (N, C),
    which a fully connected layer then takes as features."""
    rng = np.random.default_rng(5)
    pool = (dw.global_avg_pool1d if kind == "avg" else dw.global_max_pool1d)("gp")
    fc = dw.fully_connected("fc", rng.normal(size=(2, C)).astype(np.float32))
    net = _series(pool, fc)
    model = _check(tmp_path, net)
    assert run(model, rng.normal(size=(C, N, 5))).shape == (N, 2)


def _classifier(rng: np.random.Generator) -> Any:
    """MATLAB's documented 1-D CNN for sequence classification, small."""
    f = 5
    return _series(
        dw.conv1d("conv1", *_filters(rng, 3, C, f), padding_mode="causal"),
        dw.relu("relu1"),
        dw.layer_norm("ln1", rng.normal(size=f), 1 + rng.random(f), for_images=False),
        dw.conv1d("conv2", *_filters(rng, 3, f, f), padding_mode="causal", dilation=2),
        dw.relu("relu2"),
        dw.layer_norm("ln2", rng.normal(size=f), 1 + rng.random(f), for_images=False),
        dw.global_avg_pool1d("gap"),
        dw.fully_connected("fc", rng.normal(size=(3, f)).astype(np.float32)),
        dw.softmax("softmax", channel_dim=1, vector_format=True),
        dw.classification_output("classoutput", ["a", "b", "c"], observation_dim=2),
    )


def test_sequence_classification_network(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    net = _classifier(rng)
    module = _check(tmp_path, net)
    assert run(module, rng.normal(size=(C, N, 9))).shape == (N, 3)


def _padded(
    rng: np.random.Generator, lengths: list[int]
) -> tuple[list[np.ndarray], np.ndarray]:
    sequences = [rng.normal(size=(C, n)) for n in lengths]
    batch = np.zeros((C, len(lengths), max(lengths)))
    for i, s in enumerate(sequences):
        batch[:, i, : s.shape[1]] = s  # MATLAB pads on the right
    return sequences, batch


def _time_preserving_layers(rng: np.random.Generator) -> list[Any]:
    """Stride-1 layers whose padding keeps T: each honours lengths by masking."""
    f = 4
    return [
        dw.conv1d("conv1", *_filters(rng, 3, C, f), padding_mode="causal", dilation=2),
        dw.relu("relu"),
        dw.conv1d("conv2", *_filters(rng, 4, f, f), padding_mode="same"),
        dw.conv1d("conv3", *_filters(rng, 3, f, f), padding_value=2.0, padding=(1, 1)),
        dw.max_pool1d("maxpool", 3, padding_mode="same"),
        dw.avg_pool1d("avgmean", 2, padding_mode="same", padding_value="mean"),
        dw.avg_pool1d("avgzero", 3, padding_mode="causal"),
    ]


LENGTHS = [7, 3, 10, 1]


def test_lengths_sequence_output_matches_each_sequence_alone(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    net = _series(*_time_preserving_layers(rng))
    _, model = convert_network(tmp_path, net)
    sequences, batch = _padded(rng, LENGTHS)
    out = to_matlab(run(model, batch, torch.tensor(LENGTHS)))
    alone = seqref.per_observation(lambda s: _reference(net, s), sequences)
    for i, (expected, n) in enumerate(zip(alone, LENGTHS, strict=True)):
        assert rel_error(out[:, i, :n], expected) <= TOL, i
    # Without lengths the padded steps count (MATLAB's padded mini-batches): the short
    # sequences' last real steps differ.
    unmasked = to_matlab(run(model, batch))
    assert (
        max(
            rel_error(unmasked[:, i, :n], expected)
            for i, (expected, n) in enumerate(zip(alone, LENGTHS, strict=True))
        )
        > 1e-3
    )


def test_lengths_global_pooling_matches_each_sequence_alone(tmp_path: Path) -> None:
    """A dlnetwork: time-preserving layers, then global average and maximum added."""
    rng = np.random.default_rng(8)
    body = _time_preserving_layers(rng)
    layers = [
        dw.sequence_input("seq", C),
        *body,
        dw.global_avg_pool1d("gap"),
        dw.global_max_pool1d("gmp"),
        dw.addition("add"),
        dw.fully_connected("fc", rng.normal(size=(2, 4)).astype(np.float32)),
    ]
    chain = ["seq"] + [ref.layer_name(layer) for layer in body]
    edges = list(itertools.pairwise(chain))
    edges += [
        (chain[-1], "gap"),
        (chain[-1], "gmp"),
        ("gap", "add/in1"),
        ("gmp", "add/in2"),
        ("add", "fc"),
    ]
    net = dw.dlnetwork(layers, edges)
    _, model = convert_network(tmp_path, net)
    sequences, batch = _padded(rng, LENGTHS)
    out = to_matlab(run(model, batch, torch.tensor(LENGTHS)))
    for i, seq in enumerate(sequences):
        expected = ref.run_graph(layers, edges, {"seq": seq[:, None, :]})["fc"]
        assert rel_error(out[:, i], expected[:, 0]) <= TOL, i
    padded_counts = to_matlab(run(model, batch))
    assert rel_error(padded_counts, out) > 1e-3


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        (
            lambda rng: dw.conv1d(
                "down", *_filters(rng, 3), stride=2, padding_mode="same"
            ),
            r"'down' changes the number of time steps \(ceil\(T/2\)\)",
        ),
        (
            lambda rng: dw.conv1d("valid", *_filters(rng, 3)),
            r"'valid' changes the number of time steps \(T − 2\)",
        ),
        (
            lambda rng: dw.max_pool1d("down", 2, stride=2),
            r"'down' changes the number of time steps \(floor\(\(T − 2\)/2\) \+ 1\)",
        ),
        (
            lambda rng: dw.conv1d(
                "edge",
                *_filters(rng, 3),
                padding_mode="same",
                padding_value="replicate",
            ),
            r"'edge' pads with PaddingValue 'replicate'",
        ),
    ],
)
def test_layers_that_cannot_honour_lengths_refuse_them(
    tmp_path: Path, layer: Any, reason: str
) -> None:
    """Refused at run time, with the reason; without lengths the padded batch runs as
    MATLAB runs its own padded mini-batches."""
    rng = np.random.default_rng(9)
    net = _series(layer(rng), dw.global_avg_pool1d("gap"))
    _, model = convert_network(tmp_path, net)
    _, batch = _padded(rng, LENGTHS)
    with pytest.raises(ValueError, match=reason):
        run(model, batch, torch.tensor(LENGTHS))
    assert rel_error(to_matlab(run(model, batch)), _reference(net, batch)) <= TOL


def test_untrained_conv1d_converts(tmp_path: Path) -> None:
    conv = dw.conv1d("conv", filter_size=3, num_filters=6, padding_mode="causal")
    net = dw.layer_graph([dw.sequence_input("seq", C), conv], [("seq", "conv")])
    module, model, _ = write_and_convert(tmp_path, {"lgraph": net})
    assert "UNTRAINED" in Path(module.__file__).read_text()
    assert run(model, np.ones((C, 2, 5))).shape == (2, 5, 6)


def test_conv1d_refuses_an_image_input(tmp_path: Path) -> None:
    net = dw.series_network(
        [
            dw.image_input("img", (8, 8, C), normalization="none"),
            dw.conv1d("conv", *_filters(np.random.default_rng(10), 3)),
        ]
    )
    with pytest.raises(ConversionError, match=r"'conv'.*expects a sequence"):
        convert_network(tmp_path, net)


def test_written_layers_read_back_with_their_classes(tmp_path: Path) -> None:
    """The inferred schemas round-trip through a .mat file with their own classes."""
    from codegen.readers.mat import load

    rng = np.random.default_rng(11)
    layers = [
        dw.conv1d("conv", *_filters(rng, 3, C, 1), padding_mode="causal"),
        dw.max_pool1d("maxpool", 2),
        dw.avg_pool1d("avgpool", 2, padding_value="mean"),
        dw.global_avg_pool1d("gap"),
        dw.global_max_pool1d("gmp"),
    ]
    dw.write_mat(tmp_path / "layers.mat", {"layers": dw.layer_array(layers)})
    stored = load(tmp_path / "layers.mat").variables["layers"].ravel(order="F")
    assert [s.classname for s in stored] == [layer.classname for layer in layers]
    conv = stored[0].properties["any"][0, 0]
    assert conv["Weights"][0, 0]["Value"].shape == (3, C)  # the one filter dropped
    assert conv["Bias"][0, 0]["Value"].shape == (1, 1)
    assert list(conv["PaddingSize"].ravel()) == [2.0, 0.0]
