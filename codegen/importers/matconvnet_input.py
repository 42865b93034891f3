"""The input node of a MatConvNet network: its size, channels and preprocessing.

MatConvNet has no input layer. What the generated model's input looks like has to be
pieced together from ``meta.normalization`` (image size, average image) and, for the
channels, from the first layer that reads the input — its filters say how many channels
it expects.

``vl_simplenn`` and ``DagNN.eval`` run the layers on whatever they are given; subtracting
``meta.normalization.averageImage`` is the calling code's job. So forward does not do it
(code ported from MATLAB that already subtracts the mean would otherwise do it twice):
the generated ``preprocess()`` method does, with the average image as a buffer. The
settings that act on the image before it is a fixed-size tensor (imageSize, border,
cropSize, interpolation, keepAspect) are listed in its docstring, not applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from codegen.errors import ConversionError
from codegen.importers.matconvnet_structs import McnLayer, elements, struct_fields, text
from codegen.ir import IMAGE, Node, TensorInfo
from codegen.layers.common import f32
from codegen.layers.record import LayerRecord
from codegen.readers.h5lazy import H5Array

# Layers whose output has their input's channels: the input's channels can be read past them.
_SAME_CHANNELS = {
    "simplenn.relu",
    "simplenn.pool",
    "simplenn.lrn",
    "simplenn.normalize",
    "simplenn.dropout",
    "simplenn.sigmoid",
    "simplenn.tanh",
    "simplenn.softmax",
    "simplenn.spnorm",
    "dagnn.ReLU",
    "dagnn.Pooling",
    "dagnn.LRN",
    "dagnn.DropOut",
    "dagnn.Sigmoid",
    "dagnn.Tanh",
    "dagnn.SoftMax",
    "dagnn.SpatialNorm",
}
# Convolutions: which dimension of their filters (FH×FW×C×K, transposed FH×FW×K×C) counts input channels.
_FILTER_CHANNEL_DIM = {
    "simplenn.conv": 2,
    "dagnn.Conv": 2,
    "simplenn.convt": 3,
    "dagnn.ConvTranspose": 3,
}


def first_channels(layers: Sequence[McnLayer], var: str, depth: int = 0) -> int | None:
    """The channel count the first layer reading ``var`` expects, from its filters or size."""
    if depth > 50:
        return None
    for layer in layers:
        if var not in layer.inputs:
            continue
        if layer.record.classname in _SAME_CHANNELS and layer.outputs:
            found = first_channels(layers, layer.outputs[0], depth + 1)
            if found is not None:
                return found
            continue
        rec = layer.record
        cls = rec.classname
        size = rec.ints("size")
        if cls in _FILTER_CHANNEL_DIM:
            dim = _FILTER_CHANNEL_DIM[cls]
            if size and len(size) == 4:
                return size[dim]
            w = _first_weight(rec)
            if w is not None:
                return (
                    w.shape[dim] if w.ndim > dim else 1
                )  # MATLAB drops trailing singleton dims
        if cls in ("simplenn.bnorm", "dagnn.BatchNorm"):
            w = _first_weight(rec)
            if w is not None:
                return int(w.size)
            n = rec.num("numChannels")
            if n:
                return int(n)
        if cls == "dagnn.Sum":
            for other in layer.inputs:
                if other != var:
                    found = first_channels(
                        [lay for lay in layers if lay is not layer], other, depth + 1
                    )
                    if found is not None:
                        return found
        return None
    return None


def _first_weight(rec: LayerRecord) -> np.ndarray | None:
    """The layer's first parameter if it is a numeric array; never an error (only a hint here)."""
    raw = rec.raw("weights", None)
    items = elements(raw) if isinstance(raw, np.ndarray) and raw.dtype == object else []
    if not items and "filters" in rec.fields:
        items = [rec.raw("filters")]
    first = items[0] if items else None
    if (
        isinstance(first, (np.ndarray, H5Array))  # H5Array: still in the file
        and first.dtype.kind in "biuf"
        and first.size
    ):
        return cast(np.ndarray, first)
    return None


def input_node(
    name: str,
    channels: int | None,
    meta: dict[str, Any],
    apply_normalization: bool,
    where: str,
) -> tuple[Node, list[str]]:
    """The input node (with averageImage subtraction) and notes for the docstring."""
    notes: list[str] = []
    norm = struct_fields(meta.get("normalization")) if apply_normalization else {}
    size = _ints(norm.get("imageSize")) or _ints(
        meta.get("inputSize") if apply_normalization else None
    )
    h = w = None
    if size and len(size) >= 2:
        h, w = size[0], size[1]
        if len(size) >= 3 and channels is None:
            channels = size[2]
    buffers: dict[str, np.ndarray] = {}
    average = norm.get("averageImage")
    if (
        isinstance(average, np.ndarray)
        and average.dtype.kind in "biuf"
        and average.size
        and np.any(average)
    ):
        arr = np.asarray(average, dtype=np.float64)
        c = channels
        if arr.size == 1:
            full = arr.reshape(1, 1, 1)
        elif c is not None and arr.size == c:
            full = arr.reshape((1, 1, c), order="F")
        elif (
            c is not None and h is not None and w is not None and arr.size == h * w * c
        ):
            full = arr.reshape((h, w, c), order="F")
        elif arr.ndim == 3 or (arr.ndim == 2 and c == 1):
            full = arr.reshape(arr.shape[0], arr.shape[1], -1)
            h, w = full.shape[0], full.shape[1]
        else:
            raise ConversionError(
                f"{where}: meta.normalization.averageImage has shape {arr.shape}, which matches neither the input's "
                f"channels ({c}) nor its size; fix net.meta.normalization in MATLAB."
            )
        if full.shape[0] > 1 and (h, w) != (full.shape[0], full.shape[1]):
            h, w = full.shape[0], full.shape[1]
        buffers["average_image"] = f32(full.transpose(2, 0, 1))
        if channels is None:
            channels = full.shape[2]
        per_channel = full.shape[0] == 1 and full.shape[1] == 1
        applied = (
            "subtracts meta.normalization.averageImage ("
            + (
                "one value per channel"
                if per_channel
                else f"a full {full.shape[0]}×{full.shape[1]}×{full.shape[2]} image"
            )
            + f", buffer '{name}_average_image')"
        )
    else:
        applied = ""
    info = TensorInfo(IMAGE, (channels, h, w))
    attrs: dict[str, Any] = {
        "normalization": "none",
        "layout": IMAGE,
        "shape": info.shape,
    }
    if apply_normalization:
        # What the calling code must do before forward, as MatConvNet's own code does it.
        attrs["preprocess"] = {
            "applied": applied,
            "not_applied": tuple(_preprocessing_notes(norm)),
            "stored": bool(norm),
        }
        notes.append(
            "forward computes exactly what vl_simplenn / DagNN eval compute: like them it does not "
            "touch net.meta.normalization, which MatConvNet leaves to the calling code; "
            "preprocess() does that part."
        )
    node = Node(
        name=name,
        op="input",
        matlab_class="MatConvNet input",
        attrs=attrs,
        buffers=buffers,
        out=info,
    )
    return node, notes


# What MatConvNet's image pipelines (cnn_imagenet_get_batch, the minimal demos) do with
# each setting; all of them act on the image before it becomes a fixed-size tensor.
_SETTING_MEANING = {
    "imageSize": "MatConvNet's examples resize images to imageSize(1:2) with imresize before subtracting averageImage",
    "interpolation": "the imresize method of that resize",
    "border": "training crops come from an image resized to imageSize(1:2) + border",
    "cropSize": "the fraction of the resized image a training crop covers",
    "keepAspect": "whether that resize keeps the aspect ratio",
}


def _preprocessing_notes(norm: dict[str, Any]) -> list[str]:
    """One line per ``meta.normalization`` setting other than averageImage: not applied."""
    notes: list[str] = []
    for key in sorted(norm):
        if key == "averageImage":
            continue
        value = norm[key]
        if isinstance(value, np.ndarray) and value.dtype == bool:
            shown = " ".join("true" if v else "false" for v in value.ravel(order="F"))
        elif _is_number(value):
            flat = np.asarray(value, dtype=np.float64).ravel(order="F")
            shown = " ".join(f"{v:g}" for v in flat)
            shown = f"[{shown}]" if flat.size > 1 else shown
        else:
            shown = text(value, "")
        if shown:
            meaning = _SETTING_MEANING.get(key)
            notes.append(
                f"meta.normalization.{key} = {shown}"
                + (f": {meaning}" if meaning else "")
            )
    return notes


def _is_number(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def _ints(value: Any) -> tuple[int, ...] | None:
    """A numeric array of whole numbers as ints (column-major); anything else None."""
    if not _is_number(value) or value.size == 0:
        return None
    flat = np.asarray(value, dtype=np.float64).ravel(order="F")
    if not np.all(flat == np.round(flat)):
        return None
    return tuple(int(v) for v in flat)
