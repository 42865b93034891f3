"""Resize2DLayer and Crop2DLayer: the spatial size changes of U-Nets and decoders.

Both may take a second input, 'ref', whose height and width set the output size; the
importer wires a destination ``layer/ref`` to it through ``input_names``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codegen.ir import IMAGE, VOLUME, Node, TensorInfo
from codegen.layers.common import layer_node, require_image
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register

# (Method, GeometricTransformMode, NearestRoundingMode) → the F.interpolate mode that
# computes exactly that (SEMANTICS.md §Resize); any other combination uses the explicit
# resize2d_matlab helper. Bilinear ignores the rounding mode.
_INTERPOLATE = {
    ("bilinear", "half-pixel", None): "bilinear",  # align_corners=False
    ("nearest", "half-pixel", "round"): "nearest-exact",  # floor((d + 0.5)·in/out)
    ("nearest", "asymmetric", "floor"): "nearest",  # floor(d·in/out)
}


def _interpolates_exactly(scale: tuple[float, float]) -> bool:
    """Whether F.interpolate(scale_factor=scale) samples where MATLAB does.

    It does for whole scales and their reciprocals. Otherwise not always: F.interpolate
    copies when the output size equals the input size, and 'nearest' also takes every
    other pixel when the output is twice the input, whatever the scale.
    """
    return all(s == round(s) or 1 / s == round(1 / s) for s in scale)


def _mode(layer: LayerRecord, key: str, default: str, allowed: Sequence[str]) -> str:
    value = (layer.text(key, default) or default).lower()
    if value not in allowed:
        raise layer.error(
            f"uses {key} '{value}'; only {', '.join(repr(a) for a in allowed)} are supported."
        )
    return value


def _scale(layer: LayerRecord) -> tuple[float, float]:
    values = np.asarray(layer.array("Scale"), dtype=np.float64).ravel()
    if values.size not in (1, 2) or not np.all(np.isfinite(values) & (values > 0)):
        raise layer.error(
            f"has Scale {values.tolist()}; expected one or two positive numbers."
        )
    pair = np.broadcast_to(values, (2,))
    return (float(pair[0]), float(pair[1]))


def _output_size(layer: LayerRecord) -> tuple[int, int]:
    values = np.asarray(layer.array("OutputSize"), dtype=np.float64).ravel()
    if values.size == 2 and np.any(np.isnan(values)):
        raise layer.error(
            "has an OutputSize with a NaN (keep the aspect ratio), which is not supported; "
            "give both the height and the width in MATLAB."
        )
    if values.size != 2 or np.any(values < 1) or np.any(values != np.round(values)):
        raise layer.error(
            f"has OutputSize {values.tolist()}; expected [height width] as positive integers."
        )
    return (int(values[0]), int(values[1]))


def _resize_settings(
    layer: LayerRecord, inputs: Sequence[TensorInfo], linear: str
) -> tuple[str, str, str | None, bool]:
    """(Method, GeometricTransformMode, NearestRoundingMode or None, reference input)
    of a resize layer, checked; ``linear`` names its interpolating Method ('bilinear',
    'trilinear')."""
    method = _mode(layer, "Method", "nearest", ("nearest", linear))
    transform = _mode(
        layer, "GeometricTransformMode", "half-pixel", ("half-pixel", "asymmetric")
    )
    rounding = (
        _mode(layer, "NearestRoundingMode", "round", ("round", "floor", "onnx-10"))
        if method == "nearest"
        else None
    )
    reference = layer.flag("EnableReferenceInput")
    expected_inputs = 2 if reference else 1
    if len(inputs) != expected_inputs:
        raise layer.error(
            f"has {len(inputs)} input(s) connected; with EnableReferenceInput "
            f"{'true' if reference else 'false'} it takes {expected_inputs}."
        )
    return method, transform, rounding, reference


@register(
    "nnet.cnn.layer.Resize2DLayer",
    ops=("resize2d",),
    input_names=("in", "ref"),
    versions=(3,),
)
def resize2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """resize2dLayer / dlresize, without antialiasing.

    Output pixel d samples input coordinate (d + 0.5)/scale − 0.5 ('half-pixel') or
    d/scale ('asymmetric'), clamped to the image; 'nearest' rounds it ('round': halves
    away from zero, 'floor', or 'onnx-10': ceil when downsampling, else floor, as dlresize's
    interpSpatialDims does), 'bilinear' interpolates. With OutputSize (or a reference
    input) scale = out/in; with Scale the output is floor(in·Scale) and the coordinates use
    Scale itself, as ONNX Resize does. That Scale rule and the floor are MATLAB's
    ONNX-style behaviour as we read its documentation, not checked against MATLAB for a
    scale where in·Scale is not a whole number.

    F.interpolate computes this for three combinations (_INTERPOLATE) when given a size or
    a whole (or reciprocal of a whole) scale; otherwise the explicit helper does, in
    float64. F.interpolate works out in/out in float32, so 'nearest' at an exact rounding
    tie (6 → 37 rows: output row 18 falls exactly halfway between input rows 2 and 3) may
    pick a different neighbour from MATLAB's arithmetic (float64, assumed).
    """
    info = inputs[0]
    require_image(layer, info)
    method, transform, rounding, reference = _resize_settings(layer, inputs, "bilinear")
    size: tuple[int, int] | None = None
    scale: tuple[float, float] | None = None
    height, width = info.shape[1], info.shape[2]
    if reference:
        require_image(layer, inputs[1])
        out_h, out_w = inputs[1].shape[1], inputs[1].shape[2]
    elif layer.has("OutputSize"):
        size = _output_size(layer)
        out_h, out_w = size
    elif layer.has("Scale"):
        scale = _scale(layer)
        out_h = None if height is None else math.floor(height * scale[0])
        out_w = None if width is None else math.floor(width * scale[1])
    else:
        raise layer.error(
            "stores neither Scale nor OutputSize and has no reference input."
        )
    if 0 in (out_h, out_w):
        raise layer.error(
            f"resizes a {height}×{width} image to {out_h}×{out_w}, which is empty."
        )
    mode = _INTERPOLATE.get((method, transform, rounding))
    if scale is not None and not _interpolates_exactly(scale):
        mode = None
    attrs = {
        "method": method,
        "transform": transform,
        "rounding": rounding,
        "size": size,
        "scale": scale,
        "reference": reference,
        "mode": mode,
    }
    node = layer_node(
        layer, "resize2d", TensorInfo(IMAGE, (info.channels, out_h, out_w)), attrs
    )
    what = f"MATLAB Method '{method}', GeometricTransformMode '{transform}'" + (
        f", NearestRoundingMode '{rounding}'" if rounding else ""
    )
    if reference:
        node.forward_comment = f"{what}; output size from the reference input"
    elif scale is not None:
        node.forward_comment = f"{what}; out = floor(in * Scale), coordinates use Scale"
    else:
        node.forward_comment = what
    return node


@register(
    "nnet.cnn.layer.Crop2DLayer",
    ops=("crop2d",),
    input_names=("in", "ref"),
    versions=(1,),
)
def crop2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """crop2dLayer: cut input 'in' to the height and width of input 'ref'.

    'centercrop' starts at floor(in/2) − floor(out/2) (0-based; MATLAB's floor(in/2 + 1) −
    floor(out/2 + 1)), 'custom' at Location = [x y], the 1-based column and row.
    """
    if len(inputs) != 2:
        raise layer.error(
            f"has {len(inputs)} input(s) connected; it crops input 'in' to the size of input 'ref'."
        )
    a, b = inputs
    require_image(layer, a)
    require_image(layer, b)
    location = layer.array("Location")  # numeric [x y]; the text 'auto' reads as None
    mode = (layer.text("Mode", "") or "").lower() or (
        "custom" if location is not None else "centercrop"
    )
    start: list[int | None]
    xy: tuple[int, int] | None = None
    if mode == "custom":
        values = (
            []
            if location is None
            else np.asarray(location, np.float64).ravel().tolist()
        )
        if len(values) != 2 or any(
            not math.isfinite(v) or v != round(v) or v < 1 for v in values
        ):
            raise layer.error(
                f"has Mode 'custom' with Location {values}; expected [x y] as positive integers."
            )
        x, y = int(values[0]), int(values[1])
        xy = (x, y)
        start = [y - 1, x - 1]
        where = f"MATLAB Location [x y] = [{x} {y}]: rows from {y - 1}, columns from {x - 1} (0-based)"
    elif mode == "centercrop":
        start = [
            None if sa is None or sb is None else sa // 2 - sb // 2
            for sa, sb in ((a.shape[1], b.shape[1]), (a.shape[2], b.shape[2]))
        ]
        where = (
            "MATLAB 'centercrop': start = floor(in/2) - floor(ref/2), rows and columns"
        )
    else:
        raise layer.error(f"has Mode '{mode}'; only 'centercrop' and 'custom' exist.")
    for axis, what in ((0, "height"), (1, "width")):
        first, sa, sb = start[axis], a.shape[axis + 1], b.shape[axis + 1]
        if first is None or sa is None or sb is None:
            continue
        if first < 0 or first + sb > sa:
            raise layer.error(
                f"crops a {what} of {sb} from {first} out of {sa}, which leaves the input; "
                "MATLAB rejects this network too."
            )
    out = TensorInfo(IMAGE, (a.channels, b.shape[1], b.shape[2]))
    node = layer_node(
        layer,
        "crop2d",
        out,
        {"mode": mode, "start": tuple(start), "location": xy},
    )
    node.forward_comment = where
    return node


# (Method, GeometricTransformMode, NearestRoundingMode) → the exact F.interpolate mode on
# (N, C, D, H, W); as _INTERPOLATE, with MATLAB's 'trilinear'.
_INTERPOLATE_3D = {
    ("trilinear", "half-pixel", None): "trilinear",  # align_corners=False
    ("nearest", "half-pixel", "round"): "nearest-exact",
    ("nearest", "asymmetric", "floor"): "nearest",
}


def _volume_sizes(
    layer: LayerRecord, key: str, allow_nan: bool
) -> tuple[float, float, float]:
    """A MATLAB [h w d] (or one value for all three) as (d, h, w), PyTorch's order."""
    values = np.asarray(layer.array(key), dtype=np.float64).ravel()
    if values.size == 1:
        values = np.repeat(values, 3)
    bad = values.size != 3 or np.any((values <= 0) | np.isinf(values))
    if bad or (not allow_nan and np.any(np.isnan(values))):
        raise layer.error(
            f"has {key} {values.tolist()}; expected [h w d] as positive numbers."
        )
    h, w, d = (float(v) for v in values)
    return (d, h, w)


@register(
    "nnet.cnn.layer.Resize3DLayer",
    ops=("resize3d",),
    input_names=("in", "ref"),
    # 1: no EnableReferenceInput, which then means false (as MATLAB's loadobj upgrades
    # it); 2.
    versions=(1, 2),
)
def resize3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """resize3dLayer: Resize2DLayer's rules over depth, height and width of a volume.

    Sampling as :func:`resize2d` along each of the three dimensions, with MATLAB's
    'trilinear' for 'bilinear' and one more rounding mode, 'onnx-10': floor when the
    scale is at least 1, ceil below (onnxruntime's opset-10 rule, as dlresize's
    interpSpatialDims implements it). An OutputSize with NaNs keeps the aspect ratio:
    MATLAB then scales every dimension by the one given out/in and floors
    (Resize3DLayer's iComputeScaleFromOutputSizeWithNaN).
    """
    from codegen.layers.volume import require_volume

    info = inputs[0]
    require_volume(layer, info)
    method, transform, rounding, reference = _resize_settings(
        layer, inputs, "trilinear"
    )
    dhw = info.shape[1:]
    size: tuple[int, ...] | None = None
    scale: tuple[float, ...] | None = None
    out: tuple[int | None, ...]
    if reference:
        require_volume(layer, inputs[1])
        out = inputs[1].shape[1:]
    elif layer.has("OutputSize"):
        wanted = _volume_sizes(layer, "OutputSize", allow_nan=True)
        given = [(o, n) for o, n in zip(wanted, dhw, strict=True) if not math.isnan(o)]
        if len(given) == 3:
            if any(o != round(o) for o in wanted):
                raise layer.error(f"has OutputSize {list(wanted)}; expected integers.")
            size = tuple(int(o) for o in wanted)
            out = size
        elif len(given) == 1 and given[0][1] is not None:
            s = given[0][0] / given[0][1]  # MATLAB: one scale for all three, then floor
            scale = (s, s, s)
            out = tuple(None if n is None else math.floor(n * s) for n in dhw)
        else:
            raise layer.error(
                "has an OutputSize with NaNs (keep the aspect ratio) but the size of the "
                "dimension it gives is unknown, or more than one NaN is missing; give all three sizes in MATLAB."
            )
    elif layer.has("Scale"):
        scale = _volume_sizes(layer, "Scale", allow_nan=False)
        out = tuple(
            None if n is None else math.floor(n * s)
            for n, s in zip(dhw, scale, strict=True)
        )
    else:
        raise layer.error(
            "stores neither Scale nor OutputSize and has no reference input."
        )
    if 0 in out:
        raise layer.error(f"resizes a {dhw} volume to {out}, which is empty.")
    mode = _INTERPOLATE_3D.get((method, transform, rounding))
    if scale is not None and not _interpolates_exactly(scale):  # type: ignore[arg-type]
        mode = None
    attrs = {
        "method": method,
        "transform": transform,
        "rounding": rounding,
        "size": size,
        "scale": scale,
        "reference": reference,
        "mode": mode,
    }
    node = layer_node(
        layer, "resize3d", TensorInfo(VOLUME, (info.channels, *out)), attrs
    )
    what = f"MATLAB Method '{method}', GeometricTransformMode '{transform}'" + (
        f", NearestRoundingMode '{rounding}'" if rounding else ""
    )
    if reference:
        what += "; output size from the reference input"
    elif scale is not None:
        what += "; out = floor(in * Scale), coordinates use Scale"
    node.forward_comment = what + "; sizes in (D, H, W) order, MATLAB's [h w d]"
    return node
