"""Per-layer checks for depth-to-space and space-to-depth.

Each case writes a tiny network with the schema writer (schemas inferred: no real MATLAB
file with these classes has been seen), converts it, runs the generated module and
compares it with the independent NumPy reference run on the same file, in MATLAB layout.
Depth-to-space 'dcr' and space-to-depth are also checked value for value against the
worked examples in MATLAB's documentation. Uncertain choices pinned here: the 'crd'
order and non-square blocks (no MATLAB example), and which rows/columns spaceToDepth
drops when the size is not a multiple of the block.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codegen.reference.matlab_numpy import depth_space as dsref
from codegen.testing import dltwriter as w
from tests.conftest import convert_and_load
from tests.support import (
    check_last_layer,
    convert_error,
    image_input,
    rand,
    rel_err,
    rng_fixture,
    run,
    to_matlab,
)

Record = Callable[[str, object], None]
rng = rng_fixture(20260415)


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
    z = dsref.depth_to_space(_matlab_reshape(2, 2, 12), (2, 2), "dcr")
    assert np.array_equal(z, _pages(DOC_DEPTH_TO_SPACE))
    z = dsref.space_to_depth(_matlab_reshape(4, 4, 3), (2, 2))
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
    w.write_mat(path, {"net": w.series_network([image_input("in", *x), layer()])})
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
    layers = [image_input("in", 3, 5, channels), w.depth_to_space("d2s", block, mode)]
    source, got = check_last_layer(
        tmp_path, layers, rand(rng, 3, 5, channels, 3), record_property
    )
    assert got.shape == (3 * bh, 5 * bw, 2, 3)
    square_crd = mode == "crd" and bh == bw
    assert (f"self.d2s = nn.PixelShuffle({bh})" in source) == square_crd
    assert ("def depth_to_space_matlab(" in source) != square_crd
    assert ("uncertain" in source) == (bh != bw)


def test_depth_to_space_modes_differ(rng: np.random.Generator) -> None:
    """The 'dcr' and 'crd' cases above pin different orders."""
    x = rand(rng, 3, 5, 8, 2).astype(np.float64)
    dcr = dsref.depth_to_space(x, (2, 2), "dcr")
    assert rel_err(dsref.depth_to_space(x, (2, 2), "crd"), dcr) > 1e-2


def test_depth_to_space_refuses_channels_the_block_does_not_divide(
    tmp_path: Path,
) -> None:
    layers = [image_input("in", 3, 5, 6), w.depth_to_space("d2s", 2)]
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
    layers = [image_input("in", h, w_, 3), w.space_to_depth("s2d", block)]
    source, got = check_last_layer(
        tmp_path, layers, rand(rng, h, w_, 3, 2), record_property
    )
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
        image_input("in", 6, 9, 2),
        w.space_to_depth("s2d", (2, 3)),
        w.depth_to_space("d2s", (2, 3), "dcr"),
    ]
    x = rand(rng, 6, 9, 2, 2)
    _, got = check_last_layer(tmp_path, layers, x, record_property)
    assert np.array_equal(got, x.astype(np.float64))


def test_space_to_depth_refuses_an_image_smaller_than_the_block(tmp_path: Path) -> None:
    layers = [image_input("in", 1, 5, 2), w.space_to_depth("s2d", 2)]
    assert "smaller than its 2×2 block" in convert_error(tmp_path, layers)
