"""Projected recurrent layers on sequences (C,N,T): lstmProjectedLayer (R2022b) and
gruProjectedLayer (R2023b), written step by step with the stored factors.

From MATLAB's documentation of the two layers: a projected layer replaces each
multiplication W·x of the plain layer by W·Q·Qᵀ·x and stores W' = W·Q and the projector
Q instead of W. The input weights' projector is InputProjector (In×P_in, with
InputWeights W' 4H×P_in for an LSTM, 3H×P_in for a GRU), the recurrent weights' is
OutputProjector (H×P_out, with RecurrentWeights 4H×P_out or 3H×P_out). Everything else is
the plain layer's: the gates (LSTM i, f, g, o; GRU r, z, h̃), one bias (6H for a GRU with
'recurrent-bias-after-multiplication'), the activations, and hidden and cell states H
wide, so the output keeps the plain layer's size. Each step here projects first
(Qᵀ·x, Qᵀ·h) and then applies W'; the full product W'·Qᵀ is never formed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.activations import (
    GATE_ACTIVATIONS,
    STATE_ACTIVATIONS,
)
from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_bool,
    as_f64,
    as_str,
    is_empty,
    param,
)


def _factors(
    input_weights: Array,
    recurrent_weights: Array,
    input_projector: Array,
    output_projector: Array,
    gates: int,
) -> tuple[Array, Array, Array, Array, int]:
    """(W', R', Q_in, Q_out, H) in float64, shaped from the projectors: Q_in In×P_in,
    Q_out H×P_out, W' (gates·H)×P_in, R' (gates·H)×P_out (stored shapes may have lost
    trailing singletons)."""
    q_out = np.asarray(output_projector, dtype=np.float64)
    q_out = q_out.reshape(q_out.shape[0], -1)
    hid = q_out.shape[0]
    q_in = np.asarray(input_projector, dtype=np.float64)
    q_in = q_in.reshape(q_in.shape[0], -1)
    w = np.asarray(input_weights, dtype=np.float64).reshape(gates * hid, q_in.shape[1])
    r = np.asarray(recurrent_weights, dtype=np.float64).reshape(
        gates * hid, q_out.shape[1]
    )
    return w, r, q_in, q_out, hid


def _start(v: Any, n: int, batch: int) -> Array:
    """An initial state (H,1), (H,N) or empty → (H, N)."""
    if v is None or np.asarray(v).size == 0:
        return np.zeros((n, batch))
    a = np.asarray(v, dtype=np.float64).reshape(n, -1)
    return np.broadcast_to(a, (n, batch)).copy()


def lstm_projected_states(
    x: Array,
    input_weights: Array,
    recurrent_weights: Array,
    bias: Array,
    input_projector: Array,
    output_projector: Array,
    h0: Array | None = None,
    c0: Array | None = None,
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
) -> tuple[Array, Array, Array]:
    """lstmProjectedLayer's hidden state at every step (H,N,T) and its final hidden and
    cell states (H,N). At each step

        z = W'·(Q_inᵀ·x_t) + R'·(Q_outᵀ·h) + b
        i = σ(z_i), f = σ(z_f), g = act(z_g), o = σ(z_o); c = f⊙c + i⊙g; h = o⊙act(c)

    with σ the GateActivationFunction and act the StateActivationFunction.
    """
    x = np.asarray(x, dtype=np.float64)
    w, r, q_in, q_out, hid = _factors(
        input_weights, recurrent_weights, input_projector, output_projector, 4
    )
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    sa, ga = STATE_ACTIVATIONS[state_activation], GATE_ACTIVATIONS[gate_activation]
    _, n, t_len = x.shape
    h, c = _start(h0, hid, n), _start(c0, hid, n)
    ys = np.zeros((hid, n, t_len))
    for t in range(t_len):
        projected_x = q_in.T @ x[:, :, t]  # P_in × N
        projected_h = q_out.T @ h  # P_out × N
        z = w @ projected_x + r @ projected_h + b[:, None]
        i = ga(z[0:hid])
        f = ga(z[hid : 2 * hid])
        g = sa(z[2 * hid : 3 * hid])
        o = ga(z[3 * hid : 4 * hid])
        c = f * c + i * g
        h = o * sa(c)
        ys[:, :, t] = h
    return ys, h, c


def lstm_projected(
    x: Array,
    input_weights: Array,
    recurrent_weights: Array,
    bias: Array,
    input_projector: Array,
    output_projector: Array,
    h0: Array | None = None,
    c0: Array | None = None,
    output_mode: str = "sequence",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
) -> Array:
    """lstmProjectedLayer's output: (H,N,T) for 'sequence', (H,N) (h at t = T) for 'last'."""
    ys, h, _ = lstm_projected_states(
        x,
        input_weights,
        recurrent_weights,
        bias,
        input_projector,
        output_projector,
        h0,
        c0,
        state_activation,
        gate_activation,
    )
    return h if output_mode == "last" else ys


def gru_projected_states(
    x: Array,
    input_weights: Array,
    recurrent_weights: Array,
    bias: Array,
    input_projector: Array,
    output_projector: Array,
    h0: Array | None = None,
    reset_gate_mode: str = "after-multiplication",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
) -> tuple[Array, Array]:
    """gruProjectedLayer's hidden state at every step (H,N,T) and its final state (H,N).
    Rows r, z, h̃; with Wx = W'·(Q_inᵀ·x_t), Rh = R'·(Q_outᵀ·h) and b (b_R the recurrent
    bias of 'recurrent-bias-after-multiplication', else 0):

        r = σ(Wx_r + Rh_r + b_r + b_Rr),  z = σ(Wx_z + Rh_z + b_z + b_Rz)
        'after-multiplication':                h̃ = act(Wx_h + r ⊙ Rh_h + b_h)
        'before-multiplication':               h̃ = act(Wx_h + R'_h·(Q_outᵀ·(r ⊙ h)) + b_h)
        'recurrent-bias-after-multiplication': h̃ = act(Wx_h + r ⊙ (Rh_h + b_Rh) + b_h)
        h = (1 − z) ⊙ h̃ + z ⊙ h_prev
    """
    x = np.asarray(x, dtype=np.float64)
    w, r_w, q_in, q_out, hid = _factors(
        input_weights, recurrent_weights, input_projector, output_projector, 3
    )
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if reset_gate_mode == "recurrent-bias-after-multiplication":
        if b.size != 6 * hid:
            raise ValueError("recurrent-bias-after-multiplication needs a 6H bias")
        b_in, b_rec = b[: 3 * hid, None], b[3 * hid :, None]
    elif reset_gate_mode in ("after-multiplication", "before-multiplication"):
        b_in, b_rec = b[: 3 * hid, None], np.zeros((3 * hid, 1))
    else:
        raise ValueError(f"unknown ResetGateMode {reset_gate_mode!r}")
    sa, ga = STATE_ACTIVATIONS[state_activation], GATE_ACTIVATIONS[gate_activation]
    _, n, t_len = x.shape
    h = _start(h0, hid, n)
    ys = np.zeros((hid, n, t_len))
    gate, cand = slice(0, 2 * hid), slice(2 * hid, 3 * hid)
    for t in range(t_len):
        wx = w @ (q_in.T @ x[:, :, t])
        rh = r_w @ (q_out.T @ h)
        rz = ga(wx[gate] + rh[gate] + b_in[gate] + b_rec[gate])
        reset, update = rz[:hid], rz[hid:]
        if reset_gate_mode == "before-multiplication":
            recurrent = r_w[cand] @ (q_out.T @ (reset * h))
        else:
            recurrent = reset * (rh[cand] + b_rec[cand])
        candidate = sa(wx[cand] + recurrent + b_in[cand])
        h = (1.0 - update) * candidate + update * h
        ys[:, :, t] = h
    return ys, h


def gru_projected(
    x: Array,
    input_weights: Array,
    recurrent_weights: Array,
    bias: Array,
    input_projector: Array,
    output_projector: Array,
    h0: Array | None = None,
    output_mode: str = "sequence",
    reset_gate_mode: str = "after-multiplication",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
) -> Array:
    """gruProjectedLayer's output: (H,N,T) for 'sequence', (H,N) for 'last'."""
    ys, h = gru_projected_states(
        x,
        input_weights,
        recurrent_weights,
        bias,
        input_projector,
        output_projector,
        h0,
        reset_gate_mode,
        state_activation,
        gate_activation,
    )
    return h if output_mode == "last" else ys


# ---------------------------------------------------------------- layers


def _learnables(p: Props) -> tuple[Array, ...]:
    return tuple(
        as_f64(p[k])
        for k in (
            "InputWeights",
            "RecurrentWeights",
            "Bias",
            "InputProjector",
            "OutputProjector",
        )
    )


def _output_mode(p: Props) -> str:
    if "ReturnSequence" in p and not is_empty(p["ReturnSequence"]):
        return "sequence" if as_bool(p["ReturnSequence"]) else "last"
    return (as_str(p["OutputMode"]) if "OutputMode" in p else "") or "sequence"


def _activations(p: Props) -> tuple[str, str]:
    state = as_str(p.get("StateActivationFunction", "tanh")) or "tanh"
    gate = as_str(p.get("GateActivationFunction", "sigmoid")) or "sigmoid"
    return state, gate


def _lstm_projected_layer(p: Props, xs: list[Array]) -> Array:
    hidden = param(p, "HiddenState", "InitialHiddenState")
    cell = param(p, "CellState", "InitialCellState")
    return lstm_projected(
        xs[0], *_learnables(p), hidden, cell, _output_mode(p), *_activations(p)
    )


def _gru_projected_layer(p: Props, xs: list[Array]) -> Array:
    hidden = param(p, "HiddenState", "InitialHiddenState")
    reset = (
        as_str(p.get("ResetGateMode", "after-multiplication")) or "after-multiplication"
    )
    return gru_projected(
        xs[0], *_learnables(p), hidden, _output_mode(p), reset, *_activations(p)
    )


LAYERS: dict[str, LayerRule] = {
    "LSTMProjectedLayer": _lstm_projected_layer,
    "GRUProjectedLayer": _gru_projected_layer,
}
