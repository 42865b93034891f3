"""Utility layers: identityLayer, spatialDropoutLayer and crop3dLayer.

None has a real sample: each schema is inferred from the closest real built-in class
(DropoutLayer's saveobj struct ``any`` = Version 1, Name, then the documented
properties), with MATLAB's documented property names.
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.testing.dltwriter.schema import Layer, saveobj_layer
from codegen.testing.dltwriter.values import char, char_or_double, double


def identity(name: str) -> Layer:
    """IdentityLayer (R2024b) — schema inferred: Version 1, Name, like ReLULayer."""
    return saveobj_layer("IdentityLayer", {"Name": char(name)})


def spatial_dropout(name: str, probability: float = 0.5) -> Layer:
    """SpatialDropoutLayer (R2024a) — schema inferred: Version 1, Name, Probability, like
    DropoutLayer."""
    return saveobj_layer(
        "SpatialDropoutLayer",
        {"Name": char(name), "Probability": double(probability)},
    )


def crop3d(name: str, location: Sequence[int] | None = None) -> Layer:
    """Crop3DLayer (inputs 'in' and 'ref') — schema inferred: Version 1, Name,
    CropLocation ('centercrop', or [x y z] 1-based), like Crop2DLayer."""
    crop_location = "centercrop" if location is None else [float(v) for v in location]
    return saveobj_layer(
        "Crop3DLayer",
        {"Name": char(name), "CropLocation": char_or_double(crop_location)},  # type: ignore[arg-type]
    )
