"""Input layers: the forward arguments, with MATLAB's input normalization baked in."""

from __future__ import annotations

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
from codegen.layers.common import f32, layer_node, refuse_options
from codegen.layers.record import LayerRecord, learnable_value
from codegen.layers.registry import register

# Normalization type -> the statistics it stores (struct field names).
_STATS = {
    "zerocenter": ("Mean",),
    "zscore": ("Mean", "Std"),
    "rescale-symmetric": ("Min", "Max"),
    "rescale-zero-one": ("Min", "Max"),
}


def _normalization(layer: LayerRecord) -> tuple[str, dict[str, np.ndarray]]:
    """The normalization type and its raw statistics, from old or new schemas."""
    norm = layer.raw("Normalization", None)
    if norm is None or (isinstance(norm, np.ndarray) and norm.size == 0):
        return "none", {}
    if isinstance(norm, np.ndarray) and norm.dtype.names:
        rec = norm.flat[0]
        fields = norm.dtype.names
        kind = (
            LayerRecord("", {"Type": rec["Type"]}).text("Type", "none")
            if "Type" in fields
            else "none"
        )
        stats: dict[str, np.ndarray] = {}
        for key in ("Mean", "Std", "Min", "Max", "AverageImage"):
            if key in fields:
                value = learnable_value(rec[key])
                if value is not None:
                    stats["Mean" if key == "AverageImage" else key] = value
        return (kind or "none").lower(), stats
    text = layer.word("Normalization")
    return (text or "none").lower(), {}


def _stat_to_torch(
    layer: LayerRecord, value: np.ndarray, info: TensorInfo
) -> np.ndarray:
    """Reshape a statistic by its size against the input size, then to PyTorch order."""
    arr = np.asarray(value, dtype=np.float64)
    # An image sequence normalizes every time step as an image of its (C, H, W).
    if info.layout in (IMAGE, IMAGE_SEQUENCE):
        c, h, w = info.shape
        assert c is not None and h is not None and w is not None
        if arr.size == h * w * c:
            full = arr.reshape((h, w, c), order="F")
        elif arr.size == c:
            full = arr.reshape((1, 1, c), order="F")
        elif arr.size == 1:
            full = arr.reshape((1, 1, 1))
        else:
            raise layer.error(
                f"stores normalization statistics of shape {arr.shape}, which match neither its input size {h}×{w}×{c} nor its channel count."
            )
        return f32(full.transpose(2, 0, 1))
    if info.layout == VOLUME:
        c, d, h, w = info.shape
        assert c is not None and d is not None and h is not None and w is not None
        if arr.size == h * w * d * c:
            vol = arr.reshape((h, w, d, c), order="F")
        elif arr.size == c:
            vol = arr.reshape((1, 1, 1, c), order="F")
        elif arr.size == 1:
            vol = arr.reshape((1, 1, 1, 1))
        else:
            raise layer.error(
                f"stores normalization statistics of shape {arr.shape}, which match neither its input size {h}×{w}×{d}×{c} nor its channel count."
            )
        # MATLAB H×W×D×C → PyTorch (C, D, H, W).
        return f32(vol.transpose(3, 2, 0, 1))
    c = info.shape[0]
    if c is not None and arr.size == c:
        return f32(arr.reshape(c))
    if arr.size == 1:
        return f32(arr.reshape(1))
    raise layer.error(
        f"stores normalization statistics of shape {arr.shape}, which do not match its {c} channels."
    )


def _input_node(layer: LayerRecord, info: TensorInfo, op: str) -> Node:
    # SplitComplexInputs (newer versions) turns each complex channel into two real ones.
    refuse_options(layer, ("SplitComplexInputs",))
    kind, raw = _normalization(layer)
    if kind not in ("none", *_STATS):
        raise layer.error(
            f"uses Normalization '{kind}', which mat2torch does not support; use 'none', 'zerocenter', 'zscore', 'rescale-symmetric' or 'rescale-zero-one'."
        )
    buffers: dict[str, np.ndarray | None] = {}
    # Untrained networks: MATLAB computes the statistics from the training data, so the
    # file has none. The buffer keeps its place (channel-wise, MATLAB's 'auto' choice when
    # it computes them) with a neutral value, and no value is written to the weights file.
    unstored: dict[str, tuple[int, ...]] = {}
    for key in _STATS.get(kind, ()):
        if key not in raw:
            if info.channels is None:
                raise layer.error(
                    f"uses '{kind}' normalization but stores no {key} and has no channel count."
                )
            spatial = {IMAGE: 2, IMAGE_SEQUENCE: 2, VOLUME: 3}.get(info.layout, 0)
            unstored[key.lower()] = (info.channels,) + (1,) * spatial
            buffers[key.lower()] = None
            continue
        buffers[key.lower()] = _stat_to_torch(layer, raw[key], info)
    attrs: dict[str, object] = {
        "normalization": kind,
        "layout": info.layout,
        "shape": info.shape,
    }
    if unstored:
        attrs["unstored_shapes"] = unstored
    return layer_node(layer, op, info, attrs, buffers=buffers)


@register("nnet.cnn.layer.ImageInputLayer", ops=("input",), versions=(1, 2, 3, 4, 5))
def image_input(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    size = layer.ints("InputSize")
    if not size or len(size) not in (2, 3):
        raise layer.error("has no usable InputSize.")
    h, w = size[0], size[1]
    c = size[2] if len(size) == 3 else 1
    return _input_node(layer, TensorInfo(IMAGE, (c, h, w)), "input")


@register("nnet.cnn.layer.Image3DInputLayer", ops=("input",), versions=(1,))
def image3d_input(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """image3dInputLayer: InputSize [h w d c] ([h w d] for one channel), a volume
    (C, D, H, W) to PyTorch; normalization statistics H×W×D×C, 1×1×1×C or scalar."""
    size = layer.ints("InputSize")
    if not size or len(size) not in (3, 4):
        raise layer.error("has no usable InputSize; expected [h w d c].")
    h, w, d = size[0], size[1], size[2]
    c = size[3] if len(size) == 4 else 1
    return _input_node(layer, TensorInfo(VOLUME, (c, d, h, w)), "input")


@register("nnet.cnn.layer.FeatureInputLayer", ops=("input",), versions=(2,))
def feature_input(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    size = layer.ints("InputSize")
    if not size:
        raise layer.error("has no usable InputSize.")
    return _input_node(layer, TensorInfo(FEATURE, (size[-1],)), "input")


@register("nnet.cnn.layer.SequenceInputLayer", ops=("input",), versions=(3, 5))
def sequence_input(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """InputSize c: vector sequences (N, T, C); [h w c]: sequences of images
    (N, T, C, H, W), normalized per time step like an image input."""
    size = layer.ints("InputSize")
    if not size:
        raise layer.error("has no usable InputSize.")
    if len(size) == 1:
        info = TensorInfo(SEQUENCE, (size[0],))
    elif len(size) == 3:
        info = TensorInfo(IMAGE_SEQUENCE, (size[2], size[0], size[1]))
    else:
        volumes = (
            " (sequences of 3-D images are not supported yet)" if len(size) == 4 else ""
        )
        raise layer.error(
            f"has InputSize [{' '.join(map(str, size))}]; mat2torch supports sequences of vectors "
            f"(InputSize c) and of 2-D images (InputSize [h w c]){volumes}."
        )
    node = _input_node(layer, info, "input")
    min_length = layer.ints("MinLength")
    if min_length:
        node.attrs["min_length"] = min_length[0]
    return node


# inputLayer formats → the layouts they are: MATLAB's spatial order is H, W(, D).
_FORMATS = {
    "CB": FEATURE,
    "CBT": SEQUENCE,
    "SSCB": IMAGE,
    "SSSCB": VOLUME,
    "SSCBT": IMAGE_SEQUENCE,
}
# dlarray's own order of dimension labels (a formatted dlarray is always held in it).
_LABEL_ORDER = "SCBTU"
_SUPPORTED_FORMATS = "'SSCB' (images), 'SSSCB' (volumes), 'CB' (features), 'CBT' (sequences) or 'SSCBT' (image sequences)"


def _format_problem(fmt: str) -> str:
    """Why an inputLayer format has no layout here, and what to do, as one clause."""
    unknown = sorted(set(fmt) - set(_LABEL_ORDER))
    if unknown:
        listed = ", ".join(map(repr, unknown[:5])) + (
            ", ..." if len(unknown) > 5 else ""
        )
        many = len(unknown) > 1
        return f"holds the label{'s' if many else ''} {listed}, which {'are' if many else 'is'} not among S, C, B, T and U"
    if "U" in fmt:
        return "has an unspecified (U) dimension, which maps onto no PyTorch layout; label every dimension S, C, B or T"
    if any(fmt.count(label) > 1 for label in "CBT"):
        return "repeats a C, B or T label, which MATLAB allows once each; the file is damaged"
    if list(fmt) != sorted(fmt, key=_LABEL_ORDER.index):
        # MATLAB's documentation does not say whether InputSize then follows the format
        # as given or dlarray's order, so the sizes cannot be paired safely.
        canonical = "".join(sorted(fmt, key=_LABEL_ORDER.index))
        return f"is not in MATLAB's dimension order (S, C, B, T); re-create the layer as inputLayer(..., '{canonical}') with the sizes in that order"
    if "C" not in fmt:
        return "has no channel (C) dimension; add one (a size of 1 is fine)"
    spatial = fmt.count("S")
    if spatial == 1:
        return "has one spatial dimension, for which mat2torch has no layout; use 'CBT' for 1-D signals (1-D convolutions run over time) or 'SSCB' for images"
    if spatial == 3 and "T" in fmt:
        return "is a sequence of 3-D images, which mat2torch does not support yet"
    if spatial > 3:
        return f"has {spatial} spatial dimensions, which mat2torch does not support"
    # MATLAB then runs the network on one observation without a batch dimension.
    return f"has no batch (B) dimension, and the generated model takes a batch first; re-create the layer with '{fmt.replace('C', 'CB')}' and a batch size of NaN"


@register("nnet.cnn.layer.InputLayer", ops=("input",), versions=(1,))
def generic_input(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """inputLayer(inputSize, inputFormat) (R2023b+): no normalization; the format names
    the layout. InputSize pairs with the format position by position; NaN marks a
    variable size (allowed for B and T, whose sizes the model leaves free), and trailing
    sizes MATLAB dropped as singletons are 1."""
    fmt = layer.word("InputFormat")
    if not fmt:
        raise layer.error(
            "has no InputFormat (unformatted input), so mat2torch cannot tell which dimension "
            f"holds the channels; re-create the layer with a format such as {_SUPPORTED_FORMATS}."
        )
    if fmt not in _FORMATS:
        shown = fmt if len(fmt) <= 12 else fmt[:12] + "..."
        raise layer.error(
            f"has InputFormat {shown!r}, which {_format_problem(fmt)}; mat2torch converts "
            f"the formats {_SUPPORTED_FORMATS}."
        )
    stored = layer.sizes("InputSize")
    if not stored:
        raise layer.error("has no usable InputSize.")
    extra = stored[len(fmt) :]
    if any(s != 1 for s in extra):
        raise layer.error(
            f"has InputSize {_size_text(stored)}, with more sizes than its InputFormat '{fmt}' "
            "has dimensions; the file is damaged."
        )
    size = stored[: len(fmt)] + (1,) * (len(fmt) - len(stored))
    # The spatial sizes (MATLAB order H, W(, D)) and then the channel count.
    fixed = [s for label, s in zip(fmt, size, strict=True) if label in "SC"]
    if any(s is None for s in fixed):
        raise layer.error(
            f"has InputSize {_size_text(stored)} with a variable (NaN) spatial size or "
            f"channel count for InputFormat '{fmt}'; mat2torch needs those fixed (NaN only "
            "for the batch and time dimensions)."
        )
    dims = [int(s) for s in fixed if s is not None]
    c, spatial = dims[-1], tuple(dims[:-1])
    layout = _FORMATS[fmt]
    if layout == VOLUME:
        h, w, d = spatial
        shape: tuple[int, ...] = (c, d, h, w)
    else:
        shape = (c, *spatial)
    node = _input_node(layer, TensorInfo(layout, shape), "input")
    node.attrs["input_format"] = fmt
    return node


def _size_text(size: Sequence[int | None]) -> str:
    return "[" + " ".join("NaN" if s is None else str(s) for s in size) + "]"
