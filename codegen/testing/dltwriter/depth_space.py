"""Depth-to-space and space-to-depth.

No real sample of either class has been seen: both builders are "schema inferred, no
real sample", built-in ``nnet.cnn.layer.*`` classes in the pattern of the closest real
class (a saveobj struct in ``any``: Version 1, Name, then the documented properties in
the documentation's order).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.testing.dltwriter.schema import Layer, saveobj_layer
from codegen.testing.dltwriter.values import char, double


def _block(block_size: int | Sequence[int]) -> np.ndarray:
    """BlockSize as MATLAB keeps it: always [h w] (a scalar given at creation is doubled)."""
    sizes = [block_size] * 2 if isinstance(block_size, int) else list(block_size)
    return double(sizes)


def depth_to_space(
    name: str, block_size: int | Sequence[int], mode: str = "dcr"
) -> Layer:
    """DepthToSpace2DLayer — schema inferred, no real sample: Version 1, Name, BlockSize
    [h w], Mode ('dcr' or 'crd')."""
    fields = {"Name": char(name), "BlockSize": _block(block_size), "Mode": char(mode)}
    return saveobj_layer("DepthToSpace2DLayer", fields)


def space_to_depth(name: str, block_size: int | Sequence[int]) -> Layer:
    """SpaceToDepthLayer — schema inferred, no real sample: Version 1, Name, BlockSize [h w]."""
    fields = {"Name": char(name), "BlockSize": _block(block_size)}
    return saveobj_layer("SpaceToDepthLayer", fields)
