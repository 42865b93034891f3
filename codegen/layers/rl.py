"""Reinforcement Learning Toolbox layers (``rl.layer.*``), common at the end of actors.

They are ``nnet.layer.Layer`` subclasses: plain properties, which LayerRecord reads like
any other field.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import FEATURE, IMAGE, Node, TensorInfo
from codegen.layers.common import f32, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _operand(
    layer: LayerRecord, key: str, default: float, info: TensorInfo
) -> float | np.ndarray:
    """Scale or Bias as a float (one value) or as an array in PyTorch layout that
    broadcasts against the input exactly as MATLAB's implicit expansion of the stored
    array against one observation does (H×W×C, C×1 or C×1 per time step)."""
    value = layer.array(key)
    if value is None:
        return default
    array = np.asarray(value, dtype=np.float64)
    if array.size == 1:
        return float(array.ravel()[0])
    ndim = 3 if info.layout == IMAGE else 1  # MATLAB's dimensions of one observation
    shape = array.shape + (1,) * max(ndim - array.ndim, 0)
    if len(shape) > max(ndim, 2) or any(s != 1 for s in shape[ndim:]):
        raise layer.error(
            f"has a {'×'.join(map(str, array.shape))} {key}, which does not fit one "
            f"observation of its input ({info.describe()})."
        )
    shape = shape[:ndim]
    known: tuple[int | None, ...]
    if info.layout == IMAGE:
        # MATLAB H×W×C against the input's H×W×C; PyTorch (1, C, H, W).
        known = (info.shape[1], info.shape[2], info.shape[0])
        torch_array = array.reshape(shape, order="F").transpose(2, 0, 1)[None]
    else:
        # MATLAB C×1 against C×N (features) or C×N×T (sequences); PyTorch (1, C) / (1, 1, C).
        known = (info.shape[0],)
        torch_array = array.reshape((1,) * (1 if info.layout == FEATURE else 2) + shape)
    for have, want in zip(shape, known, strict=True):
        if have != 1 and want is not None and have != want:
            raise layer.error(
                f"has a {'×'.join(map(str, array.shape))} {key}, which does not broadcast "
                f"against its input ({info.describe()})."
            )
    return f32(torch_array)


@register(
    "rl.layer.ScalingLayer",
    ops=("scaling",),
    versions=(1,),
    properties=("Scale", "Bias"),
)
def scaling(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """scalingLayer: y = Scale.*x + Bias, each a scalar or an array MATLAB broadcasts."""
    info = inputs[0]
    scale = _operand(layer, "Scale", 1.0, info)
    bias = _operand(layer, "Bias", 0.0, info)
    buffers = {
        key: value
        for key, value in (("scale", scale), ("bias", bias))
        if isinstance(value, np.ndarray)
    }
    attrs = {
        "scale": scale if isinstance(scale, float) else None,
        "bias": bias if isinstance(bias, float) else None,
    }
    node = layer_node(layer, "scaling", info, attrs, buffers=buffers)
    if buffers:
        node.comment = (
            "scalingLayer: "
            + " and ".join("Scale" if k == "scale" else "Bias" for k in buffers)
            + " in PyTorch's layout, broadcast as MATLAB's implicit expansion does"
        )
    return node
