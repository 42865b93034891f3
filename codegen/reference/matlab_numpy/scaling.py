"""The Reinforcement Learning Toolbox's scalingLayer, in MATLAB layout."""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    is_empty,
)


def scaling(x: Array, scale: Any = 1.0, bias: Any = 0.0) -> Array:
    """scalingLayer (rl.layer.ScalingLayer): ``Y = Scale.*X + Bias``.

    MATLAB implicit expansion: the stored arrays line up with X's *leading* dimensions
    (a C×1 Scale against features C×N or sequences C×N×T; 1×1×C or H×W×C against images
    H×W×C×N), each dimension equal or 1.
    """
    x = np.asarray(x, dtype=np.float64)

    def expand(v: Any) -> Array:
        a = np.asarray(v, dtype=np.float64)
        if a.ndim > x.ndim:
            raise ValueError(f"a {a.shape} operand cannot expand against {x.shape}")
        return a.reshape(a.shape + (1,) * (x.ndim - a.ndim))

    return expand(scale) * x + expand(bias)


# ---------------------------------------------------------------- layers


def _scaling_layer(p: Props, xs: list[Array]) -> Array:
    scale = as_f64(p["Scale"]) if not is_empty(p.get("Scale")) else 1.0
    bias = as_f64(p["Bias"]) if not is_empty(p.get("Bias")) else 0.0
    return scaling(xs[0], scale, bias)


LAYERS: dict[str, LayerRule] = {"ScalingLayer": _scaling_layer}
