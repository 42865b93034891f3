"""YOLO v2 detection layers and the 3-D resize layer — schemas inferred, no real sample.

Each follows what the class's own ``saveobj`` returns (MATLAB's source) in the pattern of
the closest real class: Resize2DLayer (pac48_imagecontrolBC_dlnet.mat), an
``nnet.layer.Layer`` subclass whose saveobj struct sits in ``any`` beside the Layer base's
class defaults, for YOLOv2TransformLayer (saveobj: Name, NumAnchorBoxes — no Version)
and Resize3DLayer (saveobj Version 2); LeakyReLULayer's built-in pattern (``any`` =
Version 1, Name, then the properties) for YOLOv2ReorgLayer (Version 1, Name, Stride).
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.testing.dltwriter.resize_crop import matlab_row
from codegen.testing.dltwriter.schema import (
    CUSTOM_LAYER_DEFAULTS,
    LAYER_DEFAULTS,
    NNET,
    DltObject,
    Layer,
)
from codegen.testing.dltwriter.values import (
    char,
    double,
    empty,
    logical,
    string,
    struct,
)


def yolov2_transform(name: str, num_anchor_boxes: int) -> Layer:
    """YOLOv2TransformLayer — schema inferred, no real sample."""
    record = struct({"Name": char(name), "NumAnchorBoxes": double(num_anchor_boxes)})
    return DltObject(
        NNET + "YOLOv2TransformLayer", {"any": record}, CUSTOM_LAYER_DEFAULTS
    )


def yolov2_reorg(name: str, stride: Sequence[int] = (2, 2)) -> Layer:
    """YOLOv2ReorgLayer — schema inferred, no real sample."""
    record = struct(
        {"Version": double(1), "Name": char(name), "Stride": double(list(stride))}
    )
    return DltObject(NNET + "YOLOv2ReorgLayer", {"any": record}, LAYER_DEFAULTS)


def resize3d(
    name: str,
    *,
    scale: float | Sequence[float] | None = None,
    output_size: Sequence[float] | None = None,
    enable_reference_input: bool = False,
    method: str = "nearest",
    geometric_transform_mode: str = "half-pixel",
    nearest_rounding_mode: str = "round",
    version: int = 2,
) -> Layer:
    """Resize3DLayer (saveobj Version 2; Version 1 has no EnableReferenceInput) — schema
    inferred, no real sample. Sizes and scales are MATLAB's [h w d]."""
    if sum((scale is not None, output_size is not None, enable_reference_input)) != 1:
        raise ValueError(
            "give exactly one of scale, output_size or enable_reference_input"
        )
    if output_size is not None:
        description = f"Resize 3d layer with output size of {matlab_row(output_size)}."
        nan = any(v != v for v in output_size)
        sizing = (
            "iComputeScaleFromOutputSizeWithNaN"
            if nan
            else "iComputeScaleFromOutputSize"
        )
    elif scale is not None:
        scales = [scale] if isinstance(scale, float | int) else list(scale)
        description = f"Resize 3d layer with scale of {matlab_row(scales)}."
        sizing = "iComputeOutputSizeFromScale"
    else:
        description = ""
        sizing = "iComputeScaleFromReferenceLayer"
    fields = {
        "Version": double(version),
        "Name": char(name),
        "Scale": empty() if scale is None else double(scale),
        "OutputSize": empty() if output_size is None else double(list(output_size)),
        "EnableReferenceInput": logical(enable_reference_input),
        "Method": char(method),
        "GeometricTransformMode": char(geometric_transform_mode),
        "NearestRoundingMode": char(nearest_rounding_mode),
        "Description": char(description),
        "Type": char("Resize"),
        "DlresizeMethodName": char("linear" if method == "trilinear" else method),
        "GetOutputSizeAndScale": string(sizing),
    }
    if version == 1:
        del fields["EnableReferenceInput"]
    return DltObject(
        NNET + "Resize3DLayer", {"any": struct(fields)}, CUSTOM_LAYER_DEFAULTS
    )
