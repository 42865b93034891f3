"""YOLO v2 layers (yolov2TransformLayer, yolov2ReorgLayer) and resize3dLayer.

Each case writes a tiny network with the project's schema writer (schemas inferred: no
real sample of these classes exists; see codegen/testing/dltwriter/detection.py),
converts it, runs the generated module and compares with the independent NumPy
reference (codegen/reference/matlab_numpy/detection.py) run on the same file, in MATLAB
layout. The reference's channel layouts are pinned by hand-worked cases first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy import detection as dref
from codegen.testing import dltwriter as w
from codegen.testing.dltwriter.values import char, double, struct
from tests.conftest import convert_and_load
from tests.support import TOL, reference_graph, rel_err, to_matlab, to_torch

RNG = np.random.default_rng(20261202)


def _to_torch(x: np.ndarray) -> torch.Tensor:
    if x.ndim == 5:  # H×W×D×C×N → (N, C, D, H, W)
        return torch.from_numpy(
            np.ascontiguousarray(x.transpose(4, 3, 2, 0, 1))
        ).float()
    return to_torch(x)


def _to_matlab(y: torch.Tensor) -> np.ndarray:
    if y.dim() == 5:
        return y.numpy().astype(np.float64).transpose(3, 4, 2, 1, 0)
    return to_matlab(y)


def check(
    tmp_path: Path,
    layers: Sequence[Any],
    inputs: Mapping[str, np.ndarray],
    output: str,
    connections: Sequence[tuple[str, str]] | None = None,
) -> tuple[str, float]:
    """Write, convert, run; the generated source and the max relative error."""
    net = (
        w.series_network(layers)
        if connections is None
        else w.dag_network(layers, connections)
    )
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    _, model = convert_and_load(path, tmp_path / "out")
    with torch.no_grad():
        got = _to_matlab(model(*[_to_torch(v) for v in inputs.values()]))
    expected = reference_graph(ref.load_mat(str(path))["net"], inputs)[output]
    err = rel_err(got, expected)
    assert err <= TOL, f"relative error {err:.2e}"
    return (tmp_path / "out" / "model.py").read_text(), err


def convert_error(tmp_path: Path, layers: Sequence[Any]) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    with pytest.raises(ConversionError) as info:
        convert_and_load(path, tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ yolov2TransformLayer


def test_reference_transform_layout_by_hand() -> None:
    """Channel k = element·A + anchor (anchors fastest), elements IoU, x, y, w, h, scores."""
    a, k = 2, 3
    c = a * (5 + k)
    x = np.zeros((1, 1, c, 1))
    x[0, 0, 3 * a + 1, 0] = np.log(4.0)  # element 3 (w) of anchor 1
    x[0, 0, 5 * a + 0, 0] = np.log(2.0)  # first class score of anchor 0
    y = dref.yolov2_transform(x, a)[0, 0, :, 0]
    assert y[3 * a + 1] == pytest.approx(4.0)  # exp
    assert y[3 * a + 0] == pytest.approx(1.0)
    assert y[0] == pytest.approx(0.5) and y[2 * a + 1] == pytest.approx(0.5)  # sigmoid
    # Softmax per anchor over its K scores, which sit A channels apart.
    assert y[[5 * a, 6 * a, 7 * a]] == pytest.approx([0.5, 0.25, 0.25])
    assert y[[5 * a + 1, 6 * a + 1, 7 * a + 1]] == pytest.approx([1 / 3] * 3)


@pytest.mark.parametrize(("anchors", "classes"), [(1, 1), (3, 2), (5, 4)])
def test_yolov2_transform_matches_reference(
    tmp_path: Path, anchors: int, classes: int
) -> None:
    c = anchors * (5 + classes)
    layers = [
        w.image_input("in", (5, 7, c), "none"),
        w.yolov2_transform("yolo", anchors),
    ]
    x = RNG.standard_normal((5, 7, c, 2)) * 2
    source, _ = check(tmp_path, layers, {"in": x}, "yolo")
    assert f"yolo = yolov2_transform_matlab(in_, {anchors})" in source


def test_yolov2_transform_channel_count_and_version_refused(tmp_path: Path) -> None:
    message = convert_error(
        tmp_path / "a",
        [w.image_input("in", (4, 4, 20), "none"), w.yolov2_transform("yolo", 3)],
    )
    assert "'yolo' (nnet.cnn.layer.YOLOv2TransformLayer)" in message
    assert "20 channels" in message
    # The saveobj struct holds no Version; the class default beside it does (1).
    layer = w.yolov2_transform("yolo", 1)
    layer.properties["any"] = struct(
        {"Version": double(7), "Name": char("yolo"), "NumAnchorBoxes": double(1)}
    )
    message = convert_error(
        tmp_path / "b", [w.image_input("in", (4, 4, 6), "none"), layer]
    )
    assert "schema version 7" in message and "YOLOv2TransformLayer" in message


# ---------------------------------------------------------------------- yolov2ReorgLayer


def test_reference_reorg_order_by_hand() -> None:
    """MATLAB's order (spaceToDepth's): pixel (h·a + i, w·b + j), channel c → channel
    (i·b + j)·C + c; a trailing partial block is cropped."""
    x = np.arange(5 * 4 * 2, dtype=np.float64).reshape((5, 4, 2, 1), order="F")
    y = dref.space_to_depth(x, (2, 2))
    assert y.shape == (2, 2, 8, 1)
    for i in range(2):
        for j in range(2):
            for c in range(2):
                assert y[1, 0, (i * 2 + j) * 2 + c, 0] == x[2 + i, j, c, 0]


@pytest.mark.parametrize("stride", [(2, 2), (2, 3)])
def test_yolov2_reorg_matches_reference(
    tmp_path: Path, stride: tuple[int, int]
) -> None:
    layers = [
        w.image_input("in", (7, 9, 3), "none"),
        w.yolov2_reorg("reorg", stride),
    ]
    x = RNG.standard_normal((7, 9, 3, 2))
    source, _ = check(tmp_path, layers, {"in": x}, "reorg")
    assert f"space_to_depth_matlab(in_, {stride!r})" in source
    assert "yolov2ReorgLayer" in source


# ------------------------------------------------------------------------- resize3dLayer

# Options on a 4×5×3 (h×w×d) volume with 2 channels; "helper" says whether the explicit
# resize3d_matlab is expected (else F.interpolate). Sizes and scales are MATLAB's [h w d].
RESIZE3D_CASES: dict[str, dict[str, Any]] = {
    "size trilinear": dict(output_size=(7, 3, 5), method="trilinear", helper=False),
    "size nearest half-pixel round": dict(output_size=(9, 7, 2), helper=False),
    "size nearest asymmetric floor": dict(
        output_size=(6, 8, 5),
        geometric_transform_mode="asymmetric",
        nearest_rounding_mode="floor",
        helper=False,
    ),
    "size trilinear asymmetric": dict(
        output_size=(5, 7, 4),
        method="trilinear",
        geometric_transform_mode="asymmetric",
        helper=True,
    ),
    "size nearest half-pixel floor": dict(
        output_size=(7, 3, 5), nearest_rounding_mode="floor", helper=True
    ),
    "size nearest onnx-10 up and down": dict(
        output_size=(7, 3, 5),
        geometric_transform_mode="asymmetric",
        nearest_rounding_mode="onnx-10",
        helper=True,
    ),
    "scale 2 trilinear": dict(scale=2.0, method="trilinear", helper=False),
    "scale [2 1 3] nearest": dict(scale=(2.0, 1.0, 3.0), helper=False),
    "scale [1.5 0.7 1.3] trilinear": dict(
        scale=(1.5, 0.7, 1.3), method="trilinear", helper=True
    ),
    "scale [0.5 0.6 1.5] onnx-10": dict(
        scale=(0.5, 0.6, 1.5), nearest_rounding_mode="onnx-10", helper=True
    ),
    "size with NaN keeps the aspect ratio": dict(
        output_size=(8, float("nan"), float("nan")), method="trilinear", helper=False
    ),
}


@pytest.mark.parametrize("case", sorted(RESIZE3D_CASES))
def test_resize3d_matches_reference(tmp_path: Path, case: str) -> None:
    options = dict(RESIZE3D_CASES[case])
    helper = options.pop("helper")
    layers = [
        w.image3d_input("in", (4, 5, 3, 2), "none"),
        w.resize3d("resize", **options),
    ]
    x = RNG.standard_normal((4, 5, 3, 2, 2))
    source, _ = check(tmp_path, layers, {"in": x}, "resize")
    assert ("resize3d_matlab(" in source) == helper
    assert ("F.interpolate(" in source) == (not helper)


def test_resize3d_reference_input_and_version_1(tmp_path: Path) -> None:
    layers = [
        w.image3d_input("in", (6, 5, 4, 2), "none"),
        w.max_pool3d("pool", (2, 2, 2), stride=(2, 2, 2)),
        w.resize3d("resize", enable_reference_input=True, method="trilinear"),
    ]
    conns = [("in", "pool"), ("pool", "resize/in"), ("in", "resize/ref")]
    x = RNG.standard_normal((6, 5, 4, 2, 2))
    source, _ = check(tmp_path, layers, {"in": x}, "resize", conns)
    assert "size=in_.shape[2:]" in source
    old = [
        w.image3d_input("in", (4, 5, 3, 1), "none"),
        w.resize3d("r", scale=2.0, version=1),
    ]
    (tmp_path / "v1").mkdir()
    check(tmp_path / "v1", old, {"in": RNG.standard_normal((4, 5, 3, 1, 1))}, "r")


def test_resize3d_unknown_option_named(tmp_path: Path) -> None:
    layers = [
        w.image3d_input("in", (4, 5, 3, 1), "none"),
        w.resize3d("resize", scale=2.0, nearest_rounding_mode="ceil"),
    ]
    message = convert_error(tmp_path, layers)
    assert "NearestRoundingMode 'ceil'" in message and "Resize3DLayer" in message
