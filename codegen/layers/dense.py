"""Fully connected layers, with MATLAB's column-major flatten order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.arrays import f32_deferred
from codegen.ir import (
    FEATURE,
    IMAGE,
    IMAGE_SEQUENCE,
    SEQUENCE,
    VOLUME,
    Node,
    TensorInfo,
)
from codegen.layers.common import f32, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _size_from_weights(
    weights: np.ndarray, out: int, info: TensorInfo
) -> tuple[int, ...] | int | None:
    """The input size the stored weights imply, when propagation could not tell (after a
    stub for a layer with no code): (H, W, C) from 4-D image weights, else In of (Out, In).
    """
    if info.layout in (IMAGE, IMAGE_SEQUENCE) and weights.ndim >= 3:
        shape = tuple(weights.shape) + (1,) * (4 - weights.ndim)
        if len(shape) == 4 and shape[3] == out:
            return tuple(int(s) for s in shape[:3])
    if weights.ndim == 2 and weights.shape[0] == out:
        return int(weights.shape[1])
    return None


def _in_size(layer: LayerRecord, info: TensorInfo) -> tuple[int, ...] | int | None:
    """(H, W, C) for image inputs and each time step of image sequences, (H, W, D, C)
    for volumes, C otherwise; from propagation, else from InputSize."""
    if info.layout == VOLUME:
        c, d, h, w = info.shape
        if None not in (c, d, h, w):
            return (int(h), int(w), int(d), int(c))  # type: ignore[arg-type]
        stored = layer.ints("InputSize")
        return stored if stored and len(stored) == 4 else None
    if info.layout in (IMAGE, IMAGE_SEQUENCE):
        c, h, w = info.shape
        if None not in (c, h, w):
            return (int(h), int(w), int(c))  # type: ignore[arg-type]
        stored = layer.ints("InputSize")
        if stored and len(stored) == 3:
            return stored  # type: ignore[return-value]
        return None
    if info.channels is not None:
        return info.channels
    stored = layer.ints("InputSize")
    return stored[-1] if stored else None


def _flatten_comment(size: tuple[int, ...], reorder: str) -> str:
    """What a flatten before the layer takes apart, in PyTorch's order: MATLAB's (H, W, C)
    or (H, W, D, C) as C×H×W or C×D×H×W; nothing to say when there is no H or W."""
    if int(np.prod(size[:-1])) == 1:
        return reorder
    dims = "C×D×H×W" if len(size) == 4 else "C×H×W"
    order = (size[-1], *size[2:-1][::-1], size[0], size[1])
    flattened = f"flattens {dims} = {'×'.join(map(str, order))}"
    return f"{flattened}; {reorder}" if reorder else flattened


@register("nnet.cnn.layer.FullyConnectedLayer", ops=("linear",), versions=(2, 3))
def fully_connected(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    out_features = layer.ints("OutputSize")
    if not out_features:
        raise layer.error("has no OutputSize.")
    out = out_features[-1]
    size = _in_size(layer, info)
    weights = layer.array("Weights", lazy=True)
    from_weights = size is None and weights is not None
    if size is None and weights is not None:
        size = _size_from_weights(weights, out, info)
    if size is None:
        raise layer.error(
            "has an unknown input size; give the network's input layer an InputSize."
        )
    in_features = int(np.prod(size))
    bias = layer.shaped("Bias", (out,))
    params: dict[str, np.ndarray | None] = {"weight": None, "bias": None}
    comment = ""
    if weights is not None:
        if weights.size != in_features * out:
            raise layer.error(
                f"stores {weights.size} weights, not {in_features}×{out}."
            )
        # (Out, In) as stored in 2-D, else (…, In, Out) with trailing singletons dropped.
        if weights.ndim == 2 and weights.shape == (out, in_features):
            matrix = np.asarray(weights)
        else:
            matrix = weights.reshape((in_features, out), order="F").T
        if isinstance(size, tuple) and len(size) == 4:
            # MATLAB's input index is column-major over (H, W, D, C); torch.flatten of
            # (N, C, D, H, W) runs over (C, D, H, W) with w fastest: reorder the columns.
            h, w, d, c = size
            matrix = matrix.T.reshape((h, w, d, c, out), order="F").transpose(
                4, 3, 2, 0, 1
            )  # a view: the copy is made when the weights are written
            if h * w * d > 1:
                comment = "weights reordered from MATLAB's H, W, D, C"
        elif isinstance(size, tuple):
            # MATLAB's input index is column-major over (H, W, C): h + H·(w + W·c);
            # reorder the columns to torch.flatten's c·H·W + h·W + w.
            h, w, c = size
            matrix = matrix.T.reshape((h, w, c, out), order="F").transpose(
                3, 2, 0, 1
            )  # a view: the copy is made when the weights are written
            if h * w > 1:
                comment = "weights reordered from MATLAB's H, W, C"
        params["weight"] = f32_deferred(matrix, (out, in_features))
    if bias is not None:
        params["bias"] = f32(bias)
    if isinstance(size, tuple) and info.layout in (IMAGE, VOLUME, IMAGE_SEQUENCE):
        comment = _flatten_comment(size, comment)
    # MATLAB's fullyconnect sums over spatial and channel dimensions and keeps batch and
    # time: an image sequence (N, T, C, H, W) becomes a sequence (N, T, out).
    layout = SEQUENCE if info.layout in (SEQUENCE, IMAGE_SEQUENCE) else FEATURE
    attrs: dict[str, object] = {
        "in_features": in_features,
        "out_features": out,
        "flatten": info.layout in (IMAGE, VOLUME, IMAGE_SEQUENCE),
    }
    if info.layout == IMAGE_SEQUENCE:
        attrs["flatten_from"] = 2  # keep N and T
    if from_weights:
        comment = (
            f"input size unknown here (after a stub): {in_features} inputs taken from the "
            "stored weights" + (f"; {comment}" if comment else "")
        )
    return layer_node(
        layer,
        "linear",
        TensorInfo(layout, (out,)),
        attrs,
        params=params,
        comment=comment,
    )
