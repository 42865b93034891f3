"""identityLayer, spatialDropoutLayer and crop3dLayer at prediction time (MATLAB doc).

Volumes are MATLAB's (H, W, D, C, N), as in :mod:`.volume`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codegen.reference.matlab_numpy.fields import Array, LayerRule, Props, as_str


def identity(x: Array) -> Array:
    """identityLayer: the output is identical to the input."""
    return np.array(x, dtype=np.float64)


def spatial_dropout(x: Array) -> Array:
    """spatialDropoutLayer at prediction time: the output equals the input (channels are
    dropped only in training)."""
    return np.array(x, dtype=np.float64)


def crop3d(
    x: Array, output_size: Sequence[int], location: Sequence[int] | None = None
) -> Array:
    """crop3dLayer on (H, W, D, C, N) to ``output_size`` [h w d].

    Without ``location`` ('centercrop'), the window's first voxel along each dimension
    is MATLAB's floor(in/2 + 1) − floor(out/2 + 1) + 1 (1-based), as for crop2dLayer;
    ``location`` is the 1-based [x y z]: column, row, slice.
    """
    x = np.asarray(x, dtype=np.float64)
    out = [int(v) for v in output_size]
    if location is None:
        first = [
            int(math.floor(n / 2 + 1) - math.floor(o / 2 + 1) + 1)
            for n, o in zip(x.shape[:3], out, strict=True)
        ]
    else:
        column, row, depth = (int(v) for v in location)
        first = [row, column, depth]
    for f, o, n in zip(first, out, x.shape[:3], strict=True):
        if f < 1 or f - 1 + o > n:
            raise ValueError(f"crop window {f}..{f + o - 1} leaves 1..{n}")
    (r, c, d), (h, w, k) = first, out
    return x[r - 1 : r - 1 + h, c - 1 : c - 1 + w, d - 1 : d - 1 + k]


def _crop3d_layer(p: Props, xs: list[Array]) -> Array:
    location = p.get("CropLocation")
    numeric = location is not None and np.asarray(location).dtype.kind in "biuf"
    if not numeric and as_str(location) != "centercrop":
        raise ValueError(f"unknown CropLocation {location!r}")
    loc = (
        [int(v) for v in np.asarray(location, np.float64).ravel()] if numeric else None
    )
    return crop3d(xs[0], xs[1].shape[:3], loc)


LAYERS: dict[str, LayerRule] = {
    "IdentityLayer": lambda p, xs: identity(xs[0]),
    "SpatialDropoutLayer": lambda p, xs: spatial_dropout(xs[0]),
    "Crop3DLayer": _crop3d_layer,
}
