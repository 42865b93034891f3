"""Element-wise activations, dropout and softmax, and the layers that combine inputs
(addition, multiplication, concatenations).

* preluLayer: ``x`` where x > 0, ``Alpha.*x`` elsewhere, Alpha expanding implicitly
  against the input (its dimensions line up with the input's leading ones). [doc]
* softplusLayer: ``log(1 + exp(x))``, evaluated here without overflow. [doc]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erf

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    as_int,
    as_num,
    as_str,
    channel_axis,
)


def relu(x: Array) -> Array:
    """max(x, 0)."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def leaky_relu(x: Array, scale: float = 0.01) -> Array:
    """leakyReluLayer: x for x ≥ 0, Scale·x otherwise (SEM §Activations)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, x, float(scale) * x)


def clipped_relu(x: Array, ceiling: float) -> Array:
    """clippedReluLayer: min(max(x, 0), Ceiling)."""
    return np.clip(np.asarray(x, dtype=np.float64), 0.0, float(ceiling))


def elu(x: Array, alpha: float = 1.0) -> Array:
    """eluLayer: x for x ≥ 0, α(exp(x) − 1) otherwise."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, x, float(alpha) * np.expm1(np.minimum(x, 0.0)))


def tanh(x: Array) -> Array:
    """tanhLayer."""
    return np.tanh(np.asarray(x, dtype=np.float64))


def sigmoid(x: Array) -> Array:
    """σ(x) = 1/(1 + exp(−x)) (numerically stable form)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def hard_sigmoid(x: Array) -> Array:
    """MATLAB recurrent 'hard-sigmoid' = max(0, min(1, 0.2x + 0.5)) (SEM §Recurrent).

    Not PyTorch's Hardsigmoid (x/6 + 1/2).
    """
    return np.clip(0.2 * np.asarray(x, dtype=np.float64) + 0.5, 0.0, 1.0)


def softsign(x: Array) -> Array:
    """x / (1 + |x|)."""
    x = np.asarray(x, dtype=np.float64)
    return x / (1.0 + np.abs(x))


def swish(x: Array) -> Array:
    """swishLayer: x·σ(x)."""
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(x)


def gelu(x: Array, approximation: str = "none") -> Array:
    """geluLayer (SEM §Activations).

    'none': x/2·(1 + erf(x/√2)); 'tanh': x/2·(1 + tanh(√(2/π)(x + 0.044715x³))).
    """
    x = np.asarray(x, dtype=np.float64)
    if approximation == "tanh":
        return (
            0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
        )
    if approximation == "none":
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    raise ValueError(f"unknown GELU approximation {approximation!r}")


def softmax(x: Array) -> Array:
    """softmaxLayer: over the channel dimension only (SEM §Activations)."""
    x = np.asarray(x, dtype=np.float64)
    ax = channel_axis(x)
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    return e / e.sum(axis=ax, keepdims=True)


def prelu(x: Array, alpha: Any) -> Array:
    """``x`` where x > 0, else ``Alpha.*x`` with MATLAB implicit expansion of Alpha."""
    x = np.asarray(x, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim > x.ndim:
        raise ValueError(f"Alpha {a.shape} cannot expand against {x.shape}")
    a = a.reshape(a.shape + (1,) * (x.ndim - a.ndim))
    return np.where(x > 0, x, a * x)


def softplus(x: Array) -> Array:
    """log(1 + exp(x)), as logaddexp(0, x) so that no exp overflows."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def dropout(x: Array, probability: float = 0.5) -> Array:
    """dropoutLayer: identity at inference."""
    return np.asarray(x, dtype=np.float64)


# The activations recurrent layers accept, by their MATLAB names (SEM §Recurrent).
STATE_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": tanh,
    "softsign": softsign,
    "relu": relu,
}
GATE_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": sigmoid,
    "hard-sigmoid": hard_sigmoid,
}


# ---------------------------------------------------------------- combination layers


def _fold(combine: Callable[[Array, Array], Array], xs: tuple[Array, ...]) -> Array:
    """Combine the inputs left to right in float64 (in1, in2, ...)."""
    out = np.asarray(xs[0], dtype=np.float64)
    for x in xs[1:]:
        out = combine(out, np.asarray(x, dtype=np.float64))
    return out


def addition(*xs: Array) -> Array:
    """additionLayer: element-wise sum of all inputs."""
    return _fold(np.add, xs)


def multiplication(*xs: Array) -> Array:
    """multiplicationLayer: element-wise product of all inputs."""
    return _fold(np.multiply, xs)


def depth_concatenation(*xs: Array) -> Array:
    """depthConcatenationLayer: concatenate along the channel dimension, inputs in port
    order in1, in2, ..."""
    arrs = [np.asarray(x, dtype=np.float64) for x in xs]
    return np.concatenate(arrs, axis=channel_axis(arrs[0]))


def concatenation(dim: int, *xs: Array) -> Array:
    """concatenationLayer(dim, ...): concatenate along MATLAB dimension ``dim`` (1-based)
    of the MATLAB-layout arrays."""
    arrs = [np.asarray(x, dtype=np.float64) for x in xs]
    return np.concatenate(arrs, axis=int(dim) - 1)


def _gelu_layer(p: Props, xs: list[Array]) -> Array:
    return gelu(xs[0], as_str(p.get("Approximation", "none")) or "none")


LAYERS: dict[str, LayerRule] = {
    "ReLULayer": lambda p, xs: relu(xs[0]),
    "LeakyReLULayer": lambda p, xs: leaky_relu(xs[0], as_num(p.get("Scale", 0.01))),
    "ClippedReLULayer": lambda p, xs: clipped_relu(xs[0], as_num(p["Ceiling"])),
    "ELULayer": lambda p, xs: elu(xs[0], as_num(p.get("Alpha", 1.0))),
    "TanhLayer": lambda p, xs: tanh(xs[0]),
    "SigmoidLayer": lambda p, xs: sigmoid(xs[0]),
    "SwishLayer": lambda p, xs: swish(xs[0]),
    "GELULayer": _gelu_layer,
    "PReLULayer": lambda p, xs: prelu(xs[0], as_f64(p["Alpha"])),
    # rl.layer.SoftplusLayer and nnet.cnn.layer.SoftplusLayer alike.
    "SoftplusLayer": lambda p, xs: softplus(xs[0]),
    "SoftmaxLayer": lambda p, xs: softmax(xs[0]),
    "DropoutLayer": lambda p, xs: dropout(xs[0]),
    "AdditionLayer": lambda p, xs: addition(*xs),
    "MultiplicationLayer": lambda p, xs: multiplication(*xs),
    "DepthConcatenationLayer": lambda p, xs: depth_concatenation(*xs),
    "ConcatenationLayer": lambda p, xs: concatenation(as_int(p["Dim"]), *xs),
}
