"""lstmProjectedLayer and gruProjectedLayer against the NumPy reference of MATLAB's rules.

No real file holds a projected layer, so their schema is inferred (schema writer,
``dw.lstm_projected`` / ``dw.gru_projected``): the fields of the observed LSTMLayer v4 and
of the inferred GRULayer schema, plus OutputProjectorSize, InputProjectorSize and the
InputProjector / OutputProjector learnables named as the layers' documented properties,
in schema version 1. The reference (codegen/reference/matlab_numpy/recurrent_projected.py)
applies the two factors at every step, W'·(Qᵀ·x), as MATLAB's documentation writes it;
the converter multiplies them out into nn.LSTM / nn.GRU weights. Every test uses an odd
sequence length, a batch of more than one and weights large enough that no gate
saturates, so a transposed projector, a wrong gate order or a projected state shows.
"""

from __future__ import annotations

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
    reference_graph,
    rel_error,
    run,
    to_matlab,
    to_torch,
)

N, T = 3, 7

# (input channels C, hidden units H, InputProjectorSize, OutputProjectorSize)
SIZES = [(5, 4, 3, 2), (6, 8, 2, 5), (3, 6, 3, 6), (7, 5, 1, 1)]


def _factors(
    rng: np.random.Generator,
    gates: int,
    size: tuple[int, int, int, int],
    bias_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """InputWeights gH×P_in, RecurrentWeights gH×P_out, Bias, InputProjector C×P_in and
    OutputProjector H×P_out, as float32 like MATLAB's learnables."""
    c, h, p_in, p_out = size
    scale_in, scale_out = 1.2 / np.sqrt(p_in), 1.2 / np.sqrt(p_out)
    arrays = {
        "input_weights": rng.normal(0, scale_in, (gates * h, p_in)),
        "recurrent_weights": rng.normal(0, scale_out, (gates * h, p_out)),
        "bias": rng.normal(0, 0.5, bias_rows or gates * h),
        "input_projector": rng.normal(0, 1.0, (c, p_in)),
        "output_projector": rng.normal(0, 1.0, (h, p_out)),
    }
    return {k: v.astype(np.float32) for k, v in arrays.items()}


def _series(channels: int, layer: Any) -> Any:
    return dw.series_network(
        [dw.sequence_input("seq", channels), layer, dw.regression_output("out")]
    )


def _source(tmp_path: Path) -> str:
    return (tmp_path / "out" / "model.py").read_text()


def _positional(f: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (
        f["input_weights"],
        f["recurrent_weights"],
        f["bias"],
        f["input_projector"],
        f["output_projector"],
    )


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "C{}H{}Pin{}Pout{}".format(*s))
def test_lstm_projected_matches_the_reference(
    tmp_path: Path, size: tuple[int, int, int, int], mode: str
) -> None:
    rng = np.random.default_rng(31)
    c, h, p_in, p_out = size
    f = _factors(rng, 4, size)
    h0, c0 = rng.normal(0, 0.5, h), rng.normal(0, 0.5, h)
    layer = dw.lstm_projected(
        "lstm_proj", **f, hidden_state=h0, cell_state=c0, output_mode=mode
    )
    _, model = convert_network(tmp_path, _series(c, layer))
    x = rng.normal(size=(c, N, T))
    out = to_matlab(run(model, x))
    expected = ref.lstm_projected(x, *_positional(f), h0, c0, mode)
    assert out.shape == ((h, N) if mode == "last" else (h, N, T))  # H wide, not P_out
    assert rel_error(out, expected) <= TOL
    # A plain nn.LSTM with the multiplied-out weights; the factors are not parameters.
    assert isinstance(model.lstm_proj.rnn, torch.nn.LSTM)
    state = model.state_dict()
    assert state["lstm_proj.rnn.weight_ih_l0"].shape == (4 * h, c)
    assert state["lstm_proj.rnn.weight_hh_l0"].shape == (4 * h, h)
    assert not any("projector" in key.lower() for key in state)
    source = _source(tmp_path)
    assert "lstmProjectedLayer: weight_ih = InputWeights @ InputProjector.T" in source
    assert f"(InputProjectorSize {p_in})" in source
    assert "codegen" not in source


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize(
    ("state_act", "gate_act"), [("softsign", "hard-sigmoid"), ("relu", "sigmoid")]
)
def test_lstm_projected_with_other_activations_uses_explicit_cells(
    tmp_path: Path, state_act: str, gate_act: str, mode: str
) -> None:
    rng = np.random.default_rng(32)
    size = (5, 4, 3, 2)
    f = _factors(rng, 4, size)
    layer = dw.lstm_projected(
        "lstm_proj",
        **f,
        output_mode=mode,
        state_activation=state_act,
        gate_activation=gate_act,
    )
    _, model = convert_network(tmp_path, _series(size[0], layer))
    x = rng.normal(size=(size[0], N, T))
    expected = ref.lstm_projected(
        x, *_positional(f), None, None, mode, state_act, gate_act
    )
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
    assert type(model.lstm_proj).__name__ == "Unrolled"
    assert "class LSTMCell(nn.Module)" in _source(tmp_path)


GRU_RESET_MODES = [
    "after-multiplication",
    "before-multiplication",
    "recurrent-bias-after-multiplication",
]


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize("reset", GRU_RESET_MODES)
@pytest.mark.parametrize(
    "size", SIZES[:3], ids=lambda s: "C{}H{}Pin{}Pout{}".format(*s)
)
def test_gru_projected_matches_the_reference(
    tmp_path: Path, size: tuple[int, int, int, int], reset: str, mode: str
) -> None:
    rng = np.random.default_rng(33)
    c, h, _, _ = size
    six = reset == "recurrent-bias-after-multiplication"
    f = _factors(rng, 3, size, bias_rows=6 * h if six else 3 * h)
    h0 = rng.normal(0, 0.5, h)
    layer = dw.gru_projected(
        "gru_proj", **f, hidden_state=h0, output_mode=mode, reset_gate_mode=reset
    )
    _, model = convert_network(tmp_path, _series(c, layer))
    x = rng.normal(size=(c, N, T))
    out = to_matlab(run(model, x))
    expected = ref.gru_projected(x, *_positional(f), h0, mode, reset)
    assert out.shape == ((h, N) if mode == "last" else (h, N, T))
    assert rel_error(out, expected) <= TOL
    plain = reset != "before-multiplication"
    assert isinstance(getattr(model.gru_proj, "rnn", None), torch.nn.GRU) == plain
    assert "gruProjectedLayer: weight_ih = InputWeights @ InputProjector.T" in (
        _source(tmp_path)
    )


def test_gru_projected_with_other_activations(tmp_path: Path) -> None:
    rng = np.random.default_rng(34)
    size = (6, 8, 2, 5)
    f = _factors(rng, 3, size)
    layer = dw.gru_projected(
        "gru_proj", **f, state_activation="softsign", gate_activation="hard-sigmoid"
    )
    _, model = convert_network(tmp_path, _series(size[0], layer))
    x = rng.normal(size=(size[0], N, T))
    expected = ref.gru_projected(
        x, *_positional(f), None, "sequence", "after-multiplication", "softsign",
        "hard-sigmoid",
    )  # fmt: skip
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL


def test_reference_reads_the_written_fields(tmp_path: Path) -> None:
    """The reference run from the written layer's own fields (run_graph) agrees with the
    converted model: the schema writer, the reference's field names and the converter's
    agree."""
    rng = np.random.default_rng(35)
    size = (5, 4, 3, 2)
    lstm_f, gru_f = _factors(rng, 4, size), _factors(rng, 3, (4, 6, 2, 3))
    net = dw.series_network(
        [
            dw.sequence_input("seq", size[0]),
            dw.lstm_projected("lstm_proj", **lstm_f, cell_state=rng.normal(0, 0.5, 4)),
            dw.gru_projected("gru_proj", **gru_f, output_mode="last"),
            dw.regression_output("out"),
        ]
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(size[0], N, T))
    expected = reference_graph(net, {"seq": x})["gru_proj"]
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL


def test_the_tests_can_fail() -> None:
    """What the comparisons above would catch: a transposed projector (square factors), a
    hidden state projected to P_out, or the factors ignored all change the output."""
    rng = np.random.default_rng(36)
    size = (4, 4, 4, 4)
    f = _factors(rng, 4, size)
    x = rng.normal(size=(4, N, T))
    right = ref.lstm_projected(x, *_positional(f))
    w, r, b, q_in, q_out = _positional(f)
    assert rel_error(ref.lstm_projected(x, w, r, b, q_in.T, q_out), right) > 1e-2
    assert rel_error(ref.lstm_projected(x, w, r, b, q_in, q_out.T), right) > 1e-2
    assert rel_error(ref.lstm(x, w, r, b), right) > 1e-2
    # The multiplied-out plain LSTM is the same function (the converter's premise).
    full = ref.lstm(
        x,
        w.astype(np.float64) @ q_in.T.astype(np.float64),
        r.astype(np.float64) @ q_out.T.astype(np.float64),
        b,
    )
    assert rel_error(full, right) <= 1e-12


def test_lstm_projected_state_inputs_and_outputs(tmp_path: Path) -> None:
    """HasStateInputs / HasStateOutputs (inferred as for lstmLayer): the states are H
    wide, as the layer's documented HiddenState and CellState are."""
    rng = np.random.default_rng(37)
    c, h, _, _ = size = (5, 4, 3, 2)
    f = _factors(rng, 4, size)
    lstm = dw.with_fields(
        dw.lstm_projected("lstm", **f),
        HasStateInputs=dw.logical(True),
        HasStateOutputs=dw.logical(True),
    )
    layers = [
        dw.sequence_input("seq", c),
        dw.feature_input("h", h),
        dw.feature_input("c", h),
        lstm,
    ]
    connections = [("seq", "lstm"), ("h", "lstm/hidden"), ("c", "lstm/cell")]
    net = dw.dlnetwork(
        layers, connections, output_names=["lstm/out", "lstm/hidden", "lstm/cell"]
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(c, N, T))
    h0, c0 = rng.normal(size=(h, N)), rng.normal(size=(h, N))
    with torch.no_grad():
        out, hidden, cell = model.predict(
            to_torch(x),
            torch.tensor(h0.T, dtype=torch.float32),
            torch.tensor(c0.T, dtype=torch.float32),
        )
    ys, h_t, c_t = ref.lstm_projected_states(x, *_positional(f), h0, c0)
    assert rel_error(to_matlab(out), ys) <= TOL
    assert rel_error(to_matlab(hidden), h_t) <= TOL
    assert rel_error(to_matlab(cell), c_t) <= TOL
    assert "lstm_h0" not in model.state_dict()


def test_gru_projected_state_outputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(38)
    c, h, _, _ = size = (6, 8, 2, 5)
    f = _factors(rng, 3, size)
    h0 = rng.normal(0, 0.5, h)
    gru = dw.with_fields(
        dw.gru_projected("gru", **f, hidden_state=h0),
        HasStateOutputs=dw.logical(True),
    )
    net = dw.dlnetwork(
        [dw.sequence_input("seq", c), gru],
        [("seq", "gru")],
        output_names=["gru/out", "gru/hidden"],
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(c, N, T))
    with torch.no_grad():
        out, hidden = model.predict(to_torch(x))
    ys, h_t = ref.gru_projected_states(x, *_positional(f), h0)
    assert rel_error(to_matlab(out), ys) <= TOL
    assert rel_error(to_matlab(hidden), h_t) <= TOL


def test_padded_batch_with_lengths(tmp_path: Path) -> None:
    rng = np.random.default_rng(39)
    c, h, _, _ = size = (5, 4, 3, 2)
    f = _factors(rng, 4, size)
    layer = dw.lstm_projected("lstm", **f, output_mode="last")
    _, model = convert_network(tmp_path, _series(c, layer))
    lengths = [7, 3, 5, 1]
    sequences = [rng.normal(size=(c, n)) for n in lengths]
    batch = np.zeros((c, len(lengths), max(lengths)))
    for i, s in enumerate(sequences):
        batch[:, i, : s.shape[1]] = s
    out = to_matlab(run(model, batch, torch.tensor(lengths)))
    alone = seqref.per_observation(
        lambda s: ref.lstm_projected(s, *_positional(f), output_mode="last"),
        sequences,
    )
    for i, expected in enumerate(alone):
        assert rel_error(out[:, i], expected) <= TOL


def test_untrained_projected_layers_convert(tmp_path: Path) -> None:
    net = dw.layer_graph(
        [
            dw.sequence_input("seq", 5),
            dw.lstm_projected(
                "lstm",
                num_hidden_units=4,
                input_projector_size=3,
                output_projector_size=2,
            ),
            dw.gru_projected(
                "gru",
                num_hidden_units=6,
                input_projector_size=2,
                output_projector_size=3,
            ),
        ],
        [("seq", "lstm"), ("lstm", "gru")],
    )
    _, model = convert_network(tmp_path, net)
    assert "UNTRAINED" in _source(tmp_path)
    assert run(model, np.ones((5, 2, 3))).shape == (2, 3, 6)


# ---------------------------------------------------------------- refused


def _refused(tmp_path: Path, layer: Any, pattern: str, channels: int = 5) -> None:
    with pytest.raises(ConversionError, match=pattern):
        convert_network(tmp_path, _series(channels, layer))


def _trained_lstm(**options: Any) -> Any:
    rng = np.random.default_rng(40)
    return dw.lstm_projected("my_lstm", **_factors(rng, 4, (5, 4, 3, 2)), **options)


def test_unknown_activation_is_refused(tmp_path: Path) -> None:
    layer = dw.with_fields(_trained_lstm(), StateActivationFunction=dw.char("gelu"))
    _refused(tmp_path, layer, r"my_lstm.*StateActivationFunction 'gelu'")


def test_unknown_gru_reset_gate_mode_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(41)
    layer = dw.with_fields(
        dw.gru_projected("my_gru", **_factors(rng, 3, (5, 4, 3, 2))),
        ResetGateMode=dw.char("sideways"),
    )
    _refused(tmp_path, layer, r"my_gru.*ResetGateMode 'sideways'")


@pytest.mark.parametrize("cls", ["lstm", "gru"])
def test_unknown_schema_version_is_refused(tmp_path: Path, cls: str) -> None:
    rng = np.random.default_rng(42)
    build = dw.lstm_projected if cls == "lstm" else dw.gru_projected
    f = _factors(rng, 4 if cls == "lstm" else 3, (5, 4, 3, 2))
    layer = dw.with_fields(build("proj", **f), Version=dw.double(2))
    _refused(tmp_path, layer, r"'proj'.*schema version 2.*version 1")


def test_projector_size_that_disagrees_with_the_factors_is_refused(
    tmp_path: Path,
) -> None:
    layer = dw.with_fields(_trained_lstm(), InputProjectorSize=dw.double(4))
    _refused(tmp_path, layer, r"my_lstm.*InputWeights with 48 values, not 16×4")


def test_a_missing_projector_is_refused(tmp_path: Path) -> None:
    layer = dw.with_fields(_trained_lstm(), OutputProjector=dw.empty())
    _refused(
        tmp_path, layer, r"my_lstm.*stores RecurrentWeights but no OutputProjector"
    )


def test_a_missing_projector_size_is_refused(tmp_path: Path) -> None:
    layer = dw.with_fields(_trained_lstm(), InputProjectorSize=dw.empty())
    _refused(tmp_path, layer, r"my_lstm.*has no InputProjectorSize")


def test_an_input_that_disagrees_with_the_input_projector_is_refused(
    tmp_path: Path,
) -> None:
    _refused(tmp_path, _trained_lstm(), r"my_lstm.*expects 5 input channels", 6)


def test_feature_input_runs_as_one_time_step(tmp_path: Path) -> None:
    """A feature input (MATLAB 'CB' data) is a sequence of one step, as for lstmLayer: the
    output is the final hidden state (N, H)."""
    rng = np.random.default_rng(43)
    c, h, _, _ = size = (6, 8, 2, 5)
    f = _factors(rng, 4, size)
    net = dw.series_network(
        [dw.feature_input("feat", c), dw.lstm_projected("lstm", **f)]
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(c, N))
    with torch.no_grad():
        out = model.predict(torch.tensor(x.T, dtype=torch.float32)).numpy().T
    expected = ref.lstm_projected(x[:, :, None], *_positional(f), output_mode="last")
    assert out.shape == (h, N)
    assert rel_error(out, expected) <= TOL
