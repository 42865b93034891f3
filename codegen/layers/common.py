"""What converters share: the node every converter builds, MATLAB padding and output
sizes, and the filter layouts, padding and cropping of the convolutions.

Deep Learning Toolbox and MatConvNet layers read their fields differently but meet the
same PyTorch modules; whatever turns MATLAB's numbers into those modules' arguments lives
here once, so the two families cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from codegen.arrays import f32_deferred
from codegen.ir import FEATURE, IMAGE, Node, TensorInfo
from codegen.layers.record import LayerRecord
from codegen.readers.h5lazy import H5Array

Pad = tuple[int, int, int, int]  # MATLAB order: [top bottom left right]


def layer_node(
    layer: LayerRecord,
    op: str,
    out: TensorInfo,
    attrs: dict[str, Any] | None = None,
    **fields: Any,
) -> Node:
    """A Node named and classed after its MATLAB layer, so no converter spells that out again."""
    return Node(
        name=layer.name,
        op=op,
        matlab_class=layer.classname,
        attrs={} if attrs is None else attrs,
        out=out,
        **fields,
    )


def refuse_options(
    layer: LayerRecord, flags: Sequence[str] = (), dims: Sequence[str] = ()
) -> None:
    """Stored options whose semantics the converter does not implement: a flag set to
    true, or a dimension index other than the spatial [1 2], is an error naming it
    (newer schema versions store these; the corpus shows them false and [1 2])."""
    for key in flags:
        if layer.flag(key):
            raise layer.error(f"has {key} set, which mat2torch does not support.")
    for key in dims:
        stored = layer.ints(key)
        if stored is not None and stored != (1, 2):
            raise layer.error(
                f"has {key} {list(stored)}; mat2torch supports only [1 2] (height and width)."
            )


def pair(values: tuple[int, ...] | None, default: int) -> tuple[int, int]:
    """MATLAB stores a square size as one number or two; PyTorch wants (h, w)."""
    if not values:
        return (default, default)
    if len(values) == 1:
        return (values[0], values[0])
    return (values[0], values[1])


def channels_of(layer: LayerRecord, info: TensorInfo) -> int:
    """NumChannels, or the input's channels when the file stores none (untrained layers)."""
    channels = (layer.integer("NumChannels") or 0) or info.channels
    if channels is None:
        raise layer.error("has no NumChannels and its input channel count is unknown.")
    return channels


def same_padding(
    size: int | None, kernel: int, stride: int, dilation: int
) -> tuple[int, int] | None:
    """MATLAB 'same': out = ceil(in/stride); the extra pixel goes bottom/right."""
    if size is None:
        return None
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return (total // 2, total - total // 2)


def resolve_padding(
    layer: LayerRecord,
    info: TensorInfo,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> Pad:
    """PaddingSize as (top, bottom, left, right), resolving an unstored 'same' from sizes."""
    mode = layer.enum("PaddingMode", ("manual", "same"), "manual")
    stored = layer.ints("PaddingSize")
    if stored and len(stored) == 4:
        return (stored[0], stored[1], stored[2], stored[3])
    if stored and len(stored) in (1, 2) and mode != "same":
        p = pair(stored, 0)
        return (p[0], p[0], p[1], p[1])
    if mode == "same":
        if info.layout != IMAGE or len(info.shape) != 3:
            raise layer.error(
                "uses 'same' padding but its input size is unknown; give the network's input layer an InputSize."
            )
        h = same_padding(info.shape[1], kernel[0], stride[0], dilation[0])
        w = same_padding(info.shape[2], kernel[1], stride[1], dilation[1])
        if h is None or w is None:
            raise layer.error(
                "uses 'same' padding but its input height/width is unknown."
            )
        return (h[0], h[1], w[0], w[1])
    return (0, 0, 0, 0)


def out_size(
    size: int | None,
    kernel: int,
    stride: int,
    dilation: int,
    pad_before: int,
    pad_after: int,
) -> int | None:
    """One output dimension of a padded, strided, dilated window; None stays unknown."""
    if size is None:
        return None
    effective = (kernel - 1) * dilation + 1
    return (size + pad_before + pad_after - effective) // stride + 1


def spatial_out(
    info: TensorInfo,
    channels: int | None,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pad: Sequence[int],
) -> TensorInfo:
    """The image a convolution or pooling makes of ``info``, ``pad`` as [top bottom left right]."""
    h = out_size(info.shape[1], kernel[0], stride[0], dilation[0], pad[0], pad[1])
    w = out_size(info.shape[2], kernel[1], stride[1], dilation[1], pad[2], pad[3])
    return TensorInfo(IMAGE, (channels, h, w))


def require_image(layer: LayerRecord, info: TensorInfo) -> None:
    """Refuse, in one sentence, a 2-D image layer fed with features or sequences."""
    if info.layout != IMAGE:
        raise layer.error(
            f"expects an image (C×H×W) input but receives {info.describe()}; this layer arrangement is not supported."
        )


def rebuild(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Restore the trailing singleton dimensions MATLAB dropped on save."""
    if int(np.prod(shape)) != array.size:
        raise ValueError(
            f"cannot view an array of {array.size} values as {tuple(shape)}"
        )
    if isinstance(array, H5Array):  # still in the file: a lazy view
        return cast(np.ndarray, array.reshape(tuple(shape), order="F"))
    return np.asarray(array).reshape(tuple(shape), order="F")


def channel_vector(
    layer: LayerRecord, value: np.ndarray | None, size: int, what: str
) -> np.ndarray | None:
    """A per-channel parameter (stored 1×1×C, C×1, ...) as a float32 vector of ``size``."""
    if value is None:
        return None
    if value.size != size:
        raise layer.error(f"stores {value.size} {what} values for {size} channels.")
    return f32(np.asarray(value).reshape(size, order="F"))


def f32(array: np.ndarray) -> np.ndarray:
    """float32 and C-contiguous, the form safetensors writes tensors in."""
    return np.ascontiguousarray(np.asarray(array, dtype=np.float32))


def scaling_node(
    layer: LayerRecord,
    info: TensorInfo,
    scale: float | np.ndarray,
    bias: float | np.ndarray,
    what: str,
    names: tuple[str, str],
) -> Node:
    """A ``scaling`` node, y = scale·x + bias, each a float or an array in PyTorch's
    layout (a buffer); ``what`` and MATLAB's ``names`` of the two operands go into the
    comment above the line when an array is broadcast."""
    buffers = {
        key: value
        for key, value in (("scale", scale), ("bias", bias))
        if isinstance(value, np.ndarray)
    }
    attrs = {
        "scale": scale if isinstance(scale, float) else None,
        "bias": bias if isinstance(bias, float) else None,
    }
    node = layer_node(layer, "scaling", info, attrs, buffers=buffers)
    if buffers:
        node.comment = (
            f"{what}: "
            + " and ".join(names[0] if k == "scale" else names[1] for k in buffers)
            + " in PyTorch's layout, broadcast as MATLAB's implicit expansion does"
        )
    return node


def broadcast_operand(
    layer: LayerRecord, key: str, default: float, info: TensorInfo
) -> float | np.ndarray:
    """A stored Scale, Bias or Offset as a float (one value) or as an array in PyTorch layout that
    broadcasts against the input exactly as MATLAB's implicit expansion of the stored
    array against one observation does (H×W×C, C×1 or C×1 per time step)."""
    value = layer.array(key)
    if value is None:
        return default
    array = np.asarray(value, dtype=np.float64)
    if array.size == 1:
        return float(array.ravel()[0])
    ndim = 3 if info.layout == IMAGE else 1  # MATLAB's dimensions of one observation
    shape = array.shape + (1,) * max(ndim - array.ndim, 0)
    if len(shape) > max(ndim, 2) or any(s != 1 for s in shape[ndim:]):
        raise layer.error(
            f"has a {'×'.join(map(str, array.shape))} {key}, which does not fit one "
            f"observation of its input ({info.describe()})."
        )
    shape = shape[:ndim]
    known: tuple[int | None, ...]
    if info.layout == IMAGE:
        # MATLAB H×W×C against the input's H×W×C; PyTorch (1, C, H, W).
        known = (info.shape[1], info.shape[2], info.shape[0])
        torch_array = array.reshape(shape, order="F").transpose(2, 0, 1)[None]
    else:
        # MATLAB C×1 against C×N (features) or C×N×T (sequences); PyTorch (1, C) / (1, 1, C).
        known = (info.shape[0],)
        torch_array = array.reshape((1,) * (1 if info.layout == FEATURE else 2) + shape)
    for have, want in zip(shape, known, strict=True):
        if have != 1 and want is not None and have != want:
            raise layer.error(
                f"has a {'×'.join(map(str, array.shape))} {key}, which does not broadcast "
                f"against its input ({info.describe()})."
            )
    return f32(torch_array)


# --------------------------------------------------------------------------- padding


def pad_comment(pad: Pad, source: str = "MATLAB PaddingSize") -> str:
    """A forward comment for an explicit F.pad, so a reader can check F.pad's order against MATLAB's."""
    top, bottom, left, right = pad
    return f"{source} [top bottom left right] = [{top} {bottom} {left} {right}]; F.pad takes (left, right, top, bottom)"


def padding_attrs(
    pad: Pad, mode: str = "constant", value: float = 0.0
) -> dict[str, object]:
    """Convolution: module padding when symmetric zeros suffice, else an explicit F.pad (l, r, t, b)."""
    top, bottom, left, right = pad
    if mode == "constant" and value == 0.0 and top == bottom and left == right:
        return {"padding": (top, left), "pad": None}
    return {
        "padding": (0, 0),
        "pad": (left, right, top, bottom),
        "pad_mode": mode,
        "pad_value": value,
    }


def pool_padding_attrs(pad: Pad, kernel: tuple[int, int]) -> dict[str, object]:
    """Pooling: PyTorch pads symmetrically and at most half a window; anything else is an explicit F.pad."""
    top, bottom, left, right = pad
    if (
        top == bottom
        and left == right
        and top <= kernel[0] // 2
        and left <= kernel[1] // 2
    ):
        return {"padding": (top, left), "pad": None}
    return {"padding": (0, 0), "pad": (left, right, top, bottom)}


# --------------------------------------------------------------------------- convolution


def filter_params(
    layer: LayerRecord,
    filters: np.ndarray | None,
    bias: np.ndarray | None,
    shape: tuple[int, ...],
    out_channels: int,
    has_bias: bool = True,
) -> dict[str, np.ndarray | None]:
    """MATLAB filters and bias as PyTorch's ``weight`` and ``bias`` (None where unstored).

    ``shape`` is the filters' MATLAB shape, FH×FW×A×B or FH×FW×A×B×G (grouped), which
    the file may store with trailing singletons dropped. Folding the groups column-major
    into B and permuting (3, 2, 0, 1) gives (B·G, A, FH, FW): Conv2d's (Cout, Cin/G, ...)
    from FH×FW×Cin/G×Cout/G×G and ConvTranspose2d's (Cin, Cout/G, ...) from
    FH×FW×Cout/G×Cin alike. The bias flattens column-major into the same channel order.
    Without ``has_bias`` there is no ``bias`` entry at all (the module has bias=False).
    """
    params: dict[str, np.ndarray | None] = {"weight": None}
    if filters is not None:
        try:
            w = rebuild(filters, shape)
        except ValueError as exc:
            raise layer.error(
                f"stores filters that do not match its size ({exc})."
            ) from None
        params["weight"] = f32_deferred(
            w.reshape((*shape[:3], -1), order="F").transpose(3, 2, 0, 1)
        )
    if has_bias:
        params["bias"] = channel_vector(layer, bias, out_channels, "bias")
    return params


def conv2d_node(
    layer: LayerRecord,
    info: TensorInfo,
    params: dict[str, np.ndarray | None],
    *,
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: Pad,
    pad_mode: tuple[str, float] = ("constant", 0.0),
    pad_source: str | None = "MATLAB PaddingSize",
    comment: str = "",
    **extra: object,
) -> Node:
    """An nn.Conv2d node; ``extra`` attrs (groups, bias) go to the template as they are.

    An explicit F.pad gets a forward comment naming ``pad_source`` (None: no comment).
    """
    attrs: dict[str, object] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "dilation": dilation,
        **extra,
        **padding_attrs(pad, *pad_mode),
    }
    note = (
        pad_comment(pad, pad_source)
        if pad_source is not None and attrs["pad"] is not None
        else ""
    )
    out = spatial_out(info, out_channels, kernel, stride, dilation, pad)
    return layer_node(
        layer,
        "conv2d",
        out,
        attrs,
        params=params,
        comment=comment,
        forward_comment=note,
    )


def transposed_out(
    info: TensorInfo,
    channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    crop: Pad,
) -> TensorInfo:
    """The image a transposed convolution makes: (in − 1)·stride + kernel, less the cropping."""

    def size(n: int | None, k: int, s: int, before: int, after: int) -> int | None:
        return None if n is None else (n - 1) * s + k - before - after

    return TensorInfo(
        IMAGE,
        (
            channels,
            size(info.shape[1], kernel[0], stride[0], crop[0], crop[1]),
            size(info.shape[2], kernel[1], stride[1], crop[2], crop[3]),
        ),
    )


def conv_transpose2d_node(
    layer: LayerRecord,
    params: dict[str, np.ndarray | None],
    out: TensorInfo,
    *,
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    crop: Pad,
    **extra: object,
) -> Node:
    """An nn.ConvTranspose2d node; ``crop`` is what MATLAB removes, [top bottom left right].

    Symmetric cropping is ConvTranspose2d's ``padding``; anything else is a slice after a
    padding-free module. ``extra`` attrs (groups, bias) pass through.
    """
    top, bottom, left, right = crop
    symmetric = top == bottom and left == right
    attrs: dict[str, object] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "padding": (top, left) if symmetric else (0, 0),
        # Rows/columns to slice away after the module: (top, bottom, left, right) or None.
        "crop": None if symmetric else crop,
        **extra,
    }
    return layer_node(layer, "conv_transpose2d", out, attrs, params=params)
