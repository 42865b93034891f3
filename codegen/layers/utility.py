"""MATLAB's utility layers that move or pass data without learning: identityLayer,
spatialDropoutLayer and crop3dLayer (crop2dLayer lives with resize in resize_crop.py).

identityLayer returns its input, so it leaves no line in forward: its template's forward
is its argument, and the forward plan hands the input on under the layer's name.

spatialDropoutLayer is the identity at prediction time, like dropoutLayer; in training it
zeros whole channels of each observation (MATLAB's mask is rand over the channel and batch
dimensions only), which is what nn.Dropout1d/2d/3d do on (N, C, ...) data. The generated
layer keeps that, so fine-tuning the port drops what MATLAB drops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codegen.ir import (
    FEATURE,
    IMAGE,
    IMAGE_SEQUENCE,
    SEQUENCE,
    VOLUME,
    Node,
    TensorInfo,
)
from codegen.layers.common import layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


@register("nnet.cnn.layer.IdentityLayer", ops=("identity",), versions=(1,))
def identity(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """identityLayer (R2024b): output = input."""
    if len(inputs) != 1:
        raise layer.error(
            f"has {len(inputs)} inputs connected; an identity layer takes one."
        )
    return layer_node(layer, "identity", inputs[0])


# The PyTorch module that zeros whole channels of (N, C, ...) data, and whether the
# layout's channels must first move to dimension 1 (sequences (N, T, C) and image
# sequences (N, T, C, H, W), whose MATLAB mask is constant over time too).
_SPATIAL_DROPOUT = {
    FEATURE: ("Dropout", False),  # one value per channel: the mask is elementwise
    SEQUENCE: ("Dropout1d", True),
    IMAGE: ("Dropout2d", False),
    VOLUME: ("Dropout3d", False),
    IMAGE_SEQUENCE: ("Dropout3d", True),
}


@register("nnet.cnn.layer.SpatialDropoutLayer", ops=("spatial_dropout",), versions=(1,))
def spatial_dropout(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """spatialDropoutLayer (R2024a): the identity at prediction time; in training it
    drops each channel of each observation with Probability and scales the rest by
    1/(1 − Probability)."""
    info = inputs[0]
    probability = layer.num("Probability", 0.5, between=(0.0, 1.0))
    if probability is None or probability >= 1.0:
        raise layer.error(
            f"has Probability {probability}; MATLAB takes a number in [0, 1)."
        )
    module, transpose = _SPATIAL_DROPOUT[info.layout]
    node = layer_node(
        layer,
        "spatial_dropout",
        info,
        {"p": probability, "module": module, "transpose": transpose},
    )
    node.comment = "MATLAB spatialDropoutLayer: drops whole channels, in training only"
    if transpose:
        node.forward_comment = "channels first for it: one mask per channel, all steps"
    return node


def _crop_location(layer: LayerRecord) -> tuple[int, int, int] | None:
    """CropLocation: None for 'centercrop', else the 1-based [x y z] (column, row,
    depth) of the crop window's first voxel."""
    stored = layer.array("CropLocation")  # text ('centercrop') reads as None
    if stored is None:
        text = (layer.text("CropLocation", "centercrop") or "centercrop").lower()
        if text != "centercrop":
            raise layer.error(
                f"has CropLocation '{text}'; only 'centercrop' and an [x y z] location exist."
            )
        return None
    values = np.asarray(stored, np.float64).ravel().tolist()
    if len(values) != 3 or any(
        not math.isfinite(v) or v != round(v) or v < 1 for v in values
    ):
        raise layer.error(
            f"has CropLocation {values}; expected 'centercrop' or [x y z] as positive integers."
        )
    x, y, z = (int(v) for v in values)
    return (x, y, z)


@register(
    "nnet.cnn.layer.Crop3DLayer",
    ops=("crop3d",),
    input_names=("in", "ref"),
    versions=(1,),
)
def crop3d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """crop3dLayer: cut input 'in' to the height, width and depth of input 'ref'.

    'centercrop' starts each dimension at floor(in/2) − floor(ref/2) (0-based; MATLAB's
    floor(in/2 + 1) − floor(ref/2 + 1) + 1, the rule of crop2dLayer, so an odd
    difference leaves the extra voxel at the end); an [x y z] CropLocation starts at
    column x, row y and slice z (1-based).
    """
    from codegen.layers.volume import require_volume

    if len(inputs) != 2:
        raise layer.error(
            f"has {len(inputs)} input(s) connected; it crops input 'in' to the size of input 'ref'."
        )
    a, b = inputs
    require_volume(layer, a)
    require_volume(layer, b)
    location = _crop_location(layer)
    # PyTorch's order (D, H, W), as the VOLUME layout's shape.
    start: list[int | None]
    if location is not None:
        x, y, z = location
        start = [z - 1, y - 1, x - 1]
        where = (
            f"MATLAB CropLocation [x y z] = [{x} {y} {z}]: slices from {z - 1}, "
            f"rows from {y - 1}, columns from {x - 1} (0-based)"
        )
    else:
        start = [
            None if sa is None or sb is None else sa // 2 - sb // 2
            for sa, sb in zip(a.shape[1:], b.shape[1:], strict=True)
        ]
        where = "MATLAB 'centercrop': start = floor(in/2) - floor(ref/2) per dimension"
    for axis, what in enumerate(("depth", "height", "width")):
        first, sa, sb = start[axis], a.shape[axis + 1], b.shape[axis + 1]
        if first is None or sa is None or sb is None:
            continue
        if first < 0 or first + sb > sa:
            raise layer.error(
                f"crops a {what} of {sb} from {first} out of {sa}, which leaves the input; "
                "MATLAB rejects this network too."
            )
    out = TensorInfo(VOLUME, (a.channels, *b.shape[1:]))
    node = layer_node(
        layer, "crop3d", out, {"start": tuple(start), "location": location}
    )
    node.forward_comment = where
    return node
