"""Recurrent layers: LSTM (real samples), BiLSTM, GRU and the projected LSTM and GRU
(schemas inferred).

They share weights, sizes, activations and initial states (:class:`_Recurrent`);
LSTM and BiLSTM differ only in class, direction count and bias initializer, so both come
from one builder factory. The projected layers add two projector learnables and their
sizes (:class:`_Projectors`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import (
    Layer,
    bias_learnable,
    builtin_layer,
    glorot_dense,
    initializer,
    weight_learnable,
)
from codegen.testing.dltwriter.values import (
    char,
    double,
    empty,
    logical,
    single,
    struct,
)


@dataclass(frozen=True)
class _Recurrent:
    """What LSTM, BiLSTM and GRU share: weights, sizes, activations and initial states."""

    input_weights: Any
    recurrent_weights: Any
    bias: Any
    num_hidden_units: int | None
    output_mode: str
    state_activation: str
    gate_activation: str

    def hidden_units(self, cls: str) -> int:
        if self.recurrent_weights is not None:
            return int(np.shape(self.recurrent_weights)[1])
        if self.num_hidden_units is None:
            raise ValueError(
                f"a {cls} without recurrent weights needs num_hidden_units"
            )
        return self.num_hidden_units

    def fields(
        self, name: str, hidden: int, bias_rows: int, bias_initializer: np.ndarray
    ) -> dict[str, Any]:
        trained = self.input_weights is not None
        stored_bias = self.bias
        if trained and stored_bias is None:
            stored_bias = np.zeros(bias_rows, dtype=np.float32)
        return {
            "Name": char(name),
            "InputSize": (
                double(np.shape(self.input_weights)[1]) if trained else empty()
            ),
            "NumHiddenUnits": double(hidden),
            "ReturnSequence": logical(self.output_mode == "sequence"),
            "StateActivationFunction": char(self.state_activation),
            "GateActivationFunction": char(self.gate_activation),
            "InputWeights": weight_learnable(self.input_weights, glorot_dense()),
            "RecurrentWeights": weight_learnable(
                self.recurrent_weights, initializer("Orthogonal")
            ),
            "Bias": bias_learnable(stored_bias, (bias_rows, 1), bias_initializer),
        }

    def state(self, value: Any, rows: int) -> np.ndarray:
        """A given state, else zeros; untrained layers store [] (inferred)."""
        if value is not None:
            return single(value, (rows, 1))
        return (
            empty()
            if self.input_weights is None
            else np.zeros((rows, 1), dtype=np.float32)
        )


def _remembered(value: np.ndarray) -> np.ndarray:
    return struct({"Value": value, "Remember": logical(True)})


def _lstm_builder(
    cls: str, directions: int, bias_kind: str, doc: str
) -> Callable[..., Layer]:
    """An LSTM-family builder: gates i f g o, ``directions`` stacked row blocks."""

    def build(
        name: str,
        input_weights: Any = None,
        recurrent_weights: Any = None,
        bias: Any = None,
        *,
        num_hidden_units: int | None = None,
        output_mode: str = "sequence",
        state_activation: str = "tanh",
        gate_activation: str = "sigmoid",
        hidden_state: Any = None,
        cell_state: Any = None,
    ) -> Layer:
        rnn = _Recurrent(
            input_weights,
            recurrent_weights,
            bias,
            num_hidden_units,
            output_mode,
            state_activation,
            gate_activation,
        )
        hidden = rnn.hidden_units(cls)
        rows = hidden * directions
        fields = rnn.fields(
            name, hidden, 4 * rows, initializer("UnitForgetGate", bias_kind)
        )
        hidden_value, cell_value = rnn.state(hidden_state, rows), rnn.state(
            cell_state, rows
        )
        fields |= {
            "CellState": _remembered(cell_value),
            "HiddenState": _remembered(hidden_value),
            "InitialCellState": cell_value,
            "InitialHiddenState": hidden_value,
        }
        return builtin_layer(cls, fields)

    build.__doc__ = doc
    return build


lstm = _lstm_builder(
    "LSTMLayer",
    1,
    "LSTM",
    """LSTMLayer v4. InputWeights 4H×In, RecurrentWeights 4H×H, Bias 4H×1 (gates i f g o).
    States default to zeros; ``output_mode='last'`` stores ReturnSequence false.""",
)
bilstm = _lstm_builder(
    "BiLSTMLayer",
    2,
    "BiLSTM",
    """BiLSTMLayer v3 — schema inferred, no real sample (LSTMLayer v4's fields, as
    MATLAB_FORMAT.md lists). InputWeights 8H×In, RecurrentWeights 8H×H, Bias 8H×1, states
    2H×1 (forward rows first).""",
)


def gru(
    name: str,
    input_weights: Any = None,
    recurrent_weights: Any = None,
    bias: Any = None,
    *,
    num_hidden_units: int | None = None,
    output_mode: str = "sequence",
    reset_gate_mode: str = "after-multiplication",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
    hidden_state: Any = None,
) -> Layer:
    """GRULayer — schema inferred, no real sample (LSTMLayer's pattern without the cell
    state, plus ResetGateMode). InputWeights 3H×In, RecurrentWeights 3H×H, Bias 3H×1
    (6H×1 for 'recurrent-bias-after-multiplication'), gates r z h̃."""
    rnn = _Recurrent(
        input_weights,
        recurrent_weights,
        bias,
        num_hidden_units,
        output_mode,
        state_activation,
        gate_activation,
    )
    hidden = rnn.hidden_units("GRULayer")
    bias_rows = (
        6 if reset_gate_mode == "recurrent-bias-after-multiplication" else 3
    ) * hidden
    fields = rnn.fields(name, hidden, bias_rows, initializer("Zeros"))
    state = rnn.state(hidden_state, hidden)
    fields |= {
        "ResetGateMode": char(reset_gate_mode),
        "HiddenState": _remembered(state),
        "InitialHiddenState": state,
    }
    return builtin_layer("GRULayer", fields)


# ---------------------------------------------------------------- projected layers


@dataclass(frozen=True)
class _Projectors:
    """The two projectors of a projected layer: InputProjector In×P_in, OutputProjector
    H×P_out, or the sizes alone (untrained)."""

    input_projector: Any
    output_projector: Any
    input_projector_size: int | None
    output_projector_size: int | None

    def hidden_units(self, cls: str, num_hidden_units: int | None) -> int:
        if self.output_projector is not None:
            return int(np.shape(self.output_projector)[0])
        if num_hidden_units is None:
            raise ValueError(f"a {cls} without projectors needs num_hidden_units")
        return num_hidden_units

    def fields(self, cls: str) -> dict[str, Any]:
        """Sizes, projector learnables and InputSize (the input projector's rows)."""
        sizes = []
        for projector, given, what in (
            (self.input_projector, self.input_projector_size, "input"),
            (self.output_projector, self.output_projector_size, "output"),
        ):
            size = given if projector is None else int(np.shape(projector)[1])
            if size is None:
                raise ValueError(
                    f"a {cls} without projectors needs {what}_projector_size"
                )
            sizes.append(size)
        trained = self.input_projector is not None
        return {
            "InputSize": (
                double(np.shape(self.input_projector)[0]) if trained else empty()
            ),
            "OutputProjectorSize": double(sizes[1]),
            "InputProjectorSize": double(sizes[0]),
            "InputProjector": weight_learnable(
                self.input_projector, initializer("Orthogonal")
            ),
            "OutputProjector": weight_learnable(
                self.output_projector, initializer("Orthogonal")
            ),
        }


def lstm_projected(
    name: str,
    input_weights: Any = None,
    recurrent_weights: Any = None,
    bias: Any = None,
    input_projector: Any = None,
    output_projector: Any = None,
    *,
    num_hidden_units: int | None = None,
    input_projector_size: int | None = None,
    output_projector_size: int | None = None,
    output_mode: str = "sequence",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
    hidden_state: Any = None,
    cell_state: Any = None,
) -> Layer:
    """LSTMProjectedLayer (lstmProjectedLayer, R2022b) — schema inferred, no real sample:
    LSTMLayer v4's fields plus OutputProjectorSize, InputProjectorSize and the projector
    learnables, named as the layer's documented properties. InputWeights 4H×P_in,
    RecurrentWeights 4H×P_out, Bias 4H×1, InputProjector In×P_in, OutputProjector H×P_out
    (MATLAB's W·x becomes InputWeights·InputProjector'·x); states H×1."""
    projectors = _Projectors(
        input_projector, output_projector, input_projector_size, output_projector_size
    )
    hidden = projectors.hidden_units("LSTMProjectedLayer", num_hidden_units)
    rnn = _Recurrent(
        input_weights,
        recurrent_weights,
        bias,
        hidden,
        output_mode,
        state_activation,
        gate_activation,
    )
    fields = rnn.fields(
        name, hidden, 4 * hidden, initializer("UnitForgetGate", "LSTM")
    ) | projectors.fields("LSTMProjectedLayer")
    hidden_value, cell_value = rnn.state(hidden_state, hidden), rnn.state(
        cell_state, hidden
    )
    fields |= {
        "CellState": _remembered(cell_value),
        "HiddenState": _remembered(hidden_value),
        "InitialCellState": cell_value,
        "InitialHiddenState": hidden_value,
    }
    return builtin_layer("LSTMProjectedLayer", fields)


def gru_projected(
    name: str,
    input_weights: Any = None,
    recurrent_weights: Any = None,
    bias: Any = None,
    input_projector: Any = None,
    output_projector: Any = None,
    *,
    num_hidden_units: int | None = None,
    input_projector_size: int | None = None,
    output_projector_size: int | None = None,
    output_mode: str = "sequence",
    reset_gate_mode: str = "after-multiplication",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
    hidden_state: Any = None,
) -> Layer:
    """GRUProjectedLayer (gruProjectedLayer, R2023b) — schema inferred, no real sample:
    GRULayer's fields plus the projector sizes and learnables, as
    :func:`lstm_projected`. InputWeights 3H×P_in, RecurrentWeights 3H×P_out, Bias 3H×1
    (6H×1 for 'recurrent-bias-after-multiplication'), InputProjector In×P_in,
    OutputProjector H×P_out, gates r z h̃."""
    projectors = _Projectors(
        input_projector, output_projector, input_projector_size, output_projector_size
    )
    hidden = projectors.hidden_units("GRUProjectedLayer", num_hidden_units)
    rnn = _Recurrent(
        input_weights,
        recurrent_weights,
        bias,
        hidden,
        output_mode,
        state_activation,
        gate_activation,
    )
    bias_rows = (
        6 if reset_gate_mode == "recurrent-bias-after-multiplication" else 3
    ) * hidden
    fields = rnn.fields(
        name, hidden, bias_rows, initializer("Zeros")
    ) | projectors.fields("GRUProjectedLayer")
    state = rnn.state(hidden_state, hidden)
    fields |= {
        "ResetGateMode": char(reset_gate_mode),
        "HiddenState": _remembered(state),
        "InitialHiddenState": state,
    }
    return builtin_layer("GRUProjectedLayer", fields)
