"""1-D convolution, transposed convolution and pooling over time (convolution1dLayer and
friends, R2021b+; transposedConv1dLayer, R2022a+).

MATLAB runs these layers over the time dimension of a sequence; the IR keeps sequences
batch first, (N, T, C), while nn.Conv1d and the 1-D pools want (N, C, T), so each forward
line transposes in and out. Padding follows MATLAB's PaddingMode: 'manual' PaddingSize
[left right], 'causal' (FilterSize − 1)·DilationFactor steps before the sequence, and
'same' (output ceil(T/Stride) steps, the odd padding step at the end, as for 2-D). With a
stride of 1, 'same' is a fixed padding; with a larger stride it depends on T, which is
only known at run time, so the generated forward computes it there.

Variable-length batches (``lengths``): a layer that keeps the number of time steps
(stride 1, padding that adds up to its window) and pads with a constant first sets the
steps after each sequence's end to that constant — exactly what it pads a sequence alone
with — so every sequence gives what it gives alone. Any other layer (a stride, a padding
that changes T, or replicate/mirror padding, whose values depend on where each sequence
ends) refuses ``lengths`` at run time with a clear error: its output lengths are no longer
the ones given, and nothing downstream could honour them. Global pooling (one step per
sequence, MATLAB's 'CBT' → 'CB') pools each sequence's real steps only.

Transposed 1-D convolution stores Weights FilterSize×NumFilters×NumChannels (K×Cout×Cin,
NumFilters first, as the 2-D layer's FH×FW×Cout×Cin) and crops CroppingSize [left right]
steps from the full (T − 1)·Stride + FilterSize output. With CroppingMode 'same' the total
is FilterSize − Stride whatever T, and the layer stores the split it resolved; the file's
split is used. An odd total with no stored split is refused: MATLAB's documentation of the
2-D layer puts the extra row first, its own implementation code and TensorFlow exporter
put it last, and nothing here can tell which this layer does. Only stride 1 with a total
cropping of FilterSize − 1 keeps T, and it honours ``lengths`` by masking (zeros after a
sequence's end add nothing to its own steps); any other refuses them at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from codegen.ir import FEATURE, SEQUENCE, Node, TensorInfo
from codegen.layers.common import channel_vector, f32, layer_node, rebuild
from codegen.layers.conv import input_channels, padding_value
from codegen.layers.conv_transposed import transposed_channels
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register

MODES = ("manual", "same", "causal")


@dataclass(frozen=True)
class _Window:
    """A sliding window over time, as MATLAB's fields describe it."""

    kernel: int
    stride: int
    dilation: int
    mode: str  # PaddingMode: 'manual', 'same' or 'causal'
    pad: (
        tuple[int, int] | None
    )  # (before, after); None: 'same' with a stride, from T at run time

    @property
    def span(self) -> int:
        """Time steps one window covers: (kernel − 1)·dilation + 1."""
        return (self.kernel - 1) * self.dilation + 1

    @property
    def keeps_length(self) -> bool:
        """Output steps == input steps for every T (stride 1, padding = span − 1)."""
        return (
            self.stride == 1 and self.pad is not None and sum(self.pad) == self.span - 1
        )

    def out_steps(self) -> str:
        """How many steps come out of T, as a formula for messages and comments."""
        if self.pad is None:
            return f"ceil(T/{self.stride})"
        delta = sum(self.pad) - self.span + 1  # out = floor((T + delta − 1)/stride) + 1
        if self.stride == 1:
            return "T" if delta == 0 else f"T {'+' if delta > 0 else '−'} {abs(delta)}"
        shift = delta - 1
        inner = "T" if shift == 0 else f"T {'+' if shift > 0 else '−'} {abs(shift)}"
        return f"floor(({inner})/{self.stride}) + 1"


def _sequence(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> TensorInfo:
    if not inputs or inputs[0].layout != SEQUENCE:
        got = inputs[0].describe() if inputs else "nothing"
        raise layer.error(
            f"expects a sequence (C×T) input but receives {got}; mat2torch supports 1-D convolution and pooling over time only."
        )
    return inputs[0]


def _scalar(layer: LayerRecord, key: str, default: int) -> int:
    """A 1-D size (FilterSize, Stride, ...): MATLAB stores one number."""
    values = layer.ints(key)
    if not values:
        return default
    if len(set(values)) != 1:
        raise layer.error(
            f"stores {key} {list(values)}; a 1-D layer has a single {key}."
        )
    if values[0] < 1:
        raise layer.error(f"stores {key} {values[0]}, which must be at least 1.")
    return values[0]


def _window(layer: LayerRecord, size_key: str, dilation_key: str | None) -> _Window:
    kernel = _scalar(layer, size_key, 0)
    if not kernel:
        raise layer.error(f"has no {size_key}.")
    stride = _scalar(layer, "Stride", 1)
    dilation = _scalar(layer, dilation_key, 1) if dilation_key else 1
    mode = (layer.text("PaddingMode", "manual") or "manual").lower()
    if mode not in MODES:
        raise layer.error(
            f"uses PaddingMode '{mode}'; mat2torch supports {', '.join(MODES)}."
        )
    span = (kernel - 1) * dilation + 1
    pad: tuple[int, int] | None
    # 'causal' and 'same' are resolved from MATLAB's documented rules, not from a stored
    # PaddingSize: a sequence layer's padding cannot be stored for every length T.
    if mode == "causal":
        pad = (span - 1, 0)
    elif mode == "same":
        pad = None if stride > 1 else ((span - 1) // 2, span - 1 - (span - 1) // 2)
    else:
        stored = layer.ints("PaddingSize") or (0, 0)
        if len(stored) not in (1, 2) or min(stored) < 0:
            raise layer.error(
                f"stores PaddingSize {list(stored)}; a 1-D layer pads [left right]."
            )
        pad = (stored[0], stored[-1])
    return _Window(kernel, stride, dilation, mode, pad)


def _padding_comment(window: _Window) -> str:
    """Above an explicit F.pad: which MATLAB rule gave the padding."""
    if window.pad is None:
        return (
            f"MATLAB 'same' padding with stride {window.stride} depends on the sequence length: "
            f"same_padding_1d computes it at run time (output ceil(T/{window.stride}) steps, the odd step at the end)"
        )
    before, after = window.pad
    if window.mode == "causal":
        return f"'causal' padding: (FilterSize − 1)·DilationFactor = {before} steps before the start"
    if window.mode == "same":
        odd = " (the odd step at the end)" if before != after else ""
        return f"MATLAB 'same' padding: {before} step(s) before, {after} after{odd}"
    return f"MATLAB PaddingSize [left right] = [{before} {after}]; F.pad takes (before, after) on the time axis"


def _window_attrs(
    layer: LayerRecord,
    window: _Window,
    pad_mode: str,
    pad_value: float,
    module_padding: bool,
) -> dict[str, object]:
    """What every 1-D window template reads: sizes, padding and how ``lengths`` is handled.

    ``module_padding``: symmetric padding with ``pad_value`` can be the module's own
    ``padding`` argument; otherwise an explicit F.pad (or same_padding_1d at run time).
    """
    attrs: dict[str, object] = {
        "kernel_size": window.kernel,
        "stride": window.stride,
        "dilation": window.dilation,
        "padding_mode": window.mode,
        "padding": 0,
        "pad": None,  # (before, after) for an explicit F.pad
        "same": window.pad is None,  # 'same' with a stride: padding from T at run time
        "pad_mode": pad_mode,
        "pad_value": pad_value,
    }
    if window.pad is not None and window.pad != (0, 0):
        before, after = window.pad
        if module_padding and before == after:
            attrs["padding"] = before
        else:
            attrs["pad"] = window.pad
    # lengths: 'mask' sets the steps after each sequence's end to the padding value first;
    # 'refuse' raises if lengths are given (see the module docstring).
    if window.keeps_length and pad_mode == "constant":
        attrs["lengths"] = "mask"
    else:
        if not window.keeps_length:
            why = f"changes the number of time steps ({window.out_steps()})"
        else:
            matlab = layer.text("PaddingValue") or pad_mode
            why = f"pads with PaddingValue '{matlab}', whose values depend on where each sequence ends"
        attrs["lengths"] = "refuse"
        attrs["lengths_reason"] = f"MATLAB layer {layer.name!r} {why}"
    attrs["uses_lengths"] = True
    return attrs


def _weights(
    layer: LayerRecord,
    kernel: int,
    in_channels: int,
    out_channels: int,
    transposed: bool = False,
) -> dict[str, np.ndarray | None]:
    """Weights K×Cin×Cout (trailing singletons maybe dropped) → Conv1d's (Cout, Cin, K);
    ``transposed``: K×Cout×Cin (NumFilters first) → ConvTranspose1d's (Cin, Cout, K)."""
    weights = layer.array("Weights")
    weight = None
    if weights is not None:
        stored = (
            (out_channels, in_channels) if transposed else (in_channels, out_channels)
        )
        try:
            full = rebuild(weights, (kernel, *stored))
        except ValueError as exc:
            raise layer.error(
                f"stores filters that do not match its size ({exc})."
            ) from None
        weight = f32(full.transpose(2, 1, 0))
    bias = channel_vector(layer, layer.array("Bias"), out_channels, "bias")
    return {"weight": weight, "bias": bias}


@register("nnet.cnn.layer.Convolution1DLayer", ops=("conv1d",), versions=(1,))
def conv1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = _sequence(layer, inputs)
    window = _window(layer, "FilterSize", "DilationFactor")
    in_channels = input_channels(layer, info)
    out_channels = layer.integer("NumFilters") or 0
    if out_channels < 1:
        raise layer.error("has no NumFilters.")
    pad_mode, pad_value = padding_value(layer)
    attrs = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        **_window_attrs(
            layer,
            window,
            pad_mode,
            pad_value,
            module_padding=pad_mode == "constant" and pad_value == 0.0,
        ),
    }
    attrs["mask_value"] = pad_value
    explicit = attrs["pad"] is not None or attrs["same"]
    return layer_node(
        layer,
        "conv1d",
        TensorInfo(SEQUENCE, (out_channels,)),
        attrs,
        params=_weights(layer, window.kernel, in_channels, out_channels),
        comment="MATLAB Weights K×Cin×Cout permuted to (Cout, Cin, K); forward transposes the "
        "(N, T, C) sequence to Conv1d's (N, C, T) and back",
        forward_comment=_padding_comment(window) if explicit else "",
    )


def _transposed_cropping(
    layer: LayerRecord, kernel: int, stride: int
) -> tuple[tuple[int, int], str]:
    """CroppingSize (left, right) and a comment saying which MATLAB rule gave it."""
    mode = (layer.text("CroppingMode", "manual") or "manual").lower()
    if mode not in ("manual", "same"):
        raise layer.error(
            f"uses CroppingMode '{mode}'; mat2torch supports 'manual' and 'same'."
        )
    stored = layer.ints("CroppingSize")
    if stored and (len(stored) not in (1, 2) or min(stored) < 0):
        raise layer.error(
            f"stores CroppingSize {list(stored)}; a 1-D layer crops [left right]."
        )
    crop = (stored[0], stored[-1]) if stored else (0, 0)
    text = f"[{crop[0]} {crop[1]}]"
    if mode == "manual":
        return crop, f"MATLAB CroppingSize [left right] = {text}"
    total = kernel - stride
    if total < 0:
        raise layer.error(
            f"uses 'same' cropping with a FilterSize {kernel} smaller than its Stride "
            f"{stride}, which mat2torch does not support."
        )
    rule = f"'same' cropping: FilterSize − Stride = {total} steps"
    if stored and sum(crop) == total:
        return crop, f"{rule}, [left right] = {text} as the layer stores it"
    if total % 2:
        found = (
            f"stores CroppingSize {text}, which does not add up to them"
            if stored
            else "stores no CroppingSize"
        )
        raise layer.error(
            f"uses 'same' cropping of an odd {total} steps (FilterSize − Stride) but "
            f"{found}; MATLAB's split of an odd 'same' cropping is uncertain, so "
            "mat2torch does not guess it."
        )
    return (total // 2, total // 2), f"{rule}, half at each end"


def _steps_formula(kernel: int, stride: int, crop: tuple[int, int]) -> str:
    """Output steps from T, as a formula for messages: Stride·T + FilterSize − Stride − cropping."""
    delta = kernel - stride - sum(crop)
    scaled = "T" if stride == 1 else f"{stride}·T"
    return (
        scaled if delta == 0 else f"{scaled} {'+' if delta > 0 else '−'} {abs(delta)}"
    )


@register(
    "nnet.cnn.layer.TransposedConvolution1DLayer",
    ops=("conv_transpose1d",),
    versions=(1,),
)
def transposed_conv1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    info = _sequence(layer, inputs)
    kernel = _scalar(layer, "FilterSize", 0)
    if not kernel:
        raise layer.error("has no FilterSize.")
    stride = _scalar(layer, "Stride", 1)
    out_channels, in_channels = transposed_channels(layer, info, 1)
    crop, how = _transposed_cropping(layer, kernel, stride)
    symmetric = crop[0] == crop[1]
    # Symmetric cropping is ConvTranspose1d's padding (it crops both ends); otherwise
    # "crop" (left, right) is sliced away after a padding-free module.
    attrs: dict[str, object] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "padding": crop[0] if symmetric else 0,
        "crop": None if symmetric else crop,
        "mask_value": 0.0,
        "uses_lengths": True,
    }
    if stride == 1 and sum(crop) == kernel - 1:
        attrs["lengths"] = "mask"
    else:
        attrs["lengths"] = "refuse"
        attrs["lengths_reason"] = (
            f"MATLAB layer {layer.name!r} changes the number of time steps "
            f"({_steps_formula(kernel, stride, crop)})"
        )
    params = _weights(layer, kernel, in_channels, out_channels, transposed=True)
    # Above __init__'s line when the module's padding crops; above forward's slice otherwise.
    attrs["crop_note"] = how if symmetric and crop != (0, 0) else ""
    return layer_node(
        layer,
        "conv_transpose1d",
        TensorInfo(SEQUENCE, (out_channels,)),
        attrs,
        params=params,
        comment="MATLAB Weights K×NumFilters×NumChannels permuted to (Cin, Cout, K); "
        "forward transposes the (N, T, C) sequence in and out",
        forward_comment="" if symmetric else how,
    )


def _pool(layer: LayerRecord, inputs: Sequence[TensorInfo], op: str) -> Node:
    info = _sequence(layer, inputs)
    if layer.flag("HasUnpoolingOutputs"):
        raise layer.error(
            "has unpooling outputs (HasUnpoolingOutputs true), which mat2torch does not support."
        )
    window = _window(layer, "PoolSize", None)
    comment = (
        "PyTorch pools (N, C, T): forward transposes the (N, T, C) sequence in and out"
    )
    if op == "max_pool1d":
        # Padding never wins a maximum (SEMANTICS.md §Pooling: -inf, uncertain).
        value = float("-inf")
        pad_mode, exclude = "constant", False
    else:
        text = layer.text("PaddingValue")
        if text is not None and text.lower() != "mean":
            raise layer.error(
                f"uses PaddingValue '{text}'; average pooling pads with a number or 'mean'."
            )
        exclude = text is not None
        value = 0.0 if exclude else float(layer.num("PaddingValue", 0.0) or 0.0)
        pad_mode = "constant"
        comment += (
            "; PaddingValue 'mean': padded steps are left out of each average"
            if exclude
            else "; padded steps count in each average"
        )
    attrs = _window_attrs(
        layer,
        window,
        pad_mode,
        value,
        # The modules' own padding is symmetric, at most half a window, and pads max
        # pooling with -inf and average pooling with counted zeros; 'mean' always pads
        # explicitly, so the count can leave padded steps out.
        module_padding=not exclude
        and value == (float("-inf") if op == "max_pool1d" else 0.0)
        and window.pad is not None
        and window.pad[0] <= window.kernel // 2,
    )
    explicit = attrs["pad"] is not None or attrs["same"]
    attrs["mask_value"] = value
    # Only padding can be left out of an average: no padding, plain average pooling.
    attrs["exclude_padding"] = exclude and explicit
    return layer_node(
        layer,
        op,
        TensorInfo(SEQUENCE, info.shape),
        attrs,
        comment=comment,
        forward_comment=_padding_comment(window) if explicit else "",
    )


@register("nnet.cnn.layer.MaxPooling1DLayer", ops=("max_pool1d",), versions=(1,))
def max_pool1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _pool(layer, inputs, "max_pool1d")


@register("nnet.cnn.layer.AveragePooling1DLayer", ops=("avg_pool1d",), versions=(1,))
def avg_pool1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _pool(layer, inputs, "avg_pool1d")


def _global(layer: LayerRecord, inputs: Sequence[TensorInfo], op: str) -> Node:
    info = _sequence(layer, inputs)
    # MATLAB's global 1-D pooling of 'CBT' data removes the time dimension: 'CB' out
    # (documented layer formats; what lets a fully connected + softmax follow it).
    what = "average" if op == "global_avg_pool1d" else "maximum"
    return layer_node(
        layer,
        op,
        TensorInfo(FEATURE, info.shape),
        {"uses_lengths": True},
        comment=f"MATLAB pools over time, 'CBT' → 'CB': (N, T, C) → (N, C), the {what} over each sequence's steps (with lengths, its real ones)",
    )


@register(
    "nnet.cnn.layer.GlobalAveragePooling1DLayer",
    ops=("global_avg_pool1d",),
    versions=(1,),
)
def global_avg_pool1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _global(layer, inputs, "global_avg_pool1d")


@register(
    "nnet.cnn.layer.GlobalMaxPooling1DLayer", ops=("global_max_pool1d",), versions=(1,)
)
def global_max_pool1d(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _global(layer, inputs, "global_max_pool1d")
