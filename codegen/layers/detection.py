"""YOLO v2 detection layers: yolov2TransformLayer and yolov2ReorgLayer.

YOLOv2TransformLayer (Computer Vision Toolbox) reads the last convolution's
NumAnchorBoxes·(5 + K) channels as MATLAB's ``reshape(X, H·W, A, C/A, N)``: channel k
(0-based) is anchor ``k mod A`` and element ``k div A`` — the anchors run fastest. Per
anchor the elements are [IoU, x, y, w, h, K class scores]; predict applies a sigmoid to
IoU, x and y, exp to w and h and a softmax over the K scores, and reshapes back. That is
the layer's own ``predict`` in MATLAB's source (R2018b–R2024); the per-anchor element
order matches the ``numAnchors·(5 + numClasses)`` channel count its network checks ask for.

YOLOv2ReorgLayer (removed in R2024a; spaceToDepthLayer replaces it) saves ``Stride``
[a b]; MATLAB's internal layer runs the very execution strategy spaceToDepthLayer runs,
with BlockSize = Stride (its ``loadobj``): output channel (i·b + j)·C + c holds pixel
(h·a + i, w·b + j), channel c, and the rows and columns past the last whole block are
cropped from the end. That is not darknet's reorg order, whose channel index runs the
other way; files from R2018b–R2019b, before that implementation, were not seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import IMAGE, Node, TensorInfo
from codegen.layers.common import layer_node, require_image
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register

# Stored Version values each converter understands: the saveobj struct's own Version
# (YOLOv2ReorgLayer) or, where saveobj stores none, the class default beside it.
TRANSFORM_VERSIONS = (1.0,)
REORG_VERSIONS = (1.0,)


def _check_version(layer: LayerRecord, known: Sequence[float]) -> None:
    version = layer.num("Version") if layer.has("Version") else known[0]
    if version not in known:
        listed = ", ".join(f"{v:g}" for v in known)
        raise layer.error(
            f"is stored with schema Version {version:g}, which mat2torch does not know "
            f"(it reads Version {listed}); please report the MATLAB release that saved it."
        )


def _positive_int(layer: LayerRecord, key: str) -> int:
    values = layer.array(key)
    flat = [] if values is None else [float(v) for v in np.ravel(values)]
    if len(flat) != 1 or flat[0] < 1 or flat[0] != int(flat[0]):
        raise layer.error(f"has {key} {flat}; expected one positive integer.")
    return int(flat[0])


@register(
    "nnet.cnn.layer.YOLOv2TransformLayer", ops=("yolov2_transform",), versions=(1,)
)
def yolov2_transform(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    _check_version(layer, TRANSFORM_VERSIONS)
    anchors = _positive_int(layer, "NumAnchorBoxes")
    channels = info.channels
    if channels is not None and (channels % anchors or channels // anchors < 5):
        raise layer.error(
            f"receives {channels} channels, which is not NumAnchorBoxes·(5 + classes) for "
            f"{anchors} anchor boxes; MATLAB rejects this network too."
        )
    classes = None if channels is None else channels // anchors - 5
    node = layer_node(
        layer, "yolov2_transform", info, {"anchors": anchors, "classes": classes}
    )
    node.forward_comment = (
        f"MATLAB channel k = element * {anchors} + anchor; elements per anchor: "
        "IoU, x, y (sigmoid), w, h (exp), class scores (softmax)"
    )
    return node


@register("nnet.cnn.layer.YOLOv2ReorgLayer", ops=("space_to_depth",), versions=(1,))
def yolov2_reorg(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    _check_version(layer, REORG_VERSIONS)
    values = layer.array("Stride")
    flat = [] if values is None else [float(v) for v in np.ravel(values)]
    if len(flat) != 2 or any(v < 1 or v != int(v) for v in flat):
        raise layer.error(f"has Stride {flat}; expected [a b], two positive integers.")
    bh, bw = int(flat[0]), int(flat[1])
    height, width = info.shape[1], info.shape[2]
    if (height is not None and height < bh) or (width is not None and width < bw):
        raise layer.error(
            f"receives a {height}×{width} image, smaller than its {bh}×{bw} stride."
        )
    out = TensorInfo(
        IMAGE,
        (
            None if info.channels is None else info.channels * bh * bw,
            None if height is None else height // bh,
            None if width is None else width // bw,
        ),
    )
    node = layer_node(layer, "space_to_depth", out, {"block": (bh, bw)})
    node.forward_comment = (
        f"MATLAB yolov2ReorgLayer, Stride [{bh} {bw}] (spaceToDepth's order): row i, column j "
        "of each block goes to channel (i * bw + j) * C + c; trailing partial blocks are cropped"
    )
    return node
