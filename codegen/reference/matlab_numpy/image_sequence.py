"""Sequences of 2-D images on MATLAB's 5-D arrays (H, W, C, N, T): sequenceInputLayer with
InputSize [h w c], sequenceFoldingLayer / sequenceUnfoldingLayer, and the flatten and
fully connected layers that turn image sequences into vector sequences (C, N, T).

Written from MATLAB's documentation; no MATLAB-produced oracle covers these layers.

* Folding "converts a batch of image sequences to a batch of images [so that] convolution
  operations [act] on time steps of image sequences independently" [doc]: between a
  folding and its unfolding layer, every layer is applied to each time step's images
  (H, W, C, N) on their own (:func:`per_time_step`). :func:`run_network` computes folded
  networks that way, never through the reshape; :func:`fold` / :func:`unfold` (the rules
  registered for the two classes) are MATLAB's reshapes H×W×C×(N·T) and back, for whoever
  runs layers one by one.
* Input normalization is an image input's, at every time step: statistics H×W×C, 1×1×C
  or scalar [doc: sequenceInputLayer Mean "h-by-w-by-c array or 1-by-1-by-c"].
* flattenLayer: SSCBT → CBT [doc format table], each time step flattened column-major
  over (H, W, C), index h + H·(w + W·c), as an image is (SEM §Fully connected).
* fullyConnectedLayer: fullyconnect sums over the spatial and channel dimensions and
  keeps batch and time [doc], so each time step is an image's fully connected layer.

A 5-D array alone cannot say whether it is a volume (H, W, D, C, N) or an image sequence;
the package's flatten and fully connected rules take 5-D arrays for volumes, so
:func:`run_network` tracks which values are image sequences itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy import dense
from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    classname,
    is_output_layer,
    layer_name,
    layer_props,
    param,
)

Handler = Callable[..., Array]


def per_time_step(fn: Callable[[Array], Array], x: Array) -> Array:
    """``fn`` applied to the images (H, W, C, N) of every time step of (H, W, C, N, T),
    results stacked along a new last (time) axis."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 5:
        raise ValueError(f"an image sequence is (H, W, C, N, T), not {x.shape}")
    return np.stack([fn(x[..., t]) for t in range(x.shape[4])], axis=-1)


def fold(x: Array) -> tuple[Array, int]:
    """sequenceFoldingLayer as MATLAB's reshape: (H, W, C, N, T) → (H, W, C, N·T) with
    observation n + N·t (column-major), and the 'miniBatchSize' output N."""
    x = np.asarray(x, dtype=np.float64)
    h, w, c, n, t = x.shape
    return x.reshape((h, w, c, n * t), order="F"), n


def unfold(x: Array, mini_batch_size: int) -> Array:
    """sequenceUnfoldingLayer: (H, W, C, N·T) → (H, W, C, N, T), the inverse of :func:`fold`."""
    x = np.asarray(x, dtype=np.float64)
    n = int(mini_batch_size)
    if x.shape[3] % n:
        raise ValueError(f"{x.shape[3]} folded images do not split into {n} sequences")
    return x.reshape((*x.shape[:3], n, x.shape[3] // n), order="F")


def flatten(x: Array) -> Array:
    """flattenLayer on (H, W, C, N, T): (H·W·C, N, T), column-major within each time step."""
    x = np.asarray(x, dtype=np.float64)
    h, w, c, n, t = x.shape
    return x.reshape((h * w * c, n, t), order="F")


def fully_connected(
    x: Array, weights: Array, bias: Array | None, output_size: int
) -> Array:
    """fullyConnectedLayer on (H, W, C, N, T): an image's fully connected layer
    (:func:`dense.fully_connected`, weights Out×(H·W·C) or H×W×C×Out) at each time
    step → (Out, N, T)."""

    def step(images: Array) -> Array:
        y = dense.fully_connected(images, weights, bias, output_size)
        return y.reshape(y.shape[2], y.shape[3])  # MATLAB's 1×1×Out×N → Out×N

    return per_time_step(step, x)


def input_normalization(p: Props, x: Array) -> Array:
    """sequenceInputLayer's normalization of (H, W, C, N, T): an image input's at every
    time step (statistics H×W×C, 1×1×C or scalar, as stored)."""
    return per_time_step(lambda images: dense._input_norm(p, images), x)


# ---------------------------------------------------------------- layers


def _sequence_input_layer(p: Props, xs: list[Array]) -> Array:
    if xs[0].ndim == 5:
        return input_normalization(p, xs[0])
    return dense.LAYERS["SequenceInputLayer"](p, xs)


LAYERS: dict[str, LayerRule] = {
    "SequenceInputLayer": _sequence_input_layer,
    "SequenceFoldingLayer": lambda p, xs: fold(xs[0])[0],
    # inputs: the folded images, then the folding layer's miniBatchSize
    "SequenceUnfoldingLayer": lambda p, xs: unfold(
        xs[0], round(float(np.asarray(xs[1]).flat[0]))
    ),
}


# ---------------------------------------------------------------- networks


@dataclass
class _Value:
    """A layer output and what it is: an image sequence (H, W, C, N, T), the same array
    folded (layers act per time step), a folding layer's miniBatchSize, or anything else.
    """

    array: Any
    kind: str = "plain"  # "image_sequence" | "folded" | "batch_size" | "plain"


def _port(endpoint: str) -> tuple[str, str]:
    name, _, port = endpoint.partition("/")
    return name, port


def _input_index(port: str) -> int:
    """Destination port → input index: '' / 'in' / 'in1' → 0, 'inK' → K−1,
    'miniBatchSize' (the unfolding layer's second input) → 1."""
    if port in ("", "in"):
        return 0
    if port == "miniBatchSize":
        return 1
    if port.startswith("in") and port[2:].isdigit():
        return int(port[2:]) - 1
    raise ValueError(f"unknown input port {port!r}")


def _apply(layer: Any, ins: list[_Value], custom: Mapping[str, Handler] | None) -> Any:
    """One layer on tagged inputs: returns a _Value, or {port: _Value} for folding."""
    from codegen.reference.matlab_numpy.networks import run_layer

    p = layer_props(layer)
    short = classname(layer).split(".")[-1]
    if is_output_layer(layer):
        return ins[0]
    kinds = {v.kind for v in ins}
    if short == "SequenceInputLayer" and kinds == {"image_sequence"}:
        return _Value(input_normalization(p, ins[0].array), "image_sequence")
    if short == "InputLayer":  # the whole (H, W, C, N, T) array at once, not per step
        return _Value(run_layer(layer, [ins[0].array], custom), ins[0].kind)
    if short == "SequenceFoldingLayer":
        if kinds != {"image_sequence"}:
            raise ValueError("sequence folding expects an image sequence")
        x = ins[0].array
        return {
            "out": _Value(x, "folded"),
            "miniBatchSize": _Value(x.shape[3], "batch_size"),
        }
    if short == "SequenceUnfoldingLayer":
        x, n = ins
        if x.kind != "folded" or n.kind != "batch_size" or x.array.shape[3] != n.array:
            raise ValueError("sequence unfolding expects folded images and their N")
        return _Value(x.array, "image_sequence")
    if "folded" in kinds:
        # Between folding and unfolding: each time step's images on their own.
        arrays = [v.array for v in ins]
        steps = [
            run_layer(layer, [a[..., t] for a in arrays], custom)
            for t in range(arrays[0].shape[4])
        ]
        return _Value(np.stack(steps, axis=-1), "folded")
    if "image_sequence" in kinds:
        x = ins[0].array
        if short == "FlattenLayer":
            return _Value(flatten(x))
        if short == "FullyConnectedLayer":
            out = int(np.prod(as_f64(p["OutputSize"])))
            return _Value(
                fully_connected(x, as_f64(p["Weights"]), param(p, "Bias"), out)
            )
        # Image layers on image sequences without folding (dlnetwork, R2021b+): per step.
        arrays = [v.array for v in ins]
        steps = [
            run_layer(layer, [a[..., t] for a in arrays], custom)
            for t in range(x.shape[4])
        ]
        return _Value(np.stack(steps, axis=-1), "image_sequence")
    return _Value(run_layer(layer, [v.array for v in ins], custom))


def run_network(
    layer_objects: Sequence[Any],
    connections: Sequence[tuple[str, str]] | None,
    inputs: Mapping[str, Array],
    custom: Mapping[str, Handler] | None = None,
) -> dict[str, Array]:
    """Every layer's output (MATLAB layout) of a network with image sequences.

    ``connections`` as (source, destination) names, ``layer/port`` allowed (e.g.
    ``("fold/miniBatchSize", "unfold/miniBatchSize")``); None chains the layers in
    order. ``inputs`` maps each input layer's name to its (H, W, C, N, T) array (or any
    other MATLAB-layout input). A folding layer's entry is its 'out' (the image
    sequence, unchanged) and ``"<name>/miniBatchSize"`` its N.
    """
    names = [layer_name(layer) for layer in layer_objects]
    by_name = dict(zip(names, layer_objects, strict=True))
    if connections is None:
        connections = list(itertools.pairwise(names))
    incoming: dict[str, list[tuple[int, str, str]]] = {n: [] for n in names}
    for src, dst in connections:
        dname, dport = _port(dst)
        sname, sport = _port(src)
        incoming[dname].append((_input_index(dport), sname, sport))
    values: dict[str, _Value] = {}
    done: set[str] = set()
    pending = list(names)
    while pending:
        ready = [n for n in pending if all(s in done for _, s, _ in incoming[n])]
        if not ready:
            raise ValueError(f"cycle or missing source among {pending}")
        for name in ready:
            ins = [
                values[f"{s}/{port}" if port not in ("", "out") else s]
                for _, s, port in sorted(incoming[name])
            ]
            if name in inputs:
                x = np.asarray(inputs[name], dtype=np.float64)
                ins = [_Value(x, "image_sequence" if x.ndim == 5 else "plain"), *ins]
            result = _apply(by_name[name], ins, custom)
            if isinstance(result, dict):
                values[name] = result["out"]
                for port, value in result.items():
                    values[f"{name}/{port}"] = value
            else:
                values[name] = result
            done.add(name)
            pending.remove(name)
    return {key: np.asarray(value.array) for key, value in values.items()}
