"""LSTM, BiLSTM and GRU layers against the NumPy reference of MATLAB's rules.

Networks are written with the schema writer (codegen.testing.dltwriter): LSTMLayer's
schema is the real one (faultdet_TrainedModel.mat); BiLSTMLayer, GRULayer and the
HasStateInputs/HasStateOutputs fields have no real sample, so their schema is inferred.
Every test uses an odd sequence length, a batch of more than one and weights large
enough that no gate saturates, so a wrong gate order, activation or state shows.
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
from tests.support import TOL, convert_network, rel_error, run, to_matlab, to_torch

C, H, N, T = 5, 4, 3, 7


def _weights(rng: np.random.Generator, gates: int, directions: int = 1, bias_rows: int | None = None):  # type: ignore[no-untyped-def]
    rows = gates * H * directions
    w = rng.normal(0, 0.6, (rows, C))
    r = rng.normal(0, 0.6, (rows, H))
    b = rng.normal(0, 0.6, bias_rows or rows)
    return w.astype(np.float32), r.astype(np.float32), b.astype(np.float32)


def _series(*layers):  # type: ignore[no-untyped-def]
    return dw.series_network(
        [dw.sequence_input("seq", C), *layers, dw.regression_output("out")]
    )


def _state(rng: np.random.Generator, rows: int) -> np.ndarray:
    """An initial hidden or cell state, small enough that no gate saturates."""
    return rng.normal(0, 0.5, rows).astype(np.float32)


def _modes(mode: str, state_act: str, gate_act: str) -> dict[str, str]:
    """The builder keywords the recurrent tests vary."""
    return {
        "output_mode": mode,
        "state_activation": state_act,
        "gate_activation": gate_act,
    }


def _convert_series(
    tmp_path: Path, layer: Any, rng: np.random.Generator
) -> tuple[torch.nn.Module, np.ndarray]:
    """Convert sequence input → ``layer`` → regression output; also draw the (C, N, T) input."""
    _, model = convert_network(tmp_path, _series(layer))
    return model, rng.normal(size=(C, N, T))


ACTIVATIONS = [
    (s, g) for s in ("tanh", "softsign", "relu") for g in ("sigmoid", "hard-sigmoid")
]


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize(("state_act", "gate_act"), ACTIVATIONS)
def test_lstm_every_activation_and_mode(
    tmp_path: Path, state_act: str, gate_act: str, mode: str
) -> None:
    rng = np.random.default_rng(1)
    w, r, b = _weights(rng, 4)
    h0, c0 = _state(rng, H), _state(rng, H)
    layer = dw.lstm(
        "lstm_1",
        w,
        r,
        b,
        hidden_state=h0,
        cell_state=c0,
        **_modes(mode, state_act, gate_act),
    )
    model, x = _convert_series(tmp_path, layer, rng)
    expected = ref.lstm(x, w, r, b, h0, c0, mode, state_act, gate_act)
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
    # Default activations stay a plain nn.LSTM; others get a readable explicit cell.
    default = (state_act, gate_act) == ("tanh", "sigmoid")
    assert isinstance(getattr(model.lstm_1, "rnn", None), torch.nn.LSTM) == default
    source = (tmp_path / "out" / "model.py").read_text()
    assert ("class LSTMCell(nn.Module)" in source) != default
    assert ("def activation(" in source) != default
    assert "codegen" not in source


def test_lstm_initial_states_are_buffers_and_bias_hh_zero(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    w, r, b = _weights(rng, 4)
    h0 = rng.normal(size=H).astype(np.float32)
    _, model = convert_network(
        tmp_path, _series(dw.lstm("lstm", w, r, b, hidden_state=h0))
    )
    state = model.state_dict()
    np.testing.assert_array_equal(state["lstm_h0"].numpy().ravel(), h0)
    assert not state["lstm_c0"].any()
    assert not state["lstm.rnn.bias_hh_l0"].any()
    np.testing.assert_array_equal(
        state["lstm.rnn.weight_ih_l0"].numpy(), w
    )  # gates i, f, g, o: no reordering


def test_lstm_prefers_hidden_state_over_initial_hidden_state(tmp_path: Path) -> None:
    """Pinned choice (unverified by a MATLAB oracle: every real file stores equal zeros):
    predict starts from the layer's current HiddenState/CellState."""
    rng = np.random.default_rng(3)
    w, r, b = _weights(rng, 4)
    current, initial = rng.normal(size=(H, 1)).astype(np.float32), rng.normal(
        size=(H, 1)
    ).astype(np.float32)
    layer = dw.lstm("lstm", w, r, b)
    layer = dw.with_fields(
        layer,
        HiddenState=dw.struct({"Value": current, "Remember": dw.logical(True)}),
        InitialHiddenState=initial,
    )
    model, x = _convert_series(tmp_path, layer, rng)
    out = to_matlab(run(model, x))
    assert rel_error(out, ref.lstm(x, w, r, b, current, None)) <= TOL
    assert rel_error(out, ref.lstm(x, w, r, b, initial, None)) > 1e-3
    source = (tmp_path / "out" / "model.py").read_text()
    assert "initial states from HiddenState" in source


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize(
    ("state_act", "gate_act"), [("tanh", "sigmoid"), ("softsign", "hard-sigmoid")]
)
def test_bilstm_both_modes(
    tmp_path: Path, mode: str, state_act: str, gate_act: str
) -> None:
    rng = np.random.default_rng(4)
    w, r, b = _weights(rng, 4, directions=2)
    h0, c0 = _state(rng, 2 * H), _state(rng, 2 * H)
    layer = dw.bilstm(
        "bilstm",
        w,
        r,
        b,
        hidden_state=h0,
        cell_state=c0,
        **_modes(mode, state_act, gate_act),
    )
    model, x = _convert_series(tmp_path, layer, rng)
    out = to_matlab(run(model, x))
    expected = ref.bilstm(x, w, r, b, h0, c0, mode, state_act, gate_act)
    assert out.shape == ((2 * H, N) if mode == "last" else (2 * H, N, T))
    assert rel_error(out, expected) <= TOL
    if mode == "last":
        # 'last' is the backward pass's final state, which out[:, -1] is not.
        sequence = ref.bilstm(x, w, r, b, h0, c0, "sequence", state_act, gate_act)
        assert rel_error(out, sequence[:, :, -1]) > 1e-2


GRU_MODES = [
    "after-multiplication",
    "before-multiplication",
    "recurrent-bias-after-multiplication",
]


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize(
    ("state_act", "gate_act"),
    [("tanh", "sigmoid"), ("relu", "hard-sigmoid"), ("softsign", "sigmoid")],
)
@pytest.mark.parametrize("reset", GRU_MODES)
def test_gru_every_reset_mode(
    tmp_path: Path, reset: str, state_act: str, gate_act: str, mode: str
) -> None:
    rng = np.random.default_rng(5)
    six = reset == "recurrent-bias-after-multiplication"
    w, r, b = _weights(rng, 3, bias_rows=6 * H if six else 3 * H)
    h0 = _state(rng, H)
    layer = dw.gru(
        "gru",
        w,
        r,
        b,
        reset_gate_mode=reset,
        hidden_state=h0,
        **_modes(mode, state_act, gate_act),
    )
    model, x = _convert_series(tmp_path, layer, rng)
    expected = ref.gru(x, w, r, b, h0, mode, reset, state_act, gate_act)
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
    expressible = reset != "before-multiplication" and (state_act, gate_act) == (
        "tanh",
        "sigmoid",
    )
    assert isinstance(getattr(model.gru, "rnn", None), torch.nn.GRU) == expressible
    if expressible and six:
        np.testing.assert_array_equal(
            model.gru.rnn.bias_hh_l0.detach().numpy(), b[3 * H :]
        )


def test_gru_reset_modes_differ(tmp_path: Path) -> None:
    """The three ResetGateMode formulas give different results, so the tests above can fail."""
    rng = np.random.default_rng(6)
    w, r, b = _weights(rng, 3)
    x = rng.normal(size=(C, N, T))
    after = ref.gru(x, w, r, b, reset_gate_mode="after-multiplication")
    before = ref.gru(x, w, r, b, reset_gate_mode="before-multiplication")
    assert rel_error(after, before) > 1e-3


def _padded(
    rng: np.random.Generator, lengths: list[int]
) -> tuple[list[np.ndarray], np.ndarray]:
    sequences = [rng.normal(size=(C, n)) for n in lengths]
    batch = np.zeros((C, len(lengths), max(lengths)))
    for i, s in enumerate(sequences):
        batch[:, i, : s.shape[1]] = s  # MATLAB pads on the right
    return sequences, batch


VARIABLE_CASES = {
    "lstm-last": (
        lambda w, r, b: dw.lstm("rnn", w, r, b, output_mode="last"),
        lambda x, w, r, b: ref.lstm(x, w, r, b, output_mode="last"),
        4,
        1,
    ),
    "bilstm-sequence": (
        lambda w, r, b: dw.bilstm("rnn", w, r, b),
        lambda x, w, r, b: ref.bilstm(x, w, r, b),
        4,
        2,
    ),
    "bilstm-last-softsign": (
        lambda w, r, b: dw.bilstm(
            "rnn", w, r, b, output_mode="last", state_activation="softsign"
        ),
        lambda x, w, r, b: ref.bilstm(
            x, w, r, b, output_mode="last", state_activation="softsign"
        ),
        4,
        2,
    ),
    "gru-before-sequence": (
        lambda w, r, b: dw.gru("rnn", w, r, b, reset_gate_mode="before-multiplication"),
        lambda x, w, r, b: ref.gru(x, w, r, b, reset_gate_mode="before-multiplication"),
        3,
        1,
    ),
    "gru-last": (
        lambda w, r, b: dw.gru("rnn", w, r, b, output_mode="last"),
        lambda x, w, r, b: ref.gru(x, w, r, b, output_mode="last"),
        3,
        1,
    ),
}


@pytest.mark.parametrize("case", sorted(VARIABLE_CASES))
def test_padded_batch_with_lengths_matches_each_sequence_alone(
    tmp_path: Path, case: str
) -> None:
    build, reference, gates, directions = VARIABLE_CASES[case]
    rng = np.random.default_rng(7)
    w, r, b = _weights(rng, gates, directions)
    _, model = convert_network(tmp_path, _series(build(w, r, b)))
    lengths = [7, 3, 5, 1]
    sequences, batch = _padded(rng, lengths)
    out = to_matlab(run(model, batch, torch.tensor(lengths)))
    alone = seqref.per_observation(lambda x: reference(x, w, r, b), sequences)
    for i, (expected, n) in enumerate(zip(alone, lengths, strict=True)):
        if expected.ndim == 1:  # OutputMode 'last': the last real step
            assert rel_error(out[:, i], expected) <= TOL
        else:
            assert rel_error(out[:, i, :n], expected) <= TOL
            assert not out[:, i, n:].any()  # padded steps output zeros
    # Without lengths the padding counts (as in MATLAB's own padded mini-batches).
    unpadded = to_matlab(run(model, batch))
    assert rel_error(unpadded, out) > 1e-4


def test_lstm_state_inputs_and_outputs(tmp_path: Path) -> None:
    """HasStateInputs / HasStateOutputs (schema inferred): the states come from two
    feature inputs and the final states leave as extra outputs. MATLAB names these ports
    'lstm/hidden' and 'lstm/cell', as the Connections table does."""
    rng = np.random.default_rng(8)
    w, r, b = _weights(rng, 4)
    lstm = dw.with_fields(
        dw.lstm("lstm", w, r, b),
        HasStateInputs=dw.logical(True),
        HasStateOutputs=dw.logical(True),
    )
    layers = [
        dw.sequence_input("seq", C),
        dw.feature_input("h", H),
        dw.feature_input("c", H),
        lstm,
    ]
    connections = [("c", "lstm/cell"), ("seq", "lstm"), ("h", "lstm/hidden")]
    net = dw.dlnetwork(
        layers, connections, output_names=["lstm/out", "lstm/hidden", "lstm/cell"]
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(C, N, T))
    h0, c0 = rng.normal(size=(H, N)), rng.normal(size=(H, N))
    with torch.no_grad():
        out, hidden, cell = model.predict(
            to_torch(x),
            torch.tensor(h0.T, dtype=torch.float32),
            torch.tensor(c0.T, dtype=torch.float32),
        )
    ys, h_t, c_t = ref._lstm_direction(
        x, w, r, b, h0, c0, ref.tanh, ref.sigmoid, reverse=False
    )
    assert rel_error(to_matlab(out), ys) <= TOL
    assert rel_error(to_matlab(hidden), h_t) <= TOL
    assert rel_error(to_matlab(cell), c_t) <= TOL
    assert "lstm_h0" not in model.state_dict()  # the states come from the inputs


def test_untrained_lstm_converts_with_default_initialisation(tmp_path: Path) -> None:
    layer = dw.lstm("lstm", num_hidden_units=H)
    net = dw.layer_graph([dw.sequence_input("seq", C), layer], [("seq", "lstm")])
    _, model = convert_network(tmp_path, net)
    assert "UNTRAINED" in (tmp_path / "out" / "model.py").read_text()
    assert run(model, np.ones((C, 2, 3))).shape == (2, 3, H)


def test_unknown_activation_is_a_clear_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    w, r, b = _weights(rng, 4)
    layer = dw.with_fields(
        dw.lstm("my_lstm", w, r, b), StateActivationFunction=dw.char("gelu")
    )
    with pytest.raises(
        ConversionError, match=r"my_lstm.*StateActivationFunction 'gelu'"
    ):
        convert_network(tmp_path, _series(layer))


@pytest.mark.parametrize("kind", ["lstm", "bilstm-softsign", "gru"])
def test_feature_input_runs_as_one_time_step(tmp_path: Path, kind: str) -> None:
    """A feature input (MATLAB 'CB' data) into a recurrent layer is a sequence of one step
    [doc; no real sample]: the output is the final hidden state, (N, directions·H)."""
    rng = np.random.default_rng(10)
    directions = 2 if kind.startswith("bilstm") else 1
    w, r, b = _weights(rng, 3 if kind == "gru" else 4, directions)
    layer = {
        "lstm": lambda: dw.lstm("rnn", w, r, b),
        "bilstm-softsign": lambda: dw.bilstm(
            "rnn", w, r, b, state_activation="softsign"
        ),
        "gru": lambda: dw.gru("rnn", w, r, b),
    }[kind]()
    _, model = convert_network(
        tmp_path, dw.series_network([dw.feature_input("feat", C), layer])
    )
    x = rng.normal(size=(C, N))
    with torch.no_grad():
        out = model.predict(torch.tensor(x.T, dtype=torch.float32)).numpy().T
    reference = {
        "lstm": lambda s: ref.lstm(s, w, r, b, output_mode="last"),
        "bilstm-softsign": lambda s: ref.bilstm(
            s, w, r, b, output_mode="last", state_activation="softsign"
        ),
        "gru": lambda s: ref.gru(s, w, r, b, output_mode="last"),
    }[kind]
    assert rel_error(out, reference(x[:, :, None])) <= TOL
    assert (
        "lengths: torch.Tensor | None = None"
        not in (tmp_path / "out" / "model.py").read_text()
    )


def test_lstm_refuses_an_image_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    w, r, b = _weights(rng, 4)
    net = dw.series_network(
        [
            dw.image_input("img", (1, 1, C), normalization="none"),
            dw.lstm("lstm", w, r, b),
        ]
    )
    with pytest.raises(ConversionError, match=r"'lstm'.*expects a sequence"):
        convert_network(tmp_path, net)


@pytest.mark.parametrize("kind", ["bilstm softsign/hard-sigmoid", "gru before-mult"])
def test_explicit_cells_compile_with_torchscript(tmp_path: Path, kind: str) -> None:
    """The unrolled cells (activations nn.LSTM / nn.GRU lack) script and agree with
    eager mode, with and without lengths."""
    rng = np.random.default_rng(9)
    if kind.startswith("bilstm"):
        w, r, b = _weights(rng, 8)
        layer = dw.bilstm("rnn", w, r, b, **_modes("last", "softsign", "hard-sigmoid"))
    else:
        w, r, b = _weights(rng, 3)
        layer = dw.gru("rnn", w, r, b, reset_gate_mode="before-multiplication")
    model, x = _convert_series(tmp_path, layer, rng)
    assert type(model.rnn).__name__ == "Unrolled"
    scripted = torch.jit.script(model)
    lengths = torch.tensor([T] + [2] * (N - 1))
    with torch.no_grad():
        for args in [(to_torch(x),), (to_torch(x), lengths)]:
            torch.testing.assert_close(scripted(*args), model(*args))
