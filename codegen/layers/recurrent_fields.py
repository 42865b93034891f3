"""Reading the fields recurrent layers share: sizes, output mode, activations, states.

Not a converter module (the registry skips it): LSTM, BiLSTM, GRU and their projected
variants in ``recurrent.py`` read their settings, weight matrices and initial states
through these helpers, so every recurrent class reads and refuses a field alike, and
build their nodes with :func:`recurrent_node`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from codegen.ir import FEATURE, SEQUENCE, Node, TensorInfo
from codegen.layers.common import f32, layer_node
from codegen.layers.record import LayerRecord

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
class Settings:
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


def read_settings(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Settings:
    """The shared settings, checked in one order so every recurrent class fails alike."""
    hidden = layer.integer("NumHiddenUnits") or 0
    if hidden <= 0:
        raise layer.error("has no NumHiddenUnits.")
    in_size = input_size(layer, inputs)
    mode = output_mode(layer)
    state_act, gate_act = activations(layer)
    return Settings(hidden, in_size, mode, state_act, gate_act)


def output_mode(layer: LayerRecord) -> str:
    """'sequence' or 'last': saved as ReturnSequence (a logical) or as OutputMode (text)."""
    if layer.has("ReturnSequence"):
        return "sequence" if layer.flag("ReturnSequence") else "last"
    mode = (layer.word("OutputMode", "sequence") or "sequence").lower()
    if mode not in ("sequence", "last"):
        raise layer.error(
            f"uses OutputMode '{mode}'; only 'sequence' and 'last' exist."
        )
    return mode


def activations(layer: LayerRecord) -> tuple[str, str]:
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


def input_size(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> int:
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


def matrix(layer: LayerRecord, key: str, rows: int, cols: int) -> np.ndarray | None:
    value = layer.array(key)
    if value is None:
        return None
    if value.size != rows * cols:
        raise layer.error(f"stores {key} with {value.size} values, not {rows}×{cols}.")
    return np.asarray(value, dtype=np.float64).reshape((rows, cols), order="F")


def initial_state(
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


def read_state_inputs(
    layer: LayerRecord, inputs: Sequence[TensorInfo], count: int
) -> bool:
    """HasStateInputs: the states arrive as extra inputs (hidden, then cell) instead of buffers."""
    if not layer.flag("HasStateInputs"):
        return False
    if len(inputs) != 1 + count:
        raise layer.error(
            f"has HasStateInputs set but receives {len(inputs)} inputs instead of {1 + count}; connect its state inputs."
        )
    return True


def states_buffers(
    layer: LayerRecord, states: Sequence[State], directions: int, hidden: int
) -> tuple[dict[str, np.ndarray], str]:
    """Initial states as (directions, 1, H) buffers, repeated over the batch at run time."""
    buffers: dict[str, np.ndarray] = {}
    sources = []
    for _, name, current, initial in states:
        value, source = initial_state(layer, current, initial, directions * hidden)
        buffers[name] = f32(value.reshape(directions, 1, hidden))
        if source and np.any(value):
            sources.append(source)
    note = f"initial states from {', '.join(sources)}" if sources else ""
    return buffers, note


def recurrent_node(
    layer: LayerRecord,
    inputs: Sequence[TensorInfo],
    rnn: Settings,
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
        buffers, note = states_buffers(layer, states, directions, rnn.hidden)
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
