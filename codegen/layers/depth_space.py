"""depthToSpace2dLayer and spaceToDepthLayer: channels to pixel blocks and back.

With BlockSize [bh bw], 0-based block row i < bh, block column j < bw, output (or input)
channel c of C, and pixel (h, w) of the small image, MATLAB's channel k of the deep tensor
and pixel (h·bh + i, w·bw + j) of the large one hold the same value, where

* depthToSpace 'dcr' (the default) and spaceToDepth: k = (i·bw + j)·C + c — depth
  fastest, then column, then row;
* depthToSpace 'crd': k = c·bh·bw + i·bw + j — column fastest, then row, then depth.

For square blocks the 'dcr' and spaceToDepth orders are read off the worked examples in
MATLAB's depthToSpace and spaceToDepth documentation (reshape(1:48, ...) with block 2),
which they reproduce exactly; they are ONNX's DepthToSpace (DCR) and SpaceToDepth. The
'crd' order follows MATLAB's description ("column, row, and then depth") and ONNX's CRD
mode, with no MATLAB example. spaceToDepth's order for non-square blocks is MATLAB's own
execution strategy for the layer (nnet.internal.cnn.layer.util.spaceToDepthHostStrategy:
channel block (i·bw + j) takes rows i::bh and columns j::bw); depthToSpace's non-square
blocks extend the same orders with the column index running to bw — uncertain: no
MATLAB source or example shows one. spaceToDepth's output is floor(H/bh)×floor(W/bw)
[doc]; when H or W is not a multiple, that strategy (which yolov2ReorgLayer runs too)
crops the last rows and columns first, as the generated code does.
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import IMAGE, Node, TensorInfo
from codegen.layers.common import layer_node, pair, require_image
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def _block(layer: LayerRecord) -> tuple[int, int]:
    values = layer.array("BlockSize")
    numbers = [] if values is None else [float(v) for v in values.ravel(order="F")]
    if len(numbers) not in (1, 2) or any(v != int(v) or v < 1 for v in numbers):
        raise layer.error(
            f"has BlockSize {numbers}; expected one or two positive integers [h w]."
        )
    return pair(tuple(int(v) for v in numbers), 1)


def _times(size: int | None, factor: int) -> int | None:
    return None if size is None else size * factor


@register("nnet.cnn.layer.DepthToSpace2DLayer", ops=("depth_to_space",), versions=(1,))
def depth_to_space(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    bh, bw = _block(layer)
    mode = (layer.text("Mode", "dcr") or "dcr").strip().lower()
    if mode not in ("dcr", "crd"):
        raise layer.error(f"has Mode '{mode}'; only 'dcr' and 'crd' exist.")
    channels = info.channels
    if channels is not None and channels % (bh * bw):
        raise layer.error(
            f"receives {channels} channels, which blocks of {bh}×{bw} do not divide; "
            "MATLAB rejects this network too."
        )
    c = None if channels is None else channels // (bh * bw)
    out = TensorInfo(IMAGE, (c, _times(info.shape[1], bh), _times(info.shape[2], bw)))
    shuffle = mode == "crd" and bh == bw  # nn.PixelShuffle is exactly 'crd' on squares
    node = layer_node(
        layer,
        "depth_to_space",
        out,
        {"block": (bh, bw), "mode": mode, "pixel_shuffle": shuffle},
    )
    order = "(i * bw + j) * C + c" if mode == "dcr" else "c * bh * bw + i * bw + j"
    uncertain = "" if bh == bw else "; non-square block: order uncertain"
    node.forward_comment = (
        f"MATLAB depthToSpace '{mode}', block [{bh} {bw}]: input channel {order} "
        f"goes to row i, column j of each output block{uncertain}"
    )
    return node


@register("nnet.cnn.layer.SpaceToDepthLayer", ops=("space_to_depth",), versions=(1,))
def space_to_depth(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    bh, bw = _block(layer)
    height, width = info.shape[1], info.shape[2]
    if (height is not None and height < bh) or (width is not None and width < bw):
        raise layer.error(
            f"receives a {height}×{width} image, smaller than its {bh}×{bw} block."
        )
    out_h = None if height is None else height // bh
    out_w = None if width is None else width // bw
    out = TensorInfo(IMAGE, (_times(info.channels, bh * bw), out_h, out_w))
    node = layer_node(layer, "space_to_depth", out, {"block": (bh, bw)})
    notes = []
    if (height is not None and height % bh) or (width is not None and width % bw):
        notes.append("drops the last rows/columns that fill no whole block")
    node.forward_comment = (
        f"MATLAB spaceToDepth, block [{bh} {bw}]: row i, column j of each input block "
        "goes to channel (i * bw + j) * C + c" + "".join(f"; {n}" for n in notes)
    )
    return node
