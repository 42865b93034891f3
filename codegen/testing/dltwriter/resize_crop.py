"""2-D resize and crop layers (U-Nets, decoders).

Resize2DLayer copies the schema of the real ``pac48_imagecontrolBC_dlnet.mat`` exactly
(its faithful rebuild is a test); Crop2DLayer has no real sample and follows MATLAB's
documented property names and the closest real class.
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.testing.dltwriter.schema import (
    CUSTOM_LAYER_DEFAULTS,
    Layer,
    saveobj_layer,
)
from codegen.testing.dltwriter.values import (
    char,
    char_or_double,
    double,
    empty,
    logical,
    string,
)


def matlab_row(values: Sequence[float]) -> str:
    """How MATLAB prints a row vector in a description: [64 64], [1.5 2]."""
    return "[" + " ".join(f"{float(v):g}" for v in values) + "]"


def resize2d(
    name: str,
    *,
    scale: float | Sequence[float] | None = None,
    output_size: Sequence[float] | None = None,
    enable_reference_input: bool = False,
    method: str = "nearest",
    geometric_transform_mode: str = "half-pixel",
    nearest_rounding_mode: str = "round",
) -> Layer:
    """Resize2DLayer v3, as in pac48_imagecontrolBC_dlnet.mat (OutputSize [64 64],
    'bilinear'): an ``nnet.layer.Layer`` subclass saved through saveobj (``any``) with the
    Layer base's class defaults, Scale/OutputSize [] when unused. Seen only with an
    OutputSize: the Description and GetOutputSizeAndScale of the Scale and
    reference-input forms are inferred."""
    if sum((scale is not None, output_size is not None, enable_reference_input)) != 1:
        raise ValueError(
            "give exactly one of scale, output_size or enable_reference_input"
        )
    if output_size is not None:
        description = f"Resize 2d layer with output size of {matlab_row(output_size)}."
        sizing = "iComputeScaleFromOutputSize"
    elif scale is not None:
        scales = [scale] if isinstance(scale, float | int) else list(scale)
        description = f"Resize 2d layer with scale of {matlab_row(scales)}."
        sizing = "iComputeOutputSizeFromScale"
    else:
        description = "Resize 2d layer with reference input."
        sizing = "iComputeScaleAndOutputSizeFromReferenceInput"
    fields = {
        "Name": char(name),
        "Scale": empty() if scale is None else double(scale),
        "OutputSize": empty() if output_size is None else double(output_size),
        "EnableReferenceInput": logical(enable_reference_input),
        "Method": char(method),
        "GeometricTransformMode": char(geometric_transform_mode),
        "NearestRoundingMode": char(nearest_rounding_mode),
        "Description": char(description),
        "Type": char("Resize"),
        "DlresizeMethodName": char("linear" if method == "bilinear" else method),
        "GetOutputSizeAndScale": string(sizing),
    }
    return saveobj_layer(
        "Resize2DLayer", fields, version=3, defaults=CUSTOM_LAYER_DEFAULTS
    )


def crop2d(
    name: str, mode: str = "centercrop", location: Sequence[int] | None = None
) -> Layer:
    """Crop2DLayer (inputs 'in' and 'ref') — schema inferred, no real sample (Version 1,
    Name, Mode, Location: [x y] for 'custom', 'auto' for 'centercrop')."""
    if (mode == "custom") != (location is not None):
        raise ValueError("a 'custom' crop needs a location [x y]; 'centercrop' none")
    fields = {
        "Name": char(name),
        "Mode": char(mode),
        "Location": char_or_double("auto" if location is None else list(location)),  # type: ignore[arg-type]
    }
    return saveobj_layer("Crop2DLayer", fields)
