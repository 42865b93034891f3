"""Recurrent layers: LSTM, BiLSTM and GRU, exact to MATLAB including the initial states,
and their projected variants (lstmProjectedLayer, gruProjectedLayer).

MATLAB stacks the gates in PyTorch's own order (LSTM i, f, g, o; GRU r, z, h̃), so the
weights are copied without reordering. MATLAB has one bias per gate where PyTorch has two:
``bias_ih`` takes it and ``bias_hh`` is zero (except for the GRU mode that stores a
recurrent bias). Default activations become ``nn.LSTM`` / ``nn.GRU``; anything those cannot
express (softsign or relu states, hard-sigmoid gates, the GRU reset gate applied before
the multiplication) becomes a small explicit cell unrolled over time in the generated file.

Projected layers store each weight matrix as two factors: MATLAB replaces W·x by
W'·(Qᵀ·x), storing W' = W·Q and the projector Q (InputWeights 4H×P_in with InputProjector
In×P_in; RecurrentWeights 4H×P_out with OutputProjector H×P_out; 3H rows for a GRU). The
hidden state, the cell state and the output stay H wide, exactly as in lstmLayer/gruLayer;
nothing else changes. So the converter multiplies the factors out once
(InputWeights·InputProjectorᵀ, RecurrentWeights·OutputProjectorᵀ, in float64) and emits
the same ``nn.LSTM`` / ``nn.GRU`` as for the plain layers, with a comment saying so. Why
not keep the factors as parameters: they would need a hand-written cell unrolled in
Python (or parametrizations reaching into nn.LSTM's flat weights), losing cuDNN's fused
kernels and reading unlike what a PyTorch engineer writes; ``nn.LSTM(proj_size=...)`` is
a different model (it projects h itself). The cost: the weights file holds the full
matrices, and fine-tuning updates them without the low-rank constraint (the generated
comment says so; re-factor them, e.g. with ``torch.linalg.svd``, to compress again).
MATLAB's own TensorFlow exporter exports these layers the same way. No real file holds a
projected layer: their saved schema is inferred (version 1: LSTMLayer's / GRULayer's
fields plus InputProjectorSize, OutputProjectorSize and the two projectors), and any other
version is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import Node, TensorInfo
from codegen.layers.common import f32
from codegen.layers.record import LayerRecord
from codegen.layers.recurrent_fields import (
    CELL,
    HIDDEN,
    RESET_GATE_MODES,
    Settings,
    matrix,
    read_settings,
    read_state_inputs,
    recurrent_node,
)
from codegen.layers.registry import register


def _lstm_node(
    layer: LayerRecord,
    inputs: Sequence[TensorInfo],
    rnn: Settings,
    weights: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None],
    *,
    directions: int,
    note: str = "",
) -> Node:
    """An LSTM or BiLSTM node from its full weight matrices (W, R, b), ``directions`` row
    blocks of 4H each; ``note`` leads the comment (how projected weights were formed).
    """
    hidden = rnn.hidden
    explicit = not rnn.default_activations
    state_inputs = read_state_inputs(layer, inputs, 2)
    w, r, b = weights
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
    return recurrent_node(
        layer,
        inputs,
        rnn,
        "lstm_explicit" if explicit else "lstm",
        directions=directions,
        states=(HIDDEN, CELL),
        state_inputs=state_inputs,
        params=params,
        comment=f"{note}; {comment}" if note else comment,
    )


def _gru_node(
    layer: LayerRecord,
    inputs: Sequence[TensorInfo],
    rnn: Settings,
    w: np.ndarray | None,
    r: np.ndarray | None,
    *,
    note: str = "",
) -> Node:
    """A GRU node from its full weight matrices W (3H×In) and R (3H×H); the Bias and
    ResetGateMode are read here. ``note`` leads the comment."""
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
    state_inputs = read_state_inputs(layer, inputs, 1)

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
    return recurrent_node(
        layer,
        inputs,
        rnn,
        "gru_explicit" if explicit else "gru",
        directions=1,
        states=(HIDDEN,),
        state_inputs=state_inputs,
        params=params,
        comment=f"{note}; {comment}" if note else comment,
        reset_gate_mode=reset,
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
    rnn = read_settings(layer, inputs)
    rows = 4 * rnn.hidden * directions
    weights = (
        matrix(layer, "InputWeights", rows, rnn.in_size),
        matrix(layer, "RecurrentWeights", rows, rnn.hidden),
        matrix(layer, "Bias", rows, 1),
    )
    return _lstm_node(layer, inputs, rnn, weights, directions=directions)


@register(
    "nnet.cnn.layer.GRULayer",
    ops=("gru", "gru_explicit"),
    input_names=("in", "hidden"),
    versions=(1,),
)
def gru(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    rnn = read_settings(layer, inputs)
    w = matrix(layer, "InputWeights", 3 * rnn.hidden, rnn.in_size)
    r = matrix(layer, "RecurrentWeights", 3 * rnn.hidden, rnn.hidden)
    return _gru_node(layer, inputs, rnn, w, r)


# ---------------------------------------------------------------- projected layers

# (factor, projector, projector size) of the input and of the recurrent weights.
_INPUT_FACTORS = ("InputWeights", "InputProjector", "InputProjectorSize")
_RECURRENT_FACTORS = ("RecurrentWeights", "OutputProjector", "OutputProjectorSize")


def _multiplied_out(
    layer: LayerRecord, keys: tuple[str, str, str], rows: int, cols: int
) -> tuple[np.ndarray | None, int]:
    """The full rows×cols weight matrix factor·projectorᵀ of a projected layer (None when
    untrained) and the projector size. The factor is rows×P and the projector cols×P."""
    factor_key, projector_key, size_key = keys
    size = layer.integer(size_key, minimum=1)
    if size is None:
        raise layer.error(f"has no {size_key}.")
    factor = matrix(layer, factor_key, rows, size)
    projector = matrix(layer, projector_key, cols, size)
    if (factor is None) != (projector is None):
        stored, missing = (
            (projector_key, factor_key)
            if factor is None
            else (factor_key, projector_key)
        )
        raise layer.error(
            f"stores {stored} but no {missing}; a projected layer needs both factors."
        )
    if factor is None or projector is None:
        return None, size
    return factor @ projector.T, size


def _projected_weights(
    layer: LayerRecord, rnn: Settings, gates: int, function: str
) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Full input and recurrent weights of a projected layer, and the comment saying how
    they were formed (``function``: the MATLAB function that makes the layer)."""
    rows = gates * rnn.hidden
    w, in_size = _multiplied_out(layer, _INPUT_FACTORS, rows, rnn.in_size)
    r, out_size = _multiplied_out(layer, _RECURRENT_FACTORS, rows, rnn.hidden)
    note = (
        f"{function}: weight_ih = InputWeights @ InputProjector.T (InputProjectorSize "
        f"{in_size}) and weight_hh = RecurrentWeights @ OutputProjector.T "
        f"(OutputProjectorSize {out_size}), multiplied out (equal up to float rounding; "
        "fine-tuning updates the full matrices)"
    )
    return w, r, note


@register(
    "nnet.cnn.layer.LSTMProjectedLayer",
    ops=("lstm", "lstm_explicit"),
    input_names=("in", "hidden", "cell"),
    versions=(1,),
)
def lstm_projected(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    rnn = read_settings(layer, inputs)
    w, r, note = _projected_weights(layer, rnn, 4, "lstmProjectedLayer")
    b = matrix(layer, "Bias", 4 * rnn.hidden, 1)
    return _lstm_node(layer, inputs, rnn, (w, r, b), directions=1, note=note)


@register(
    "nnet.cnn.layer.GRUProjectedLayer",
    ops=("gru", "gru_explicit"),
    input_names=("in", "hidden"),
    versions=(1,),
)
def gru_projected(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    rnn = read_settings(layer, inputs)
    w, r, note = _projected_weights(layer, rnn, 3, "gruProjectedLayer")
    return _gru_node(layer, inputs, rnn, w, r, note=note)
