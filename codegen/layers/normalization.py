"""Batch normalization (eval-mode running statistics = MATLAB's trained ones) and
cross-channel (local response) normalization."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codegen.ir import FEATURE, IMAGE, SEQUENCE, VOLUME, Node, TensorInfo
from codegen.layers.common import channels_of, f32, layer_node, require_image
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


@register(
    "nnet.cnn.layer.BatchNormalizationLayer", ops=("batchnorm", "batchnorm_sequence")
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


@register("nnet.cnn.layer.CrossChannelNormalizationLayer", ops=("cross_channel_norm",))
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
