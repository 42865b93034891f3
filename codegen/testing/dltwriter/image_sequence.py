"""Image-sequence layers: sequenceInputLayer with InputSize [h w c], and the sequence
folding and unfolding layers of MATLAB's classic CNN + LSTM networks (R2019a–R2022).

Every builder here is **schema inferred, no real sample**: no MATLAB-saved file with an
image-sequence network was available.

* :func:`image_sequence_input` is the real SequenceInputLayer v5 schema (the writer's
  :func:`.inputs.sequence_input`; faultdet_TrainedModel.mat holds the v3 form) with a
  3-element InputSize, and its normalization statistics stored as an image input's are
  (a 1-D vector per channel as 1×1×C) — what MATLAB stores for image sequences is
  inferred.
* SequenceFoldingLayer and SequenceUnfoldingLayer keep, after Version and Name, the
  read-only properties MATLAB's documentation lists for them: NumInputs, InputNames,
  NumOutputs and OutputNames (folding: one input 'in', outputs 'out' and
  'miniBatchSize'; unfolding: inputs 'in' and 'miniBatchSize', one output 'out'). Their
  saveobj version is unknown: version 1. A network connects them with
  ``("fold/miniBatchSize", "unfold/miniBatchSize")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codegen.testing.dltwriter.inputs import _input_layer
from codegen.testing.dltwriter.schema import (
    LAYER_DEFAULTS,
    NNET,
    DltObject,
    Layer,
)
from codegen.testing.dltwriter.values import cell, char, double, struct

FOLD_PORTS = (("in",), ("out", "miniBatchSize"))
UNFOLD_PORTS = (("in", "miniBatchSize"), ("out",))


def image_sequence_input(
    name: str,
    input_size: Sequence[float],
    normalization: str = "none",
    mean: Any = None,
    std: Any = None,
    min: Any = None,
    max: Any = None,
    *,
    normalization_dimension: str = "auto",
    min_length: int = 1,
    split_complex_inputs: bool = False,
    version: int | None = None,
) -> Layer:
    """SequenceInputLayer for sequences of images — schema inferred, no real sample.

    ``input_size`` is [h w c] (MATLAB's only form for 2-D image sequences; other lengths
    are written as given, for error tests). Statistics are H×W×C, 1×1×C (a 1-D vector)
    or scalar, stored as ImageInputLayer stores them; ``None`` = untrained, stored 0×0.
    """
    return _input_layer(
        "SequenceInputLayer",
        name,
        input_size,
        normalization,
        (mean, std, min, max),
        normalization_dimension,
        split_complex_inputs,
        version,
        image_stats=True,
        MinLength=double(min_length),
    )


def _ports_layer(cls: str, name: str, ports: tuple[tuple[str, ...], ...]) -> Layer:
    """A layer whose only properties are its name and its fixed input/output ports."""
    inputs, outputs = ports
    fields = {
        "Version": double(1),
        "Name": char(name),
        "NumInputs": double(len(inputs)),
        "InputNames": cell([char(p) for p in inputs]),
        "NumOutputs": double(len(outputs)),
        "OutputNames": cell([char(p) for p in outputs]),
    }
    return DltObject(NNET + cls, {"any": struct(fields)}, LAYER_DEFAULTS)


def sequence_folding(name: str) -> Layer:
    """SequenceFoldingLayer — schema inferred, no real sample (see the module docstring):
    input 'in', outputs 'out' and 'miniBatchSize'."""
    return _ports_layer("SequenceFoldingLayer", name, FOLD_PORTS)


def sequence_unfolding(name: str) -> Layer:
    """SequenceUnfoldingLayer — schema inferred, no real sample (see the module
    docstring): inputs 'in' and 'miniBatchSize', output 'out'."""
    return _ports_layer("SequenceUnfoldingLayer", name, UNFOLD_PORTS)
