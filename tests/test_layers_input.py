"""inputLayer(inputSize, inputFormat) (nnet.cnn.layer.InputLayer, R2023b+) against the
NumPy reference of MATLAB's rules (codegen/reference/matlab_numpy/dense.py
``input_layer``).

No real MATLAB file holds an InputLayer: its schema is **inferred** from the observed
input layers (saveobj version 1 in ``any``: Name, then InputSize as a double row vector
with NaN for a variable size, as ImageInputLayer/SequenceInputLayer store InputSize, and
InputFormat as a char vector; see codegen/testing/dltwriter/inputs.py ``input_layer``).
MATLAB's documentation does not say whether a format given out of dlarray's order (e.g.
'BC') is stored reordered, nor how InputSize follows it, so such formats are refused, as
are formats no PyTorch layout represents exactly (U, one spatial dimension, no batch).

Each network runs a batch of more than one through odd, unequal sizes, so a swapped
height and width or a wrong channel count shows.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen import api
from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import image_sequence
from codegen.testing import dltwriter as dw
from codegen.testing import hostile
from tests.support import (
    TOL,
    as_matlab_features,
    convert_network,
    reference_graph,
    rel_err,
    run,
    to_matlab,
    write_and_convert,
)

NAN = float("nan")
H, W, C, N, T = 5, 7, 3, 2, 6
HIDDEN, OUT = 4, 3


def rand(rng: np.random.Generator, *shape: int, scale: float = 0.5) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def chain(layers: list[Any]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(ref.layer_name(layer) for layer in layers))


def compare(
    tmp_path: Path,
    layers: list[Any],
    x: np.ndarray,
    output: str,
    record_property: Any,
    version: int = 6,
) -> tuple[np.ndarray, str]:
    """Convert a dlnetwork of ``layers`` (a chain from input 'in'), run it on the
    MATLAB-layout ``x`` and compare layer ``output`` with the reference; returns the
    model's output (MATLAB layout) and the generated source."""
    net = dw.dlnetwork(layers, chain(layers), version=version)  # type: ignore[arg-type]
    _, model = convert_network(tmp_path, net)
    got = to_matlab(run(model, x))
    path = tmp_path / "net.mat"
    expected = reference_graph(ref.load_mat(str(path))["net"], {"in": x})[output]
    expected = as_matlab_features(expected) if got.ndim == 2 else expected
    err = rel_err(got, expected)
    print(f"max relative error {err:.1e}")
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"
    return got, (tmp_path / "out" / "model.py").read_text()


def image_layers(
    rng: np.random.Generator, input_size: tuple[float, ...], c: int = C
) -> list[Any]:
    """'SSCB' input → conv (asymmetric padding) → ReLU → fully connected."""
    ho, wo = H + 1 - 2, W + 2 - 2  # in + padding − 3 + 1: 3×3 kernel, padding [1 0 2 0]
    return [
        dw.input_layer("in", input_size, "SSCB"),
        dw.conv2d("conv", rand(rng, 3, 3, c, 4), rand(rng, 4), padding=(1, 0, 2, 0)),
        dw.relu("relu"),
        dw.fully_connected("fc", rand(rng, ho, wo, 4, OUT, scale=0.2), rand(rng, OUT)),
    ]


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("version", [4, 6])
def test_image_input_conv_relu_fc(
    tmp_path: Path, record_property: Any, version: int
) -> None:
    rng = np.random.default_rng(1)
    layers = image_layers(rng, (H, W, C, NAN))
    x = rng.standard_normal((H, W, C, N))
    got, source = compare(tmp_path, layers, x, "fc", record_property, version)
    assert got.shape == (OUT, N)
    assert f"(N, {C}, {H}, {W})" in source  # the documented input shape


def test_trailing_singleton_sizes_are_rebuilt(
    tmp_path: Path, record_property: Any
) -> None:
    """InputSize [5 7] for 'SSCB': MATLAB drops the trailing singletons of [5 7 1 1], so
    the channel count is 1 (a conv with one input channel), not missing. (The batch size
    is fixed at 1 there; the model, like every generated one, takes any N.)"""
    rng = np.random.default_rng(2)
    layers = image_layers(rng, (H, W), c=1)
    x = rng.standard_normal((H, W, 1, 1))
    _, source = compare(tmp_path, layers, x, "fc", record_property)
    assert f"(N, 1, {H}, {W})" in source


def test_feature_input(tmp_path: Path, record_property: Any) -> None:
    rng = np.random.default_rng(3)
    layers = [
        dw.input_layer("in", (C, NAN), "CB"),
        dw.fully_connected("fc", rand(rng, OUT, C), rand(rng, OUT)),
        dw.relu("relu"),
    ]
    got, _ = compare(
        tmp_path, layers, rng.standard_normal((C, 3)), "relu", record_property
    )
    assert got.shape == (OUT, 3)


@pytest.mark.parametrize("mode", ["sequence", "last"])
def test_sequence_input_lstm_fc(
    tmp_path: Path, record_property: Any, mode: str
) -> None:
    rng = np.random.default_rng(4)
    layers = [
        dw.input_layer("in", (C, NAN, NAN), "CBT"),
        dw.lstm(
            "lstm",
            rand(rng, 4 * HIDDEN, C),
            rand(rng, 4 * HIDDEN, HIDDEN),
            rand(rng, 4 * HIDDEN),
            output_mode=mode,
        ),
        dw.fully_connected("fc", rand(rng, OUT, HIDDEN), rand(rng, OUT)),
    ]
    x = rng.standard_normal((C, N, T))  # C×B×T
    got, source = compare(tmp_path, layers, x, "fc", record_property)
    assert got.shape == ((OUT, N, T) if mode == "sequence" else (OUT, N))
    assert f"(N, T, {C})" in source


def test_sequence_input_fc_over_time_with_fixed_length(
    tmp_path: Path, record_property: Any
) -> None:
    """A fixed time size (InputSize [3 NaN 6]) converts like NaN: the model leaves T free."""
    rng = np.random.default_rng(5)
    layers = [
        dw.input_layer("in", (C, NAN, T), "CBT"),
        dw.fully_connected("fc", rand(rng, OUT, C), rand(rng, OUT)),
    ]
    got, _ = compare(
        tmp_path, layers, rng.standard_normal((C, N, T)), "fc", record_property
    )
    assert got.shape == (OUT, N, T)


def test_volume_input(tmp_path: Path, record_property: Any) -> None:
    """'SSSCB' is MATLAB's H×W×D×C×N: the model takes (N, C, D, H, W)."""
    rng = np.random.default_rng(6)
    d = 4
    layers = [
        dw.input_layer("in", (H, W, d, C, NAN), "SSSCB"),
        dw.conv3d("conv", rand(rng, 3, 2, 2, C, 2), rand(rng, 2)),
        dw.relu("relu"),
    ]
    x = rng.standard_normal((H, W, d, C, N))
    net = dw.dlnetwork(layers, chain(layers))
    module, model = convert_network(tmp_path, net)
    with torch.no_grad():
        y = model.predict(module.from_matlab(x)).numpy().astype(np.float64)
    got = y.transpose(3, 4, 2, 1, 0)  # (N, C, D, H, W) → H×W×D×C×N
    saved = ref.load_mat(str(tmp_path / "net.mat"))["net"]
    expected = reference_graph(saved, {"in": x})["relu"]
    err = rel_err(got, expected)
    print(f"max relative error {err:.1e}")
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"
    assert f"(N, {C}, {d}, {H}, {W})" in (tmp_path / "out" / "model.py").read_text()


def test_image_sequence_input(tmp_path: Path, record_property: Any) -> None:
    """'SSCBT' is MATLAB's H×W×C×N×T: the model takes (N, T, C, H, W); a fully connected
    layer then acts on every time step's image."""
    rng = np.random.default_rng(7)
    layers = [
        dw.input_layer("in", (H, W, C, NAN, NAN), "SSCBT"),
        dw.fully_connected("fc", rand(rng, H, W, C, OUT, scale=0.2), rand(rng, OUT)),
    ]
    x = rng.standard_normal((H, W, C, N, T))
    net = dw.dlnetwork(layers, chain(layers))
    module, model = convert_network(tmp_path, net)
    with torch.no_grad():
        y = model.predict(module.from_matlab(x))
    got = to_matlab(y)  # (N, T, Out) → Out×N×T
    saved = ref.load_mat(str(tmp_path / "net.mat"))["net"]
    layers_, _ = ref.network_layers(saved)
    expected = image_sequence.run_network(layers_, None, {"in": x})["fc"]
    err = rel_err(got, expected)
    print(f"max relative error {err:.1e}")
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"
    assert f"(N, T, {C}, {H}, {W})" in (tmp_path / "out" / "model.py").read_text()


# --------------------------------------------------------------------------- input checks


def _forward(source: str) -> str:
    """The generated forward (its input checks and layer lines)."""
    body = source.split("    def forward(", 1)[1]
    return body.split("    def predict(", 1)[0]


@pytest.mark.parametrize(
    ("format_", "size", "classic", "bad"),
    [
        (
            "SSCB",
            (H, W, C, NAN),
            lambda: dw.image_input("x", (H, W, C), "none"),
            (2, C + 1, H, W),
        ),
        ("CB", (C, NAN), lambda: dw.feature_input("x", C), (2, C + 1)),
        ("CBT", (C, NAN, NAN), lambda: dw.sequence_input("x", C), (2, T, C + 1)),
    ],
)
def test_input_checks_match_the_classic_input_layers(
    tmp_path: Path,
    format_: str,
    size: tuple[float, ...],
    classic: Any,
    bad: tuple[int, ...],
) -> None:
    """The same network with an inputLayer and with the older input layer of its layout:
    forward checks the input in the same words, and refuses the same wrong tensors."""
    rng = np.random.default_rng(8)
    fc = dw.fully_connected(
        "fc",
        rand(rng, H, W, C, OUT) if format_ == "SSCB" else rand(rng, OUT, C),
        rand(rng, OUT),
    )
    sources, models = [], []
    for i, first in enumerate([dw.input_layer("x", size, format_), classic()]):
        out = tmp_path / str(i)
        out.mkdir()
        _, model = convert_network(out, dw.dlnetwork([first, fc], [("x", "fc")]))
        sources.append(_forward((out / "out" / "model.py").read_text()))
        models.append(model)
    assert "raise ValueError" in sources[0]
    assert sources[0] == sources[1]
    for model in models:
        wanted = rf"x: expected a tensor \(N, (T, )?{C}[,)].*got \[{', '.join(map(str, bad))}\]"
        with pytest.raises(ValueError, match=wanted):
            model(torch.zeros(bad))
        with pytest.raises(ValueError, match=r"x: expected a tensor"):
            model(torch.zeros(bad[:-1]))  # one dimension too few


# --------------------------------------------------------------------------- refused


REFUSED = [
    ("SCB", (W, C, NAN), r"one spatial dimension.*use 'CBT'"),
    ("SCBT", (W, C, NAN, NAN), r"one spatial dimension"),
    ("SSUB", (H, W, C, NAN), r"unspecified \(U\) dimension"),
    ("UCB", (4, C, NAN), r"unspecified \(U\) dimension"),
    ("SSC", (H, W, C), r"no batch \(B\) dimension.*'SSCB'"),
    ("CT", (C, NAN), r"no batch \(B\) dimension.*'CBT'"),
    ("BC", (NAN, C), r"not in MATLAB's dimension order.*'CB'"),
    ("SSBC", (H, W, NAN, C), r"not in MATLAB's dimension order.*'SSCB'"),
    ("SSSCBT", (H, W, 4, C, NAN, NAN), r"sequence of 3-D images"),
    ("SSB", (H, W, NAN), r"no channel \(C\) dimension"),
    ("sscb", (H, W, C, NAN), r"labels 'b', 'c', 's', which are not among"),
    ("SCCB", (H, C, C, NAN), r"repeats a C, B or T label"),
]


@pytest.mark.parametrize(
    ("format_", "size", "reason"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_formats_without_an_exact_layout_are_refused(
    tmp_path: Path, format_: str, size: tuple[float, ...], reason: str
) -> None:
    layers = [dw.input_layer("in", size, format_), dw.relu("relu")]
    with pytest.raises(ConversionError) as caught:
        convert_network(tmp_path, dw.dlnetwork(layers, [("in", "relu")]))
    message = str(caught.value)
    assert "layer 'in' (nnet.cnn.layer.InputLayer)" in message
    assert f"InputFormat '{format_}'" in message
    assert re.search(reason, message), message
    assert "\n" not in message
    assert not (tmp_path / "out" / "model.py").exists()


@pytest.mark.parametrize(
    ("format_", "size", "reason"),
    [
        ("", (H, W, C), r"has no InputFormat \(unformatted input\)"),
        (
            "SSCB",
            (NAN, NAN, C, NAN),
            r"InputSize \[NaN NaN 3 NaN\] with a variable \(NaN\) spatial",
        ),
        (
            "CB",
            (NAN, NAN),
            r"InputSize \[NaN NaN\] with a variable \(NaN\) spatial size or channel",
        ),
        ("CB", (C, NAN, 2), r"more sizes than its InputFormat 'CB'"),
        ("CB", (C, 0.5), r"InputSize"),
    ],
)
def test_sizes_and_missing_formats_are_refused(
    tmp_path: Path, format_: str, size: tuple[float, ...], reason: str
) -> None:
    layers = [dw.input_layer("in", size, format_), dw.relu("relu")]
    with pytest.raises(ConversionError, match=reason):
        convert_network(tmp_path, dw.dlnetwork(layers, [("in", "relu")]))


def test_extra_trailing_singleton_sizes_are_accepted(tmp_path: Path) -> None:
    layers = [dw.input_layer("in", (C, NAN, 1), "CB"), dw.relu("relu")]
    _, model = convert_network(tmp_path, dw.dlnetwork(layers, [("in", "relu")]))
    assert tuple(run(model, np.ones((C, 2))).shape) == (2, C)


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    layer = dw.input_layer("in", (C, NAN), "CB")
    layer.properties["any"]["Version"][0, 0] = np.array([[2.0]])
    with pytest.raises(
        ConversionError,
        match=r"'in' \(nnet\.cnn\.layer\.InputLayer\) is stored in schema version 2",
    ):
        convert_network(
            tmp_path, dw.dlnetwork([layer, dw.relu("relu")], [("in", "relu")])
        )


# --------------------------------------------------------------------------- the reference


def test_reference_permutes_to_dlarray_order_and_checks_sizes() -> None:
    """The reference itself: data given as 'BC' comes out as dlarray holds it ('CB'); a
    size InputSize fixes must match; missing trailing sizes are 1."""
    x = np.arange(6.0).reshape(2, 3)  # B×C
    assert np.array_equal(ref.input_layer(x, [NAN, 3], "BC"), x.T)
    y = np.arange(24.0).reshape(2, 3, 4)  # S×C×B... as 'SCB'
    assert ref.input_layer(y, [2, 3, NAN], "SCB").shape == (2, 3, 4)
    assert ref.input_layer(np.ones((5, 7)), [5, 7], "SSCB").shape == (5, 7, 1, 1)
    with pytest.raises(ValueError, match=r"dimension 3 \(C\) of the data has size 3"):
        ref.input_layer(np.ones((5, 7, 3, 2)), [5, 7, 4, NAN], "SSCB")
    with pytest.raises(ValueError, match="not a dlarray data format"):
        ref.input_layer(np.ones((5, 2)), [5, NAN], "XB")


@pytest.mark.parametrize("version", ["v7", "v7.3"])
def test_schema_round_trips_with_nan_sizes(tmp_path: Path, version: str) -> None:
    """The inferred schema as the readers see it, in both file formats: InputSize keeps
    its NaN, InputFormat is text, and the network converts the same from either."""
    rng = np.random.default_rng(9)
    weights, bias = rand(rng, OUT, C), rand(rng, OUT)
    layers = [
        dw.input_layer("in", (C, NAN, NAN), "CBT"),
        dw.fully_connected("fc", weights, bias),
    ]
    _, model, path = write_and_convert(
        tmp_path, {"net": dw.dlnetwork(layers, [("in", "fc")])}, version=version
    )
    saved = ref.network_layers(ref.load_mat(str(path))["net"])[0][0]
    record = saved.properties["any"][0, 0]
    assert ref.layer_name(saved) == "in"
    size = np.asarray(record["InputSize"], dtype=np.float64).ravel()
    assert size[0] == C and np.isnan(size[1:]).all()
    assert ref._str(record["InputFormat"]) == "CBT"
    x = rng.standard_normal((C, N, T))
    expected = ref.fully_connected(ref.input_layer(x, size, "CBT"), weights, bias)
    assert rel_err(to_matlab(run(model, x)), expected) <= TOL


def test_format_stored_as_a_string_reads_like_a_char_vector(tmp_path: Path) -> None:
    """InputFormat is inferred to be a char vector like other layers' text; a MATLAB
    string scalar there reads the same."""
    layer = dw.with_fields(
        dw.input_layer("in", (C, NAN), "CB"), InputFormat=dw.string("CB")
    )
    _, model = convert_network(
        tmp_path, dw.dlnetwork([layer, dw.relu("relu")], [("in", "relu")])
    )
    x = np.random.default_rng(10).standard_normal((C, N))
    assert rel_err(to_matlab(run(model, x)), np.maximum(x, 0)) <= TOL


@pytest.mark.parametrize("field", ["InputSize", "InputFormat", "Version"])
def test_fields_of_the_wrong_kind_are_one_sentence(tmp_path: Path, field: str) -> None:
    """A damaged or crafted InputLayer field (NaN, text, a cell, a struct, ...) gives one
    sentence naming the file, the variable and the layer, never another exception."""
    errors = 0
    for kind, bad in sorted(hostile.BAD_VALUES.items()):
        layer = dw.with_fields(dw.input_layer("in", (C, NAN), "CB"), **{field: bad()})
        net = dw.dlnetwork([layer, dw.relu("relu")], [("in", "relu")])
        path = tmp_path / "swap.mat"
        dw.write_mat(path, {"net": net})
        try:
            api.convert_file(path)
        except ConversionError as exc:
            message = str(exc)
            assert "\n" not in message, (kind, message)
            assert message.startswith("swap.mat, variable 'net'"), (kind, message)
            assert "layer 'in' (nnet.cnn.layer.InputLayer)" in message, (kind, message)
            errors += 1
    assert errors >= len(hostile.BAD_VALUES) - 3, errors


def test_a_format_with_control_characters_stays_one_line(tmp_path: Path) -> None:
    layers = [dw.input_layer("in", (C, NAN), "C\nB"), dw.relu("relu")]
    with pytest.raises(ConversionError) as caught:
        convert_network(tmp_path, dw.dlnetwork(layers, [("in", "relu")]))
    assert "\n" not in str(caught.value)
    assert r"InputFormat 'C\nB'" in str(caught.value)
