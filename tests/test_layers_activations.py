"""Per-layer checks for PReLU and softplus.

No real MATLAB file with either class has been seen: each case writes a tiny network
with the schema writer, whose schemas for these classes are inferred (see
codegen/testing/dltwriter/activations.py), converts it, runs the generated module and
compares it with the independent NumPy reference (codegen/reference/matlab_numpy/activations.py)
run on the same file, in MATLAB layout. Uncertain choices pinned here: PReLU/softplus
storage (built-in struct or plain properties), and softplus for large inputs (the exact
value, not Inf).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codegen.reference.matlab_numpy import activations as aref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load
from tests.support import (
    check_last_layer,
    convert_error,
    input_and_batch_shape,
    rand,
    rng_fixture,
    run,
    to_matlab,
)

Record = Callable[[str, object], None]
rng = rng_fixture(20260415)


# --------------------------------------------------------------------------------- PReLU

# (layout, Alpha's MATLAB shape or None for a scalar, plain properties?)
PRELU_CASES: dict[str, tuple[str, tuple[int, ...] | None, bool]] = {
    "image, scalar": ("image", None, False),
    "image, 1×1×C": ("image", (1, 1, 4), False),
    "image, 1×1×C, plain properties": ("image", (1, 1, 4), True),
    "sequence, scalar": ("sequence", None, False),
    "sequence, C×1": ("sequence", (4, 1), False),
    "sequence, C×1, plain properties": ("sequence", (4, 1), True),
    "feature, C×1": ("feature", (4, 1), False),
    "feature, scalar, plain properties": ("feature", None, True),
}


@pytest.mark.parametrize("case", sorted(PRELU_CASES))
def test_prelu(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    layout, alpha_shape, plain = PRELU_CASES[case]
    source_layer, shape = input_and_batch_shape(layout, 4)
    # Slopes of both signs and above 1, so that a wrong channel is visible.
    alpha: Any = (
        np.float32(-0.3)
        if alpha_shape is None
        else np.array([0.1, -0.7, 1.5, 0.4], dtype=np.float32).reshape(alpha_shape)
    )
    layer = w.prelu("act", alpha, plain_properties=plain)
    source, _ = check_last_layer(
        tmp_path, [source_layer, layer], rand(rng, *shape), record_property
    )
    count = 1 if alpha_shape is None else 4
    assert f"self.act = nn.PReLU({count})" in source
    transposed = "act = self.act(in_.transpose(1, 2)).transpose(1, 2)" in source
    assert transposed == (layout == "sequence" and count > 1)


@pytest.mark.parametrize(
    ("layout", "shape"),
    [("image", (5, 7, 4)), ("image", (4, 1)), ("sequence", (1, 1, 4))],
    ids=["H×W×C on images", "C×1 on images", "1×1×C on sequences"],
)
def test_prelu_refuses_alpha_that_is_not_per_channel(
    tmp_path: Path, rng: np.random.Generator, layout: str, shape: tuple[int, ...]
) -> None:
    source_layer, _ = input_and_batch_shape(layout, 4)
    layers = [source_layer, w.prelu("act", rand(rng, *shape))]
    message = convert_error(tmp_path, layers)
    assert "layer 'act' (nnet.cnn.layer.PReLULayer)" in message
    assert "one per channel" in message


# ------------------------------------------------------------------------------ softplus


@pytest.mark.parametrize("toolbox", ["rl", "dlt"])
@pytest.mark.parametrize("layout", ["image", "sequence", "feature"])
def test_softplus(
    tmp_path: Path,
    rng: np.random.Generator,
    record_property: Record,
    toolbox: str,
    layout: str,
) -> None:
    source_layer, shape = input_and_batch_shape(layout, 3)
    x = rand(rng, *shape) * 4.0
    source, _ = check_last_layer(
        tmp_path, [source_layer, w.softplus("sp", toolbox=toolbox)], x, record_property
    )
    assert "self.sp = nn.Softplus()" in source


def test_softplus_threshold_keeps_every_value_within_1e6(
    tmp_path: Path, record_property: Record
) -> None:
    """nn.Softplus returns x above 20; element by element (not just against the largest
    value) the result stays within 1e-6 relative of log(1 + exp(x)) on [-30, 30], across
    the threshold. Above ~88.7 a literal single-precision MATLAB log(1 + exp(x)) would be
    Inf; the generated model gives the exact value x (uncertain what MATLAB returns)."""
    values = np.concatenate(
        [np.linspace(-30, 30, 241), [19.9, 20.0, 20.1, 25.0, 100.0]]
    ).astype(np.float32)
    x = values.reshape(1, -1)  # features: C = 1, N = 246
    path = tmp_path / "net.mat"
    w.write_mat(
        path, {"net": w.series_network([w.feature_input("in", 1), w.softplus("sp")])}
    )
    _, model = convert_and_load(path, tmp_path / "out")
    got = to_matlab(run(model, x))
    expected = aref.softplus(x.astype(np.float64))
    worst = float(np.max(np.abs(got - expected) / np.abs(expected)))
    record_property("max_rel_err", worst)
    assert worst <= 1e-6, f"element-wise relative error {worst:.2e}"
    assert got[0, -1] == 100.0
