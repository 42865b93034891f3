"""Per-layer checks for group and instance normalization, PReLU, softplus, depth-to-space
and space-to-depth.

No real MATLAB file with any of these classes has been seen: each case writes a tiny
network with the schema writer, whose schemas for these classes are inferred (see
codegen/testing/dltwriter/extra2.py), converts it, runs the generated module and compares
it with the independent NumPy reference (codegen/reference/matlab_numpy/extra2.py) run on
the same file, in MATLAB layout. Shapes are odd, batches > 1, every mode is covered. Each
comparison records its error as the ``max_rel_err`` property (see it with
``--junitxml``).

Depth-to-space 'dcr' and space-to-depth are also checked value for value against the
worked examples in MATLAB's documentation. Uncertain choices pinned here: the 'crd'
order and non-square blocks (no MATLAB example), which rows/columns spaceToDepth drops
when the size is not a multiple of the block, PReLU/softplus storage (built-in struct or
plain properties), and softplus for large inputs (the exact value, not Inf).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import extra2 as ref2
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load
from tests.support import (
    TOL,
    rand,
    reference_graph,
    rel_err,
    rng_fixture,
    run,
    to_matlab,
)

rng = rng_fixture(20260415)
Record = Callable[[str, object], None]


def check(
    tmp_path: Path,
    layers: Sequence[Any],
    x: np.ndarray,
    record_property: Record,
) -> tuple[str, np.ndarray]:
    """Write a SeriesNetwork whose input layer is 'in', convert it, run the generated
    module on ``x`` (MATLAB layout) and compare the last layer with the reference run on
    the written file; returns the generated source and the module's output."""
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    _, model = convert_and_load(path, tmp_path / "out")
    got = to_matlab(run(model, x))
    outputs = reference_graph(ref.load_mat(str(path))["net"], {"in": x})
    expected = outputs[ref.layer_name(layers[-1])]
    err = rel_err(got, expected)
    record_property("max_rel_err", err)
    assert err <= TOL, f"relative error {err:.2e}"
    return (tmp_path / "out" / "model.py").read_text(), got


def convert_error(tmp_path: Path, layers: Sequence[Any]) -> str:
    """The one-sentence ConversionError converting a SeriesNetwork of ``layers`` raises."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    with pytest.raises(ConversionError) as info:
        convert_and_load(path, tmp_path / "out")
    message = str(info.value)
    assert "net.mat, variable 'net'" in message and "\n" not in message
    return message


def image_input(h: int, w_: int, c: int) -> Any:
    return w.image_input("in", (h, w_, c), "none")


def _input(layout: str, c: int) -> tuple[Any, tuple[int, ...]]:
    """An input layer named 'in' and the MATLAB shape of a batch for it (odd sizes, N = 3)."""
    if layout == "image":
        return image_input(5, 7, c), (5, 7, c, 3)
    if layout == "sequence":
        return w.sequence_input("in", c), (c, 3, 9)  # C×N×T
    return w.feature_input("in", c), (c, 3)


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
    source_layer, shape = _input(layout, c)
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
    source, _ = check(tmp_path, [source_layer, layer], x, record_property)
    count = {"all-channels": 1, "channel-wise": c}.get(groups, groups)  # type: ignore[call-overload]
    assert f"self.gn = nn.GroupNorm({count}, {c}, eps=0.001)" in source
    transposed = "gn = self.gn(in_.transpose(1, 2)).transpose(1, 2)" in source
    assert transposed == (layout == "sequence")


def test_group_norm_of_sequences_includes_time(rng: np.random.Generator) -> None:
    """The sequence cases above can tell normalizing over time (MATLAB's groupnorm: 'S',
    'T' and the group's channels) from normalizing each time step alone."""
    x = rand(rng, 6, 3, 9).astype(np.float64)
    ones, zeros = np.ones(6), np.zeros(6)
    over_time = ref2.group_norm(x, 2, ones, zeros)
    per_step = np.stack(
        [ref2.group_norm(x[:, :, t], 2, ones, zeros) for t in range(9)], axis=2
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
        image_input(5, 7, 6),
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
    source_layer, shape = _input(layout, c)
    layer = w.instance_norm(
        "inorm",
        offset=rand(rng, c),
        scale=rand(rng, c),
        epsilon=1e-4,
        for_images=layout == "image",
    )
    x = rand(rng, *shape) * 3.0 + 1.5
    source, _ = check(tmp_path, [source_layer, layer], x, record_property)
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
    source_layer, shape = _input(layout, 4)
    # Slopes of both signs and above 1, so that a wrong channel is visible.
    alpha: Any = (
        np.float32(-0.3)
        if alpha_shape is None
        else np.array([0.1, -0.7, 1.5, 0.4], dtype=np.float32).reshape(alpha_shape)
    )
    layer = w.prelu("act", alpha, plain_properties=plain)
    source, _ = check(
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
    source_layer, _ = _input(layout, 4)
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
    source_layer, shape = _input(layout, 3)
    x = rand(rng, *shape) * 4.0
    source, _ = check(
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
    expected = ref2.softplus(x.astype(np.float64))
    worst = float(np.max(np.abs(got - expected) / np.abs(expected)))
    record_property("max_rel_err", worst)
    assert worst <= 1e-6, f"element-wise relative error {worst:.2e}"
    assert got[0, -1] == 100.0


# ------------------------------------------------------------------------ depth to space

# MATLAB's documented example: X = reshape(1:48, 2, 2, 12); Z = depthToSpace(X, 2) is
# 4×4×3 (default Mode 'dcr'). The pages of Z, as printed in the documentation.
DOC_DEPTH_TO_SPACE = [
    [[1, 13, 3, 15], [25, 37, 27, 39], [2, 14, 4, 16], [26, 38, 28, 40]],
    [[5, 17, 7, 19], [29, 41, 31, 43], [6, 18, 8, 20], [30, 42, 32, 44]],
    [[9, 21, 11, 23], [33, 45, 35, 47], [10, 22, 12, 24], [34, 46, 36, 48]],
]
# MATLAB's documented example: X = reshape(1:48, 4, 4, 3); Z = spaceToDepth(X, 2) is
# 2×2×12. The pages of Z, as printed in the documentation.
DOC_SPACE_TO_DEPTH = [
    [[1, 9], [3, 11]],
    [[17, 25], [19, 27]],
    [[33, 41], [35, 43]],
    [[5, 13], [7, 15]],
    [[21, 29], [23, 31]],
    [[37, 45], [39, 47]],
    [[2, 10], [4, 12]],
    [[18, 26], [20, 28]],
    [[34, 42], [36, 44]],
    [[6, 14], [8, 16]],
    [[22, 30], [24, 32]],
    [[38, 46], [40, 48]],
]


def _matlab_reshape(h: int, w_: int, c: int) -> np.ndarray:
    """reshape(1:h*w*c, h, w, c) as one observation H×W×C×1."""
    return np.arange(1, h * w_ * c + 1, dtype=np.float64).reshape(
        (h, w_, c, 1), order="F"
    )


def _pages(pages: list[list[list[int]]]) -> np.ndarray:
    """Printed pages Z(:,:,k) → H×W×C×1."""
    return np.stack([np.array(p, dtype=np.float64) for p in pages], axis=2)[..., None]


def test_reference_reproduces_matlab_documentation_examples() -> None:
    z = ref2.depth_to_space(_matlab_reshape(2, 2, 12), (2, 2), "dcr")
    assert np.array_equal(z, _pages(DOC_DEPTH_TO_SPACE))
    z = ref2.space_to_depth(_matlab_reshape(4, 4, 3), (2, 2))
    assert np.array_equal(z, _pages(DOC_SPACE_TO_DEPTH))


@pytest.mark.parametrize(
    ("layer", "x", "pages"),
    [
        (lambda: w.depth_to_space("d2s", 2), (2, 2, 12), DOC_DEPTH_TO_SPACE),
        (lambda: w.space_to_depth("s2d", 2), (4, 4, 3), DOC_SPACE_TO_DEPTH),
    ],
    ids=["depthToSpace", "spaceToDepth"],
)
def test_generated_module_reproduces_matlab_documentation_example(
    tmp_path: Path, layer: Callable[[], Any], x: tuple[int, int, int], pages: Any
) -> None:
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network([image_input(*x), layer()])})
    _, model = convert_and_load(path, tmp_path / "out")
    got = to_matlab(run(model, _matlab_reshape(*x).astype(np.float32)))
    assert np.array_equal(got, _pages(pages))


# (BlockSize, Mode) on a 3×5 input with 2 output channels.
D2S_CASES: dict[str, tuple[int | tuple[int, int], str]] = {
    "block 2 dcr": (2, "dcr"),
    "block 2 crd": (2, "crd"),
    "block 3 dcr": (3, "dcr"),
    "block 3 crd": (3, "crd"),
    "block [2 3] dcr (non-square: uncertain)": ((2, 3), "dcr"),
    "block [2 3] crd (non-square: uncertain)": ((2, 3), "crd"),
    "block [3 1] dcr (non-square: uncertain)": ((3, 1), "dcr"),
}


@pytest.mark.parametrize("case", sorted(D2S_CASES))
def test_depth_to_space(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    block, mode = D2S_CASES[case]
    bh, bw = (block, block) if isinstance(block, int) else block
    channels = 2 * bh * bw
    layers = [image_input(3, 5, channels), w.depth_to_space("d2s", block, mode)]
    source, got = check(tmp_path, layers, rand(rng, 3, 5, channels, 3), record_property)
    assert got.shape == (3 * bh, 5 * bw, 2, 3)
    square_crd = mode == "crd" and bh == bw
    assert (f"self.d2s = nn.PixelShuffle({bh})" in source) == square_crd
    assert ("def depth_to_space_matlab(" in source) != square_crd
    assert ("uncertain" in source) == (bh != bw)


def test_depth_to_space_modes_differ(rng: np.random.Generator) -> None:
    """The 'dcr' and 'crd' cases above pin different orders."""
    x = rand(rng, 3, 5, 8, 2).astype(np.float64)
    dcr = ref2.depth_to_space(x, (2, 2), "dcr")
    assert rel_err(ref2.depth_to_space(x, (2, 2), "crd"), dcr) > 1e-2


def test_depth_to_space_refuses_channels_the_block_does_not_divide(
    tmp_path: Path,
) -> None:
    layers = [image_input(3, 5, 6), w.depth_to_space("d2s", 2)]
    message = convert_error(tmp_path, layers)
    assert "layer 'd2s' (nnet.cnn.layer.DepthToSpace2DLayer)" in message
    assert "6 channels" in message


# ------------------------------------------------------------------------ space to depth

# (input H×W, BlockSize) with 3 channels.
S2D_CASES: dict[str, tuple[tuple[int, int], int | tuple[int, int]]] = {
    "6×4, block 2": ((6, 4), 2),
    "7×5, block 2 (drops the last row and column)": ((7, 5), 2),
    "9×7, block 3 (drops the last column)": ((9, 7), 3),
    "6×9, block [2 3] (non-square)": ((6, 9), (2, 3)),
    "5×7, block [2 1] (non-square, drops a row)": ((5, 7), (2, 1)),
}


@pytest.mark.parametrize("case", sorted(S2D_CASES))
def test_space_to_depth(
    tmp_path: Path, rng: np.random.Generator, record_property: Record, case: str
) -> None:
    (h, w_), block = S2D_CASES[case]
    bh, bw = (block, block) if isinstance(block, int) else block
    layers = [image_input(h, w_, 3), w.space_to_depth("s2d", block)]
    source, got = check(tmp_path, layers, rand(rng, h, w_, 3, 2), record_property)
    assert got.shape == (h // bh, w_ // bw, 3 * bh * bw, 2)
    assert "s2d = space_to_depth_matlab(in_, " in source
    # Order and cropping are MATLAB's spaceToDepthHostStrategy: nothing left uncertain.
    assert "uncertain" not in source
    assert ("drops the last rows/columns" in source) == (h % bh != 0 or w_ % bw != 0)


def test_space_to_depth_then_depth_to_space_dcr_is_the_identity(
    tmp_path: Path, rng: np.random.Generator, record_property: Record
) -> None:
    """By MATLAB's documented examples spaceToDepth and depthToSpace 'dcr' are inverse
    arrangements (as ONNX's are): the generated helpers compose to the identity on sizes
    that are multiples of the block, non-square blocks included."""
    layers = [
        image_input(6, 9, 2),
        w.space_to_depth("s2d", (2, 3)),
        w.depth_to_space("d2s", (2, 3), "dcr"),
    ]
    x = rand(rng, 6, 9, 2, 2)
    _, got = check(tmp_path, layers, x, record_property)
    assert np.array_equal(got, x.astype(np.float64))


def test_space_to_depth_refuses_an_image_smaller_than_the_block(tmp_path: Path) -> None:
    layers = [image_input(1, 5, 2), w.space_to_depth("s2d", 2)]
    assert "smaller than its 2×2 block" in convert_error(tmp_path, layers)
