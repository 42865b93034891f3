"""Group and instance normalization: statistics of each observation, never of the batch.

Both layers normalize with the mean and (biased) variance of one observation and then
apply a per-channel Scale and Offset, in training and at inference alike, so PyTorch's
GroupNorm / InstanceNorm (no running statistics) compute them exactly. What MATLAB
averages over, from its documentation of ``groupnorm`` and ``instancenorm`` [doc]:

* groupNormalizationLayer: the spatial and time dimensions and the channels of one group
  (groups are consecutive blocks of NumChannels/NumGroups channels, as in nn.GroupNorm).
  NumGroups 'all-channels' is one group (layer normalization over S, S, C), 'channel-wise'
  one group per channel (instance normalization).
* instanceNormalizationLayer: the spatial and time dimensions, per channel.

Sequences (N, T, C) move their channels to dim 1 for PyTorch and back. Statistics over
time include any padding a batch of sequences of different lengths carries (as, we
assume, in a padded MATLAB mini-batch): run sequences one at a time, or of equal length,
for per-sequence results. No MATLAB file with either layer has been seen: the field
names (NumGroups, Epsilon, NumChannels, Offset, Scale) are the documented properties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codegen.ir import FEATURE, IMAGE, SEQUENCE, Node, TensorInfo
from codegen.layers.common import channel_vector, channels_of, layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _affine(layer: LayerRecord, channels: int) -> dict[str, np.ndarray | None]:
    """Scale and Offset (stored 1×1×C or C×1) as the module's weight and bias."""
    return {
        "weight": channel_vector(layer, layer.array("Scale"), channels, "Scale"),
        "bias": channel_vector(layer, layer.array("Offset"), channels, "Offset"),
    }


def _epsilon(layer: LayerRecord) -> float:
    eps = layer.num("Epsilon", 1e-5, positive=True)
    if eps is None or not math.isfinite(eps) or eps <= 0:
        raise layer.error(f"has Epsilon {eps!r}; expected a positive number.")
    return float(eps)


def _groups(layer: LayerRecord, channels: int) -> tuple[int, str]:
    """NumGroups as a count, and how MATLAB spelled it (for the comment)."""
    text = layer.text("NumGroups")
    if text is not None:
        spelled = text.strip().lower()
        if spelled == "all-channels":
            return 1, "'all-channels' (one group)"
        if spelled == "channel-wise":
            return channels, "'channel-wise' (one group per channel)"
        raise layer.error(
            f"has NumGroups '{text}'; expected a number, 'all-channels' or 'channel-wise'."
        )
    number = layer.num("NumGroups")
    if number is None:
        raise layer.error("has no NumGroups.")
    if not math.isfinite(number) or number != int(number) or number < 1:
        raise layer.error(f"has NumGroups {number!r}; expected a positive integer.")
    groups = int(number)
    if channels % groups:
        raise layer.error(
            f"splits {channels} channels into {groups} groups, which does not divide them; "
            "MATLAB rejects this network too."
        )
    return groups, f"{groups} (groups of {channels // groups} channels)"


@register("nnet.cnn.layer.GroupNormalizationLayer", ops=("group_norm",))
def group_norm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout not in (IMAGE, FEATURE, SEQUENCE):
        raise layer.error(f"receives {info.describe()}, which it cannot normalize.")
    channels = channels_of(layer, info)
    groups, spelled = _groups(layer, channels)
    over = {
        IMAGE: "H, W",
        SEQUENCE: "time",
        FEATURE: "nothing else",
    }[info.layout]
    attrs = {
        "num_groups": groups,
        "num_channels": channels,
        "eps": _epsilon(layer),
        "sequence": info.layout == SEQUENCE,
    }
    node = layer_node(
        layer,
        "group_norm",
        info,
        attrs,
        params=_affine(layer, channels),
        comment=f"MATLAB group normalization, NumGroups {spelled}: per observation over "
        f"the group's channels and {over}; per-channel Scale and Offset",
    )
    if info.layout == SEQUENCE:
        node.forward_comment = (
            "GroupNorm wants (N, C, T): channels to dim 1 and back; padded time steps "
            "count in the statistics"
        )
    return node


@register("nnet.cnn.layer.InstanceNormalizationLayer", ops=("instance_norm",))
def instance_norm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    if info.layout not in (IMAGE, SEQUENCE):
        # One value per channel and observation: nothing to average over. MATLAB's
        # instancenorm needs spatial or time dimensions too.
        raise layer.error(
            f"receives {info.describe()}; instance normalization needs an image or a sequence."
        )
    channels = channels_of(layer, info)
    attrs = {
        "num_channels": channels,
        "eps": _epsilon(layer),
        "dims": 2 if info.layout == IMAGE else 1,
    }
    over = "H, W" if info.layout == IMAGE else "time"
    node = layer_node(
        layer,
        "instance_norm",
        info,
        attrs,
        params=_affine(layer, channels),
        comment=f"MATLAB instance normalization: each channel of each observation over "
        f"{over}; per-channel Scale and Offset",
    )
    if info.layout == SEQUENCE:
        node.forward_comment = (
            "InstanceNorm1d wants (N, C, T): channels to dim 1 and back; padded time "
            "steps count in the statistics"
        )
    return node
