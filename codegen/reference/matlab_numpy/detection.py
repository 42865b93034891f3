"""YOLO v2 layers and 3-D resize, on MATLAB-layout arrays.

yolov2TransformLayer, from its documented predict (R2018b–R2024 source): X (H, W, C, N)
is viewed column-major as (H·W, A, C/A, N) — channel k is anchor k mod A, element
k div A — and per anchor the elements are [IoU, x, y, w, h, class scores]: sigmoid on
IoU, x, y, exp on w, h, softmax over the class scores; reshaped back to (H, W, C, N).

yolov2ReorgLayer: MATLAB's internal layer runs spaceToDepthLayer's strategy with
BlockSize = Stride (see :func:`~codegen.reference.matlab_numpy.depth_space.space_to_depth`),
which crops the rows and columns past the last whole block from the end.

resize3dLayer (Image Processing Toolbox): like resize2dLayer over (H, W, D) of an
(H, W, D, C, N) volume, separable per spatial dimension. Output size: OutputSize, the
reference input's H×W×D, or floor(in·Scale); the sample position of output index d is
``(d + 0.5)/s − 0.5`` ('half-pixel') or ``d/s`` ('asymmetric') with s = Scale, or out/in
when the size is given (an OutputSize with NaNs: the one given out/in for all three
dimensions, output floor(in·s)). 'nearest' rounds it: 'round' (halves away from zero), 'floor',
or 'onnx-10' (floor when s ≥ 1, ceil when s < 1: onnxruntime's opset-10 rule, which
dlresize's interpSpatialDims cites and implements); 'trilinear' interpolates between the
two neighbours. Positions are clamped to [0, in − 1] first, as interpSpatialDims clamps
its 1-based query points to [1, in].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codegen.reference.matlab_numpy.depth_space import space_to_depth
from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_bool,
    as_f64,
    as_num,
    as_str,
    is_empty,
)
from codegen.reference.matlab_numpy.geometry import resample_axis, sample_positions


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def yolov2_transform(x: Array, num_anchors: int) -> Array:
    """(H, W, A·(5 + K), N) → same shape, per the module docstring."""
    x = np.asarray(x, dtype=np.float64)
    h, w, c, n = x.shape
    r = x.reshape((h * w, num_anchors, c // num_anchors, n), order="F")
    scores = r[:, :, 5:, :]
    e = np.exp(scores - scores.max(axis=2, keepdims=True))
    z = np.concatenate(
        [
            _sigmoid(r[:, :, 0:3, :]),
            np.exp(r[:, :, 3:5, :]),
            e / e.sum(axis=2, keepdims=True),
        ],
        axis=2,
    )
    return z.reshape((h, w, c, n), order="F")


def _resample(
    x: Array, axis: int, out_n: int, s: float, method: str, mode: str, rounding: str
) -> Array:
    """One axis of resize3dLayer: the same sampling rules as resize2dLayer's."""
    if method not in ("nearest", "trilinear"):
        raise ValueError(f"unsupported resize3d Method {method!r}")
    positions = sample_positions(out_n, s, mode)
    return resample_axis(x, axis, positions, method, rounding)


def resize3d(
    x: Array,
    *,
    output_size: Sequence[int] | None = None,
    scale: float | Sequence[float] | None = None,
    method: str = "nearest",
    geometric_transform_mode: str = "half-pixel",
    nearest_rounding_mode: str = "round",
) -> Array:
    """resize3dLayer on (H, W, D, C, N): exactly one of ``output_size`` and ``scale``."""
    x = np.asarray(x, dtype=np.float64)
    for axis in range(3):
        n = x.shape[axis]
        if output_size is not None:
            out_n = int(output_size[axis])
            s = out_n / n
        else:
            assert scale is not None
            s = float(
                np.broadcast_to(np.asarray(scale, dtype=np.float64).ravel(), (3,))[axis]
            )
            out_n = math.floor(n * s)
        x = _resample(
            x, axis, out_n, s, method, geometric_transform_mode, nearest_rounding_mode
        )
    return x


def _resize3d_layer(p: Props, xs: list[Array]) -> Array:
    options = dict(
        method=as_str(p.get("Method", "nearest")) or "nearest",
        geometric_transform_mode=as_str(p.get("GeometricTransformMode", "half-pixel"))
        or "half-pixel",
        nearest_rounding_mode=as_str(p.get("NearestRoundingMode", "round")) or "round",
    )
    if "EnableReferenceInput" in p and as_bool(p["EnableReferenceInput"]):
        return resize3d(xs[0], output_size=xs[1].shape[:3], **options)
    if not is_empty(p.get("OutputSize")):
        wanted = as_f64(p["OutputSize"]).ravel()
        if np.any(
            np.isnan(wanted)
        ):  # keep the aspect ratio: the one given out/in for all
            axis = int(np.flatnonzero(~np.isnan(wanted))[0])
            s = float(wanted[axis]) / xs[0].shape[axis]
            return resize3d(xs[0], scale=(s, s, s), **options)
        return resize3d(xs[0], output_size=[round(float(v)) for v in wanted], **options)
    return resize3d(xs[0], scale=as_f64(p["Scale"]), **options)


def _stride(p: Props) -> tuple[int, int]:
    values = [round(float(v)) for v in as_f64(p["Stride"]).ravel()]
    return (values[0], values[-1])


LAYERS: dict[str, LayerRule] = {
    "YOLOv2TransformLayer": lambda p, xs: yolov2_transform(
        xs[0], round(as_num(p["NumAnchorBoxes"]))
    ),
    "YOLOv2ReorgLayer": lambda p, xs: space_to_depth(xs[0], _stride(p)),
    "Resize3DLayer": _resize3d_layer,
}
