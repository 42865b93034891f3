"""Normalization layers.

Batch normalization: eval-mode running statistics = MATLAB's trained ones. Cross-channel
(local response) normalization: nn.LocalResponseNorm.

Group and instance normalization: statistics of each observation, never of the batch.
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

from codegen.ir import FEATURE, IMAGE, SEQUENCE, VOLUME, Node, TensorInfo
from codegen.layers.common import (
    channel_vector,
    channels_of,
    f32,
    layer_node,
    require_image,
)
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


@register(
    "nnet.cnn.layer.BatchNormalizationLayer",
    ops=("batchnorm", "batchnorm_sequence"),
    versions=(1, 2, 3),
)
def batchnorm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """Per channel: Scale·(x − TrainedMean)/sqrt(TrainedVariance + Epsilon) + Offset.

    MATLAB normalizes a sequence per channel over batch and time, which is BatchNorm1d on
    (N, C, T): the sequence op moves the channels of (N, T, C) there and back. Volumes
    (N, C, D, H, W) are BatchNorm3d's.
    """
    info = inputs[0]
    channels = channels_of(layer, info)
    if info.layout not in (IMAGE, FEATURE, SEQUENCE, VOLUME):
        raise layer.error(f"receives {info.describe()}, which it cannot normalize.")

    def vec(key: str) -> np.ndarray | None:
        value = layer.shaped(key, (channels,))
        return None if value is None else f32(value)

    params: dict[str, np.ndarray | None] = {
        "weight": vec("Scale"),
        "bias": vec("Offset"),
        "running_mean": vec("TrainedMean"),
        "running_var": vec("TrainedVariance"),
    }
    trained = params["running_mean"] is not None
    params["num_batches_tracked"] = np.array(0, dtype=np.int64) if trained else None
    eps = layer.num("Epsilon", 1e-5, positive=True) or 1e-5
    if info.layout == SEQUENCE:
        node = layer_node(
            layer,
            "batchnorm_sequence",
            info,
            {"num_features": channels, "eps": eps},
            params=params,
        )
        node.forward_comment = "BatchNorm1d wants (N, C, T): channels to dim 1 and back"
        return node
    attrs = {
        "num_features": channels,
        "eps": eps,
        "dims": {IMAGE: 2, VOLUME: 3}.get(info.layout, 1),
    }
    return layer_node(layer, "batchnorm", info, attrs, params=params)


@register(
    "nnet.cnn.layer.CrossChannelNormalizationLayer",
    ops=("cross_channel_norm",),
    versions=(1,),
)
def cross_channel_norm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """crossChannelNormalizationLayer: y = x / (K + Alpha·ss/N)^Beta, N = WindowChannelSize.

    ss sums x² over channels [c − ⌊(N−1)/2⌋, c + ⌊N/2⌋], clipped at the first and last
    channel. nn.LocalResponseNorm(N, alpha, beta, k) computes the same formula (it too
    divides alpha by N, so alpha passes unchanged) over [c − ⌊N/2⌋, c + ⌊(N−1)/2⌋]: equal
    for odd N, mirrored for even N, so an even window runs on the channels reversed (the
    same trick as MatConvNet's LRN). Which side MATLAB's even window favours is taken from
    the NumPy reference and not confirmed by a MATLAB oracle.
    """
    info = inputs[0]
    require_image(layer, info)
    size = layer.num("WindowChannelSize")
    if size is None or not math.isfinite(size) or size != int(size) or size < 1:
        raise layer.error(
            f"has WindowChannelSize {size!r}; expected a positive integer."
        )
    n = int(size)
    alpha = float(layer.num("Alpha", 1e-4) or 0.0)
    beta = float(layer.num("Beta", 0.75) or 0.0)
    k = float(layer.num("K", 2.0) or 0.0)
    flip = n % 2 == 0
    attrs = {"size": n, "alpha": alpha, "beta": beta, "k": k, "flip": flip}
    node = layer_node(layer, "cross_channel_norm", info, attrs)
    node.comment = "MATLAB and PyTorch both divide Alpha by the window size"
    if flip:
        node.forward_comment = f"even WindowChannelSize {n}: MATLAB's window [c-{(n - 1) // 2}, c+{n // 2}] is PyTorch's mirrored"
    return node


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


@register("nnet.cnn.layer.GroupNormalizationLayer", ops=("group_norm",), versions=(1,))
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


@register(
    "nnet.cnn.layer.InstanceNormalizationLayer", ops=("instance_norm",), versions=(1,)
)
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
