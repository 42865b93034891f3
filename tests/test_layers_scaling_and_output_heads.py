"""Per-layer checks for the RL toolbox's scalingLayer (actors) and the training-only
heads of detection networks.

scalingLayer's schema is inferred (no real sample), as the writer's docstring says. Each
case writes a tiny network with the schema writer, converts it, runs the generated
module and compares it with the independent NumPy reference run on the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codegen.ir import Dropped
from codegen.layers.record import LayerRecord
from codegen.layers.registry import lookup
from codegen.testing import dltwriter as w
from tests.support import (
    check_layers,
    convert_error,
    image_input,
    rand,
    rng_fixture,
)

Record = Callable[[str, object], None]
rng = rng_fixture(20260301)


# -------------------------------------------------------------------------- scalingLayer


def _scaling_case(
    rng: np.random.Generator,
    layout: str,
    scale_shape: tuple[int, ...] | None,
    bias_shape: tuple[int, ...] | None,
) -> tuple[list[Any], np.ndarray]:
    """An input of 3 channels (5×7 images, 4-step sequences) and a scalingLayer whose
    Scale/Bias have the given MATLAB shapes (None: a scalar)."""

    def operand(shape: tuple[int, ...] | None, scalar: float) -> Any:
        return scalar if shape is None else rng.uniform(-2, 2, shape)

    scaling = w.scaling_layer(
        "scale", operand(scale_shape, -1.5), operand(bias_shape, 0.25)
    )
    if layout == "image":
        return [image_input("in", 5, 7, 3), scaling], rand(rng, 5, 7, 3, 2)
    if layout == "feature":
        return [w.feature_input("in", 3), scaling], rand(rng, 3, 4)
    return [w.sequence_input("in", 3), scaling], rand(rng, 3, 2, 4)


SCALING_CASES = {
    "feature, C×1 arrays": ("feature", (3, 1), (3, 1)),
    "feature, scalars": ("feature", None, None),
    "feature, C×1 scale, scalar bias": ("feature", (3, 1), None),
    "image, 1×1×C scale, H×W×C bias": ("image", (1, 1, 3), (5, 7, 3)),
    "image, H×W scale, scalar bias": ("image", (5, 7), None),
    "image, scalars": ("image", None, None),
    "sequence, C×1 arrays": ("sequence", (3, 1), (3, 1)),
}


@pytest.mark.parametrize("case", sorted(SCALING_CASES))
def test_scaling_layer(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    layers, x = _scaling_case(rng, *SCALING_CASES[case])
    source, _ = check_layers(tmp_path, layers, {"in": x}, "scale", record_property)
    layout, scale_shape, bias_shape = SCALING_CASES[case]
    if scale_shape is None:
        assert "* -1.5" in source
    if bias_shape is None:
        assert "+ 0.25" in source


def test_scaling_layer_refuses_what_matlab_cannot_broadcast(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    # A 1×C row against C×N features would expand to C×C in MATLAB, not scale channels.
    layers = [
        w.feature_input("in", 3),
        w.scaling_layer("scale", rng.uniform(size=(1, 3))),
    ]
    message = convert_error(tmp_path, layers)
    assert "layer 'scale' (rl.layer.ScalingLayer)" in message and "1×3 Scale" in message
    layers = [
        image_input("in", 5, 7, 3),
        w.scaling_layer("scale", 1.0, np.ones((1, 1, 4))),
    ]
    assert "1×1×4 Bias" in convert_error(tmp_path / "b", layers)


@pytest.mark.parametrize(
    "classname",
    [
        "nnet.cnn.layer.FocalLossLayer",
        "nnet.cnn.layer.YOLOv2OutputLayer",
        "nnet.cnn.layer.RPNClassificationLayer",
        "nnet.cnn.layer.RCNNBoxRegressionLayer",
    ],
)
def test_training_only_heads_vanish_and_keep_class_names(classname: str) -> None:
    """Schema inferred (no real sample): these losses save Classes like the
    classification output layer; at inference they are the identity and are dropped."""
    classes = np.empty((1, 2), dtype=object)
    classes[0, 0], classes[0, 1] = np.array(["car"]), np.array(["person"])
    record = LayerRecord(classname, {"Name": np.array(["head"]), "Classes": classes})
    registration = lookup(classname)
    assert registration is not None
    result = registration.convert(record, [])
    assert isinstance(result, Dropped) and result.classes == ("car", "person")
