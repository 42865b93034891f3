"""The intermediate representation: a graph of layers, framework-neutral on input,
PyTorch-layout on output.

Converters fill it; passes rewrite it; templates only format it. Parameters are numpy
arrays already in PyTorch layout, so rendering never transforms weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Layout of a tensor flowing between layers, batch dimension first in PyTorch terms.
IMAGE = "image"  # (N, C, H, W); shape = (C, H, W)
FEATURE = "feature"  # (N, C); shape = (C,)
SEQUENCE = "sequence"  # (N, T, C); shape = (C,), T free
# 3-D images (medical volumes): MATLAB H×W×D×C×N ↔ PyTorch (N, C, D, H, W), the order
# nn.Conv3d and friends expect. shape = (C, D, H, W), in PyTorch order like IMAGE's
# (C, H, W): converters translate MATLAB's [h w d] sizes, and every per-dimension
# setting (kernel, stride, padding), into (D, H, W) once, when they read them.
VOLUME = "volume"
# Sequences of 2-D images (video frames): MATLAB H×W×C×N×T (one observation H×W×C×T) ↔
# PyTorch (N, T, C, H, W), batch first like SEQUENCE. shape = (C, H, W), as IMAGE's, T free.
IMAGE_SEQUENCE = "image_sequence"
LAYOUTS = (IMAGE, FEATURE, SEQUENCE, VOLUME, IMAGE_SEQUENCE)


@dataclass(frozen=True)
class TensorInfo:
    """What is known about a tensor: its layout and per-sample size (None = unknown)."""

    layout: str
    shape: tuple[int | None, ...]

    @property
    def channels(self) -> int | None:
        return self.shape[0] if self.shape else None

    def describe(self) -> str:
        dims = {
            IMAGE: "C×H×W",
            FEATURE: "C",
            SEQUENCE: "C (×T)",
            VOLUME: "C×D×H×W",
            IMAGE_SEQUENCE: "C×H×W (×T)",
        }[self.layout]
        sizes = "×".join("?" if s is None else str(s) for s in self.shape)
        return f"{self.layout} {dims} = {sizes}"


@dataclass(frozen=True)
class PortReader:
    """The one consumer allowed to read an extra output of a multi-output node.

    A node lists these in ``attrs["port_readers"]`` (output port name → PortReader) when
    an output means something only to one kind of layer (a max pooling layer's
    'indices', which are PyTorch's encoding, not MATLAB's). The importer refuses any
    other reader, and the port as a network output, with ``reason`` in the message.
    """

    classname: str  # MATLAB class of the only layer that may read the port
    input_name: str  # ... at this input port of it
    reason: str  # why, as the end of a sentence


@dataclass
class Node:
    """One emitted construct. ``op`` names its template; ``name`` is the MATLAB name."""

    name: str
    op: str
    matlab_class: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, np.ndarray | None] = field(default_factory=dict)
    buffers: dict[str, np.ndarray] = field(default_factory=dict)
    out: TensorInfo | None = None
    comment: str = ""  # above the __init__ line: how the parameters were translated
    forward_comment: str = (
        ""  # above the forward line: how the computation was translated
    )
    ident: str = ""  # legalised Python identifier, set by passes.names
    prefix: str = ""  # start of the names of its top-level buffers: <prefix>_<key>


@dataclass
class GraphInput:
    name: str
    info: TensorInfo
    ident: str = ""


@dataclass
class Graph:
    """A whole network, nodes in topological order."""

    source_name: str
    source_sha256: str
    variable: str
    matlab_class: str
    inputs: list[GraphInput] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    classes: tuple[str, ...] | None = None
    response_names: tuple[str, ...] | None = None
    trained: bool = True
    notes: list[str] = field(default_factory=list)
    # Layers of unsupported classes recognised as training-only and left out (also in notes).
    left_out: list[str] = field(default_factory=list)
    class_name: str = "Model"
    matlab_layer_count: int = 0
    command: str = ""
    # MATLAB layers with no PyTorch counterpart (training-only output/loss layers):
    # (MATLAB name, MATLAB class), in file order.
    dropped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def weights_source(self) -> str:
        """The metadata that ties model.safetensors to the model.py written with it."""
        return (
            f"{self.source_name} sha256={self.source_sha256} variable={self.variable}"
        )

    @property
    def notes_layer_count(self) -> str:
        """ "17 MATLAB layers" — output layers included, as MATLAB counts them."""
        count = self.matlab_layer_count or len(self.nodes)
        return f"{count} MATLAB layer{'s' if count != 1 else ''}"

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]


@dataclass(frozen=True)
class Dropped:
    """What a training-only layer (classification/regression output) leaves behind."""

    classes: tuple[str, ...] | None = None
    response_names: tuple[str, ...] | None = None
