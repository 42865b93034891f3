"""Recurrent layers: LSTM, BiLSTM and GRU, exact to MATLAB including the initial states.

MATLAB stacks the gates in PyTorch's own order (LSTM i, f, g, o; GRU r, z, h̃), so the
weights are copied without reordering. MATLAB has one bias per gate where PyTorch has two:
``bias_ih`` takes it and ``bias_hh`` is zero (except for the GRU mode that stores a
recurrent bias). Default activations become ``nn.LSTM`` / ``nn.GRU``; anything those cannot
express (softsign or relu states, hard-sigmoid gates, the GRU reset gate applied before
the multiplication) becomes a small explicit cell unrolled over time in the generated file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from codegen.ir import FEATURE, SEQUENCE, Node, TensorInfo
from codegen.layers.common import f32, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register

STATE_ACTIVATIONS = ("tanh", "softsign", "relu")
GATE_ACTIVATIONS = ("sigmoid", "hard-sigmoid")
RESET_GATE_MODES = (
    "after-multiplication",
    "before-multiplication",
    "recurrent-bias-after-multiplication",
)

# A recurrent state: (output port, buffer name, current-state field, initial-state field).
State = tuple[str, str, str, str]
HIDDEN: State = ("hidden", "h0", "HiddenState", "InitialHiddenState")
CELL: State = ("cell", "c0", "CellState", "InitialCellState")


@dataclass(frozen=True)
class _Settings:
    """What LSTM, BiLSTM and GRU layers store alike, read and checked once."""

    hidden: int
    in_size: int
    mode: str  # 'sequence' or 'last'
    state_act: str
    gate_act: str

    @property
    def default_activations(self) -> bool:
        """tanh states and sigmoid gates: what nn.LSTM and nn.GRU compute."""
        return (self.state_act, self.gate_act) == ("tanh", "sigmoid")


def _settings(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> _Settings:
    """The shared settings, checked in one order so every recurrent class fails alike."""
    hidden = layer.integer("NumHiddenUnits") or 0
    if hidden <= 0:
        raise layer.error("has no NumHiddenUnits.")
    in_size = _input_size(layer, inputs)
    mode = _output_mode(layer)
    state_act, gate_act = _activations(layer)
    return _Settings(hidden, in_size, mode, state_act, gate_act)


def _output_mode(layer: LayerRecord) -> str:
    """'sequence' or 'last': saved as ReturnSequence (a logical) or as OutputMode (text)."""
    if layer.has("ReturnSequence"):
        return "sequence" if layer.flag("ReturnSequence") else "last"
    mode = (layer.word("OutputMode", "sequence") or "sequence").lower()
    if mode not in ("sequence", "last"):
        raise layer.error(
            f"uses OutputMode '{mode}'; only 'sequence' and 'last' exist."
        )
    return mode


def _activations(layer: LayerRecord) -> tuple[str, str]:
    state = (layer.word("StateActivationFunction", "tanh") or "tanh").lower()
    gate = (layer.word("GateActivationFunction", "sigmoid") or "sigmoid").lower()
    if state not in STATE_ACTIVATIONS:
        raise layer.error(
            f"uses StateActivationFunction '{state}'; mat2torch supports {', '.join(STATE_ACTIVATIONS)}."
        )
    if gate not in GATE_ACTIVATIONS:
        raise layer.error(
            f"uses GateActivationFunction '{gate}'; mat2torch supports {', '.join(GATE_ACTIVATIONS)}."
        )
    return state, gate


def _input_size(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> int:
    """Channels of a sequence input, or of a feature input, which MATLAB runs as one time step."""
    if not inputs or inputs[0].layout not in (SEQUENCE, FEATURE):
        got = inputs[0].describe() if inputs else "nothing"
        raise layer.error(
            f"expects a sequence (C×T) input but receives {got}; feed it a sequence input "
            "(for sequences of images, a flattenLayer first)."
        )
    size = inputs[0].channels
    stored = layer.ints("InputSize")
    if size is None and stored:
        size = stored[-1]
    if size is None:
        raise layer.error(
            "has an unknown input size; give the network's sequence input layer an InputSize."
        )
    if stored and stored[-1] != size:
        raise layer.error(f"expects {stored[-1]} input channels but receives {size}.")
    return int(size)


def _matrix(layer: LayerRecord, key: str, rows: int, cols: int) -> np.ndarray | None:
    value = layer.array(key)
    if value is None:
        return None
    if value.size != rows * cols:
        raise layer.error(f"stores {key} with {value.size} values, not {rows}×{cols}.")
    return np.asarray(value, dtype=np.float64).reshape((rows, cols), order="F")


def _initial_state(
    layer: LayerRecord, current: str, initial: str, size: int
) -> tuple[np.ndarray, str]:
    """The state a MATLAB predict starts from: the layer's current state (HiddenState /
    CellState) when stored, else the Initial* value, else zeros. Which of the two MATLAB
    uses when they differ is unverified (every corpus file stores equal zeros)."""
    for key in (current, initial):
        value = layer.array(key)
        if value is not None:
            if value.size != size:
                raise layer.error(f"stores {key} with {value.size} values, not {size}.")
            return np.asarray(value, dtype=np.float64).reshape(size, order="F"), key
    return np.zeros(size), ""


def _state_inputs(layer: LayerRecord, inputs: Sequence[TensorInfo], count: int) -> bool:
    """HasStateInputs: the states arrive as extra inputs (hidden, then cell) instead of buffers."""
    if not layer.flag("HasStateInputs"):
        return False
    if len(inputs) != 1 + count:
        raise layer.error(
            f"has HasStateInputs set but receives {len(inputs)} inputs instead of {1 + count}; connect its state inputs."
        )
    return True


def _states_buffers(
    layer: LayerRecord, states: Sequence[State], directions: int, hidden: int
) -> tuple[dict[str, np.ndarray], str]:
    """Initial states as (directions, 1, H) buffers, repeated over the batch at run time."""
    buffers: dict[str, np.ndarray] = {}
    sources = []
    for _, name, current, initial in states:
        value, source = _initial_state(layer, current, initial, directions * hidden)
        buffers[name] = f32(value.reshape(directions, 1, hidden))
        if source and np.any(value):
            sources.append(source)
    note = f"initial states from {', '.join(sources)}" if sources else ""
    return buffers, note


def _recurrent_node(
    layer: LayerRecord,
    inputs: Sequence[TensorInfo],
    rnn: _Settings,
    op: str,
    *,
    directions: int,
    states: Sequence[State],
    state_inputs: bool,
    params: dict[str, np.ndarray | None],
    comment: str,
    **extra: object,
) -> Node:
    """The node LSTM and GRU layers share: outputs, states, and the attrs their templates read.

    States come from buffers unless they are inputs (HasStateInputs). HasStateOutputs makes
    MATLAB output 'out' then the final states, each (N, directions·H). ``extra`` attrs
    follow the shared ones.
    """
    buffers: dict[str, np.ndarray] = {}
    if not state_inputs:
        buffers, note = _states_buffers(layer, states, directions, rnn.hidden)
        if note:
            comment += f"; {note}"
    size = directions * rnn.hidden
    one_step = inputs[0].layout == FEATURE
    out = TensorInfo(
        SEQUENCE if rnn.mode == "sequence" and not one_step else FEATURE, (size,)
    )
    state_outputs = layer.flag("HasStateOutputs")
    attrs: dict[str, object] = {
        "input_size": rnn.in_size,
        "hidden_size": rnn.hidden,
        "bidirectional": directions == 2,
        "directions": directions,
        "output_mode": rnn.mode,
        # A feature input (N, C) is one time step; its output is the final state (N, D·H).
        "one_step": one_step,
        "take_last": rnn.mode == "last" or one_step,
        "state_activation": rnn.state_act,
        "gate_activation": rnn.gate_act,
        **extra,
        "state_inputs": state_inputs,
        "state_outputs": state_outputs,
        "uses_lengths": not one_step,
    }
    if state_outputs:
        attrs["output_ports"] = ("out", *(state[0] for state in states))
        attrs["output_infos"] = [out] + [TensorInfo(FEATURE, (size,)) for _ in states]
    return layer_node(
        layer, op, out, attrs, params=params, buffers=buffers, comment=comment
    )


# input_names: MATLAB's input ports in order (Connections may name them: 'lstm/hidden').
@register(
    "nnet.cnn.layer.LSTMLayer",
    "nnet.cnn.layer.BiLSTMLayer",
    ops=("lstm", "lstm_explicit"),
    input_names=("in", "hidden", "cell"),
    versions={"nnet.cnn.layer.LSTMLayer": (4,), "nnet.cnn.layer.BiLSTMLayer": (3,)},
)
def lstm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    directions = 2 if layer.short_class == "BiLSTMLayer" else 1
    rnn = _settings(layer, inputs)
    hidden = rnn.hidden
    explicit = not rnn.default_activations
    state_inputs = _state_inputs(layer, inputs, 2)

    w = _matrix(layer, "InputWeights", 4 * hidden * directions, rnn.in_size)
    r = _matrix(layer, "RecurrentWeights", 4 * hidden * directions, hidden)
    b = _matrix(layer, "Bias", 4 * hidden * directions, 1)
    params: dict[str, np.ndarray | None] = {}
    for d in range(directions):
        rows = slice(4 * hidden * d, 4 * hidden * (d + 1))
        if explicit:
            prefix = f"cells.{d}."
            params[prefix + "weight_ih"] = None if w is None else f32(w[rows])
            params[prefix + "weight_hh"] = None if r is None else f32(r[rows])
            params[prefix + "bias"] = None if b is None else f32(b[rows, 0])
        else:
            # nn.LSTM inside the generated LSTMLayer, under ``rnn``.
            suffix = "_l0_reverse" if d else "_l0"
            params["rnn.weight_ih" + suffix] = None if w is None else f32(w[rows])
            params["rnn.weight_hh" + suffix] = None if r is None else f32(r[rows])
            params["rnn.bias_ih" + suffix] = None if b is None else f32(b[rows, 0])
            params["rnn.bias_hh" + suffix] = (
                None if b is None else np.zeros(4 * hidden, dtype=np.float32)
            )

    comment = "gate rows i, f, g, o as in PyTorch; MATLAB has one bias, so bias_hh = 0"
    if explicit:
        comment = (
            f"StateActivationFunction '{rnn.state_act}', GateActivationFunction '{rnn.gate_act}': "
            "explicit cells (nn.LSTM: tanh/sigmoid only)"
        )
    return _recurrent_node(
        layer,
        inputs,
        rnn,
        "lstm_explicit" if explicit else "lstm",
        directions=directions,
        states=(HIDDEN, CELL),
        state_inputs=state_inputs,
        params=params,
        comment=comment,
    )


@register(
    "nnet.cnn.layer.GRULayer",
    ops=("gru", "gru_explicit"),
    input_names=("in", "hidden"),
    versions=(1,),
)
def gru(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    rnn = _settings(layer, inputs)
    hidden = rnn.hidden
    # Not every release saves ResetGateMode; 'after-multiplication' is MATLAB's documented default.
    reset = (
        layer.text("ResetGateMode", "after-multiplication") or "after-multiplication"
    ).lower()
    if reset not in RESET_GATE_MODES:
        raise layer.error(
            f"uses ResetGateMode '{reset}'; mat2torch supports {', '.join(RESET_GATE_MODES)}."
        )
    explicit = not rnn.default_activations or reset == "before-multiplication"
    state_inputs = _state_inputs(layer, inputs, 1)

    w = _matrix(layer, "InputWeights", 3 * hidden, rnn.in_size)
    r = _matrix(layer, "RecurrentWeights", 3 * hidden, hidden)
    bias = layer.array("Bias")
    b_in: np.ndarray | None = None
    b_rec: np.ndarray | None = None
    if bias is not None:
        flat = np.asarray(bias, dtype=np.float64).reshape(-1, order="F")
        want = (
            6 * hidden if reset == "recurrent-bias-after-multiplication" else 3 * hidden
        )
        if flat.size != want:
            raise layer.error(
                f"stores a Bias of {flat.size} values, not {want} as ResetGateMode '{reset}' needs."
            )
        b_in = flat[: 3 * hidden]
        b_rec = flat[3 * hidden :] if flat.size == 6 * hidden else np.zeros(3 * hidden)
    # nn.GRU inside the generated GRULayer sits under ``rnn``.
    prefix, suffix = ("cells.0.", "") if explicit else ("rnn.", "_l0")
    params: dict[str, np.ndarray | None] = {
        f"{prefix}weight_ih{suffix}": None if w is None else f32(w),
        f"{prefix}weight_hh{suffix}": None if r is None else f32(r),
        f"{prefix}bias_ih{suffix}": None if b_in is None else f32(b_in),
        f"{prefix}bias_hh{suffix}": None if b_rec is None else f32(b_rec),
    }
    if reset == "recurrent-bias-after-multiplication":
        comment = "gate rows r, z, h̃ as in PyTorch; Bias holds 3H input then 3H recurrent biases"
    else:
        comment = (
            "gate rows r, z, h̃ as in PyTorch; MATLAB has one bias, so bias_hh = 0"
        )
    if explicit:
        reasons = []
        if reset == "before-multiplication":
            reasons.append("ResetGateMode 'before-multiplication' (R·(r⊙h))")
        if not rnn.default_activations:
            reasons.append(
                f"StateActivationFunction '{rnn.state_act}', GateActivationFunction '{rnn.gate_act}'"
            )
        comment = "; ".join(reasons) + ": an explicit cell (gate rows r, z, h̃)"
    return _recurrent_node(
        layer,
        inputs,
        rnn,
        "gru_explicit" if explicit else "gru",
        directions=1,
        states=(HIDDEN,),
        state_inputs=state_inputs,
        params=params,
        comment=comment,
        reset_gate_mode=reset,
    )
