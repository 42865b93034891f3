"""2-D convolution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codegen.ir import Node, TensorInfo
from codegen.layers.common import f32, pair, rebuild, require_image, resolve_padding, spatial_out
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register


def padding_value(layer: LayerRecord) -> tuple[str, float]:
    """PaddingValue as an F.pad mode and constant (SEMANTICS.md: mapping uncertain)."""
    raw = layer.raw("PaddingValue", None)
    text = layer.text("PaddingValue")
    if text:
        modes = {
            "replicate": "replicate",
            "symmetric-exclude-edge": "reflect",
            "symmetric-include-edge": "symmetric",  # no F.pad mode: a helper in model.py
        }
        if text not in modes:
            raise layer.error(f"uses PaddingValue '{text}', which mat2torch does not support.")
        return modes[text], 0.0
    if raw is None or np.asarray(raw).size == 0:
        return "constant", 0.0
    return "constant", float(np.asarray(raw).ravel()[0])


def pad_comment(pad: tuple[int, int, int, int]) -> str:
    top, bottom, left, right = pad
    return f"MATLAB PaddingSize [top bottom left right] = [{top} {bottom} {left} {right}]; F.pad takes (left, right, top, bottom)"


def padding_attrs(pad: tuple[int, int, int, int], mode: str, value: float) -> dict[str, object]:
    """Module padding when symmetric zeros suffice, else an explicit F.pad (l, r, t, b)."""
    top, bottom, left, right = pad
    if mode == "constant" and value == 0.0 and top == bottom and left == right:
        return {"padding": (top, left), "pad": None}
    return {"padding": (0, 0), "pad": (left, right, top, bottom), "pad_mode": mode, "pad_value": value}


@register("nnet.cnn.layer.Convolution2DLayer", ops=("conv2d",))
def conv2d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = inputs[0]
    require_image(layer, info)
    kernel = pair(layer.ints("FilterSize"), 1)
    stride = pair(layer.ints("Stride"), 1)
    dilation = pair(layer.ints("DilationFactor"), 1)
    out_channels = int(layer.num("NumFilters") or 0)
    stored_channels = layer.num("NumChannels")
    in_channels = int(stored_channels) if stored_channels is not None else info.channels
    if in_channels is None:
        raise layer.error("has no NumChannels and its input channel count is unknown.")
    if info.channels is not None and info.channels != in_channels:
        raise layer.error(f"expects {in_channels} input channels but receives {info.channels}.")
    pad = resolve_padding(layer, info, kernel, stride, dilation)
    mode, value = padding_value(layer)
    weights = layer.array("Weights")
    bias = layer.array("Bias")
    params: dict[str, np.ndarray | None] = {"weight": None, "bias": None}
    if weights is not None:
        w = rebuild(weights, (kernel[0], kernel[1], in_channels, out_channels))
        params["weight"] = f32(w.transpose(3, 2, 0, 1))
    if bias is not None:
        params["bias"] = f32(np.asarray(bias).reshape(out_channels))
    attrs = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "dilation": dilation,
        **padding_attrs(pad, mode, value),
    }
    return Node(
        name=layer.name,
        op="conv2d",
        matlab_class=layer.classname,
        attrs=attrs,
        params=params,
        out=spatial_out(info, out_channels, kernel, stride, dilation, pad),
        forward_comment=pad_comment(pad) if attrs["pad"] is not None else "",
    )
