"""Element-wise and reshaping layers: activations, dropout, softmax, flatten.

Most of these store nothing but their name (and at most one setting), so the name-only
ones come from one factory instead of repeating the same three lines per class.
"""

from __future__ import annotations

from collections.abc import Callable

from codegen.testing.dltwriter.schema import Layer, builtin_layer, custom_layer
from codegen.testing.dltwriter.values import char, double, logical


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
