"""Element-wise and reshaping layers: activations, dropout, softmax, flatten.

Most of these store nothing but their name (and at most one setting), so the name-only
ones come from one factory instead of repeating the same three lines per class.

PReLU and softplus: no real sample of either class has been seen, both are "schema
inferred, no real sample". The built-in ``nnet.cnn.layer.*`` forms follow the pattern
of the closest real class (a saveobj struct in ``any``: Version 1, Name, then the
documented properties; Alpha as a learnable struct like BatchNormalizationLayer's);
``rl.layer.SoftplusLayer`` follows rl.layer.ScalingLayer (plain properties). PReLULayer
(R2024a) may well be saved with plain properties instead; ``prelu(...,
plain_properties=True)`` writes that form so both can be tested.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import (
    DltObject,
    Layer,
    builtin_layer,
    custom_layer,
    initializer,
    learnable,
    saveobj_layer,
)
from codegen.testing.dltwriter.values import char, double, logical, single


def name_only(cls: str, doc: str) -> Callable[[str], Layer]:
    """A builder for a built-in class whose saveobj struct is just Version and Name."""

    def build(name: str) -> Layer:
        return builtin_layer(cls, {"Name": char(name)})

    build.__doc__ = doc
    return build


relu = name_only("ReLULayer", "ReLULayer v1.")
tanh_layer = name_only(
    "TanhLayer", "TanhLayer — schema inferred, no real sample (ReLULayer's pattern)."
)
sigmoid_layer = name_only(
    "SigmoidLayer",
    "SigmoidLayer (built-in, R2020b+) — schema inferred, no real sample (ReLULayer's pattern).",
)
swish = name_only(
    "SwishLayer", "SwishLayer — schema inferred, no real sample (ReLULayer's pattern)."
)


def leaky_relu(name: str, scale: float = 0.01) -> Layer:
    """LeakyReLULayer v1."""
    return builtin_layer("LeakyReLULayer", {"Name": char(name), "Scale": double(scale)})


def clipped_relu(name: str, ceiling: float) -> Layer:
    """ClippedReLULayer — schema inferred, no real sample (LeakyReLULayer's pattern)."""
    return builtin_layer(
        "ClippedReLULayer", {"Name": char(name), "Ceiling": double(ceiling)}
    )


def gelu(name: str, approximation: str = "none") -> Layer:
    """GELULayer — schema inferred, no real sample (LeakyReLULayer's pattern)."""
    return builtin_layer(
        "GELULayer", {"Name": char(name), "Approximation": char(approximation)}
    )


def elu(name: str, alpha: float = 1.0) -> Layer:
    """ELULayer: an nnet.layer.Layer subclass, so plain properties (as in eeg_eegNet.mat)."""
    own = {"Alpha": double(alpha)}
    return custom_layer("ELULayer", own, name, f"ELU with Alpha {alpha:.5g}", "ELU")


def prelu(
    name: str,
    alpha: Any = 0.25,
    *,
    shape: Sequence[int] | None = None,
    plain_properties: bool = False,
) -> Layer:
    """PReLULayer — schema inferred, no real sample. ``alpha`` in MATLAB layout (a scalar,
    1×1×C for images, C×1 for features and sequences, or ``shape`` to reshape it
    column-major); ``None`` stores an untrained layer's empty Alpha. By default a
    built-in saveobj struct (Version 1, Name, Alpha as a learnable struct); with
    ``plain_properties`` an ``nnet.layer.Layer`` subclass whose Alpha is a plain single
    array."""
    if not plain_properties:
        value = learnable(alpha, 1.0, initializer("Constant", (0.25,)), shape)
        return saveobj_layer("PReLULayer", {"Name": char(name), "Alpha": value})
    stored = np.empty((0, 0)) if alpha is None else single(alpha, shape)
    return custom_layer("PReLULayer", {"Alpha": stored}, name, "PReLU", "PReLU")


def softplus(name: str, *, toolbox: str = "rl") -> Layer:
    """A softplus layer — schema inferred, no real sample. ``toolbox`` 'rl':
    rl.layer.SoftplusLayer (Reinforcement Learning Toolbox ``softplusLayer``), plain
    properties like rl.layer.ScalingLayer; 'dlt': nnet.cnn.layer.SoftplusLayer, a saveobj
    struct of Version 1 and Name like ReLULayer."""
    if toolbox == "dlt":
        return saveobj_layer("SoftplusLayer", {"Name": char(name)})
    if toolbox != "rl":
        raise ValueError(f"toolbox must be 'rl' or 'dlt', not {toolbox!r}")
    layer = custom_layer("SoftplusLayer", {}, name, "Softplus layer", "Softplus")
    return DltObject("rl.layer.SoftplusLayer", layer.properties, layer.class_defaults)


def dropout(name: str, probability: float = 0.5) -> Layer:
    """DropoutLayer v1."""
    return builtin_layer(
        "DropoutLayer", {"Name": char(name), "Probability": double(probability)}
    )


def softmax(
    name: str,
    *,
    channel_dim: int | None = 3,
    vector_format: bool = False,
    version: int | None = None,
) -> Layer:
    """SoftmaxLayer (v4 default, v3). Image networks: channel_dim 3; sequence/feature
    networks: channel_dim 1 with vector_format True; untrained: channel_dim None ([]).
    """
    fields = {
        "Name": char(name),
        "ChannelDim": double(channel_dim),
        "VectorFormat": logical(vector_format),
    }
    return builtin_layer("SoftmaxLayer", fields, version)


def flatten(name: str, num_flatten_dimensions: int = 3) -> Layer:
    """FlattenLayer v1."""
    fields = {
        "Name": char(name),
        "NumFlattenDimensions": double(num_flatten_dimensions),
    }
    return builtin_layer("FlattenLayer", fields)
