"""Per-layer checks for cross-channel (local response), group and instance normalization
and batch normalization of sequences.

Each case writes a tiny network with the schema writer, converts it, runs the generated
module and compares it with the independent NumPy reference run on the same file, in
MATLAB layout. No real MATLAB file with a cross-channel, group or instance normalization
layer has been seen: the writer's schemas for them are inferred (see
codegen/testing/dltwriter/). Shapes are odd, batches > 1, every mode is covered. Each
comparison records its error as the ``max_rel_err`` property (see it with
``--junitxml``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import normalization as nref
from codegen.testing import dltwriter as w
from tests.support import (
    check_last_layer,
    check_layers,
    convert_error,
    image_input,
    input_and_batch_shape,
    rand,
    rel_err,
    rng_fixture,
)

Record = Callable[[str, object], None]
rng = rng_fixture(20260415)


# ------------------------------------------------------------- cross-channel normalization

# (WindowChannelSize, Alpha, Beta, K): Alpha large enough that the window matters.
CCN_CASES = {
    "window 1": (1, 1.0, 0.75, 1.0),
    "window 2 (even)": (2, 2.0, 0.6, 1.0),
    "window 3": (3, 1.5, 0.75, 2.0),
    "window 4 (even)": (4, 3.0, 1.0, 0.5),
    "window 5, MATLAB defaults": (5, 1e-4, 0.75, 2.0),
    "window 8 > 7 channels": (8, 2.0, 0.5, 1.0),
}


@pytest.mark.parametrize("case", sorted(CCN_CASES))
def test_cross_channel_norm(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    n, alpha, beta, k = CCN_CASES[case]
    layers = [
        image_input("in", 5, 3, 7),
        w.cross_channel_norm("ccn", n, alpha, beta, k),
    ]
    x = rand(rng, 5, 3, 7, 3)
    source, got = check_layers(tmp_path, layers, {"in": x}, "ccn", record_property)
    assert (
        f"nn.LocalResponseNorm({n}, alpha={alpha!r}, beta={beta!r}, k={k!r})" in source
    )
    assert (".flip(1)" in source) == (n % 2 == 0)
    if n % 2 == 0 and alpha > 1:
        # The test can tell the two ways of centring an even window apart.
        mirrored = np.flip(ref.cross_channel_norm(np.flip(x, 2), n, alpha, beta, k), 2)
        assert rel_err(got, mirrored) > 1e-2


def test_cross_channel_norm_refuses_features(tmp_path: Path) -> None:
    layers = [w.feature_input("in", 4), w.cross_channel_norm("ccn", 3)]
    assert "expects an image" in convert_error(tmp_path, layers)


# ------------------------------------------------------------- batch normalization of sequences


@pytest.mark.parametrize("stored", ["1×1×C", "C×1"])
def test_batchnorm_of_sequences(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, stored: str
) -> None:
    """MATLAB normalizes a sequence per channel over batch and time: BatchNorm1d on (N, C, T)."""
    c = 5
    layer = w.batchnorm(
        "bn",
        mean=rand(rng, c),
        var=(np.abs(rand(rng, c)) + 0.1).astype(np.float32),
        offset=rand(rng, c),
        scale=rand(rng, c),
        epsilon=1e-3,
        channel_dim=None,
    )
    if stored == "C×1":
        record = layer.properties["any"][0, 0]
        for field in ("TrainedMean", "TrainedVariance"):
            value = record[field]
            w.with_fields(layer, **{field: value.reshape(c, 1)})
    x = rand(rng, c, 3, 7)  # C, N, T: batch of 3, 7 steps
    source, _ = check_layers(
        tmp_path, [w.sequence_input("in", c), layer], {"in": x}, "bn", record_property
    )
    assert "self.bn = nn.BatchNorm1d(5, eps=0.001)" in source
    assert "bn = self.bn(in_.transpose(1, 2)).transpose(1, 2)" in source


# ----------------------------------------------------------------- group normalization

# (layout, channels, NumGroups as stored)
GROUP_CASES: dict[str, tuple[str, int, int | str]] = {
    "image, 3 groups of 2": ("image", 6, 3),
    "image, 1 group (number)": ("image", 6, 1),
    "image, 'all-channels'": ("image", 6, "all-channels"),
    "image, 'channel-wise'": ("image", 6, "channel-wise"),
    "image, 6 groups (number)": ("image", 6, 6),
    "sequence, 2 groups of 3": ("sequence", 6, 2),
    "sequence, 'all-channels'": ("sequence", 6, "all-channels"),
    "sequence, 'channel-wise'": ("sequence", 6, "channel-wise"),
    "feature, 3 groups of 2": ("feature", 6, 3),
}


@pytest.mark.parametrize("case", sorted(GROUP_CASES))
def test_group_norm(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    layout, c, groups = GROUP_CASES[case]
    source_layer, shape = input_and_batch_shape(layout, c)
    layer = w.group_norm(
        "gn",
        groups,
        offset=rand(rng, c),
        scale=rand(rng, c),
        epsilon=1e-3,
        for_images=layout == "image",
    )
    # Per-channel offsets make the statistics of each group matter.
    x = rand(rng, *shape) * 2.0 + np.linspace(-3, 3, c).reshape(
        (1, 1, c, 1) if layout == "image" else (c,) + (1,) * (len(shape) - 1)
    ).astype(np.float32)
    source, _ = check_last_layer(tmp_path, [source_layer, layer], x, record_property)
    count = {"all-channels": 1, "channel-wise": c}.get(groups, groups)  # type: ignore[call-overload]
    assert f"self.gn = nn.GroupNorm({count}, {c}, eps=0.001)" in source
    transposed = "gn = self.gn(in_.transpose(1, 2)).transpose(1, 2)" in source
    assert transposed == (layout == "sequence")


def test_group_norm_of_sequences_includes_time(rng: np.random.Generator) -> None:
    """The sequence cases above can tell normalizing over time (MATLAB's groupnorm: 'S',
    'T' and the group's channels) from normalizing each time step alone."""
    x = rand(rng, 6, 3, 9).astype(np.float64)
    ones, zeros = np.ones(6), np.zeros(6)
    over_time = nref.group_norm(x, 2, ones, zeros)
    per_step = np.stack(
        [nref.group_norm(x[:, :, t], 2, ones, zeros) for t in range(9)], axis=2
    )
    assert rel_err(over_time, per_step) > 1e-2


@pytest.mark.parametrize(
    ("groups", "expected"),
    [(4, "splits 6 channels into 4 groups"), ("by-pairs", "NumGroups 'by-pairs'")],
)
def test_group_norm_refusals(
    tmp_path: Path, rng: np.random.Generator, groups: Any, expected: str
) -> None:
    layers = [
        image_input("in", 5, 7, 6),
        w.group_norm("gn", groups, rand(rng, 6), rand(rng, 6)),
    ]
    message = convert_error(tmp_path, layers)
    assert "layer 'gn' (nnet.cnn.layer.GroupNormalizationLayer)" in message
    assert expected in message


# -------------------------------------------------------------- instance normalization


@pytest.mark.parametrize("layout", ["image", "sequence"])
def test_instance_norm(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, layout: str
) -> None:
    c = 5
    source_layer, shape = input_and_batch_shape(layout, c)
    layer = w.instance_norm(
        "inorm",
        offset=rand(rng, c),
        scale=rand(rng, c),
        epsilon=1e-4,
        for_images=layout == "image",
    )
    x = rand(rng, *shape) * 3.0 + 1.5
    source, _ = check_last_layer(tmp_path, [source_layer, layer], x, record_property)
    dims = 2 if layout == "image" else 1
    assert f"nn.InstanceNorm{dims}d(5, eps=0.0001, affine=True)" in source


def test_instance_norm_refuses_features(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    layers = [
        w.feature_input("in", 4),
        w.instance_norm("inorm", rand(rng, 4), rand(rng, 4)),
    ]
    message = convert_error(tmp_path, layers)
    assert "layer 'inorm' (nnet.cnn.layer.InstanceNormalizationLayer)" in message
    assert "needs an image or a sequence" in message
