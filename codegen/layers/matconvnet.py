"""MatConvNet layers (SimpleNN ``type`` strings and DagNN ``dagnn.*`` classes) → IR.

The importer (``codegen.importers.matconvnet``) turns every SimpleNN layer struct into a
:class:`LayerRecord` with class ``simplenn.<type>`` and every DagNN layer into one with
its class (``dagnn.Conv``); the record's fields are the struct's fields (SimpleNN) or
the ``block`` struct (DagNN), plus ``weights``: the parameter values in order, as a
SimpleNN layer stores them. So one converter serves both forms.

MatConvNet semantics (vl_nnconv, vl_nnconvt, vl_nnpool, vl_nnbnorm, vl_nnnormalize,
vl_nnspnorm): images are H×W×C×N, filters FH×FW×C×K, padding [top bottom left right],
average pooling divides by the number of *non-padded* pixels in the window, max pooling
ignores padding, bnorm moments are [mean, sigma] with sigma = sqrt(var + epsilon), LRN
sums α·x² over N channels without dividing by N. Option fields may be stored in any
numeric class (uint8, int32, double) and logicals as uint8; the accessors read them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from codegen.ir import IMAGE, Node, TensorInfo
from codegen.layers.common import (
    channel_vector,
    conv2d_node,
    conv_transpose2d_node,
    f32,
    filter_params,
    layer_node,
    pad_comment,
    pair,
    pool_padding_attrs,
    rebuild,
    require_image,
    spatial_out,
    transposed_out,
)
from codegen.layers.matconvnet_fields import (
    dims,
    filter_shape,
    filters_and_bias,
    pad4,
    weight,
    weights,
)
from codegen.layers.record import LayerRecord, is_empty
from codegen.layers.registry import UNVERSIONED, Dropped, register

# SimpleNN defaults, as vl_simplenn_tidy fills them in.
_LRN_DEFAULT = (5.0, 1.0, 0.0001 / 5, 0.75)

# MATLAB dimension of an H×W×C×N array → PyTorch dimension of N×C×H×W.
_DIM_TO_TORCH = {1: 2, 2: 3, 3: 1, 4: 0}

_PAD = "MatConvNet pad"  # how forward comments name the padding they spell out


# --------------------------------------------------------------------------- convolution


@register("simplenn.conv", "dagnn.Conv", ops=("conv2d",), versions=UNVERSIONED)
def conv(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """vl_nnconv: filters FH×FW×D×K; D dividing the input channels means D-channel groups."""
    info = inputs[0]
    require_image(layer, info)
    filters, bias, has_bias = filters_and_bias(layer)
    fh, fw, depth, out_channels = filter_shape(layer, filters, bias)
    in_channels = info.channels if info.channels is not None else depth
    if in_channels % depth:
        raise layer.error(
            f"has filters of depth {depth}, which does not divide its {in_channels} input channels."
        )
    groups = in_channels // depth
    if out_channels % groups:
        raise layer.error(
            f"has {out_channels} filters, which cannot be split into {groups} groups."
        )
    params = filter_params(
        layer, filters, bias, (fh, fw, depth, out_channels), out_channels, has_bias
    )
    return conv2d_node(
        layer,
        info,
        params,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel=(fh, fw),
        stride=pair(layer.ints("stride"), 1),
        dilation=pair(layer.ints("dilate"), 1),
        pad=pad4(layer),
        pad_source=_PAD,
        groups=groups,
        bias=has_bias,
    )


@register(
    "simplenn.convt",
    "dagnn.ConvTranspose",
    ops=("conv_transpose2d",),
    versions=UNVERSIONED,
)
def conv_transpose(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """vl_nnconvt: filters FH×FW×K×D (K outputs per group, D inputs), upsample, crop."""
    info = inputs[0]
    require_image(layer, info)
    filters, bias, has_bias = filters_and_bias(layer)
    groups = layer.integer("numGroups", 1) or 1
    fh, fw, per_group, in_channels = filter_shape(layer, filters)
    if info.channels is not None and info.channels != in_channels:
        raise layer.error(
            f"has filters for {in_channels} input channels but receives {info.channels}."
        )
    if in_channels % groups:
        raise layer.error(
            f"has {in_channels} input channels, which cannot be split into {groups} groups."
        )
    out_channels = per_group * groups
    params = filter_params(
        layer, filters, bias, (fh, fw, per_group, in_channels), out_channels, has_bias
    )
    stride = pair(layer.ints("upsample"), 1)
    crop = pad4(layer, "crop")
    out = transposed_out(info, out_channels, (fh, fw), stride, crop)
    return conv_transpose2d_node(
        layer,
        params,
        out,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel=(fh, fw),
        stride=stride,
        crop=crop,
        groups=groups,
        bias=has_bias,
    )


# --------------------------------------------------------------------------- normalization


@register("simplenn.bnorm", "dagnn.BatchNorm", ops=("batchnorm",), versions=UNVERSIONED)
def bnorm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """vl_nnbnorm with given moments: y = mult·(x − mean)/sigma + bias, sigma = sqrt(var + eps).

    PyTorch computes sqrt(running_var + eps), so running_var = sigma² − eps reproduces
    sigma exactly (in exact arithmetic) for any eps; the layer's epsilon keeps training
    mode sensible. If some sigma² < eps, eps = 0 and running_var = sigma² instead.
    """
    info = inputs[0]
    require_image(layer, info)
    ws = weights(layer)
    mult, bias, moments = weight(ws, 0), weight(ws, 1), weight(ws, 2)
    channels = info.channels
    for value in (mult, bias):
        if channels is None and value is not None:
            channels = value.size
    if channels is None:
        channels = (layer.integer("numChannels", 0) or 0) or None
    if channels is None:
        raise layer.error("has no parameters and its input channel count is unknown.")
    eps = float(layer.num("epsilon", 1e-5) or 0.0)
    mean = var = None
    if moments is not None and np.any(moments):
        if moments.size != 2 * channels:
            raise layer.error(
                f"stores {moments.size} moments for {channels} channels (expected {channels}×2)."
            )
        m = np.asarray(moments, dtype=np.float64)
        table = (
            m.reshape((2, channels), order="F").T
            if m.shape == (2, channels) and channels != 2
            else m.reshape((channels, 2), order="F")
        )
        mean = table[:, 0]
        sigma2 = table[:, 1] ** 2
        if np.any(sigma2 < eps):
            eps = 0.0
        var = sigma2 - eps
    params: dict[str, np.ndarray | None] = {
        "weight": channel_vector(layer, mult, channels, "multiplier"),
        "bias": channel_vector(layer, bias, channels, "bias"),
        "running_mean": None if mean is None else f32(mean),
        "running_var": None if var is None else f32(var),
        "num_batches_tracked": (
            np.array(0, dtype=np.int64) if mean is not None else None
        ),
    }
    return layer_node(
        layer,
        "batchnorm",
        info,
        {"num_features": channels, "eps": eps, "dims": 2},
        params=params,
    )


@register(
    "simplenn.lrn",
    "simplenn.normalize",
    "dagnn.LRN",
    ops=("lrn",),
    versions=UNVERSIONED,
)
def lrn(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """vl_nnnormalize: y = x / (kappa + alpha·Σ x²)^beta over channels [k − ⌊(N−1)/2⌋, k + ⌈(N−1)/2⌉]."""
    info = inputs[0]
    require_image(layer, info)
    param = layer.raw("param", None)
    values = (
        _LRN_DEFAULT
        if is_empty(param)
        else tuple(
            float(v) for v in np.asarray(param, dtype=np.float64).ravel(order="F")
        )
    )
    if len(values) != 4:
        raise layer.error(
            f"has a 'param' of {len(values)} values; expected [N kappa alpha beta]."
        )
    n, kappa, alpha, beta = values
    if n != int(n) or n < 1:
        raise layer.error(
            f"has a window size N = {n!r}, which is not a positive integer."
        )
    # PyTorch's window is [k − ⌊N/2⌋, k + ⌊(N−1)/2⌋]: for an even N it is MatConvNet's mirrored.
    flip = int(n) % 2 == 0
    attrs = {
        "size": int(n),
        "alpha": alpha * int(n),
        "beta": beta,
        "k": kappa,
        "param": (int(n), kappa, alpha, beta),
        "flip": flip,
    }
    node = layer_node(layer, "lrn", info, attrs)
    if flip:
        node.forward_comment = f"even N = {int(n)}: MatConvNet's channel window [k-{(int(n) - 1) // 2}, k+{int(n) // 2}] is PyTorch's mirrored"
    return node


@register(
    "simplenn.spnorm", "dagnn.SpatialNorm", ops=("spatial_norm",), versions=UNVERSIONED
)
def spatial_norm(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """vl_nnspnorm: y = x·(1 + alpha·avg_{PH×PW} x²)^−beta, the average over non-padded pixels."""
    info = inputs[0]
    require_image(layer, info)
    param = layer.raw("param", None)
    if is_empty(param):
        raise layer.error("has no 'param' ([PH PW alpha beta]).")
    values = tuple(
        float(v) for v in np.asarray(param, dtype=np.float64).ravel(order="F")
    )
    if len(values) != 4:
        raise layer.error(
            f"has a 'param' of {len(values)} values; expected [PH PW alpha beta]."
        )
    ph, pw, alpha, beta = int(values[0]), int(values[1]), values[2], values[3]
    top, left = (ph - 1) // 2, (pw - 1) // 2
    bottom, right = ph - 1 - top, pw - 1 - left
    # The window is an AvgPool2d centred on each pixel (the extra row/column of an even size below/right).
    attrs = {
        "kernel_size": (ph, pw),
        "alpha": alpha,
        "beta": beta,
        **pool_padding_attrs((top, bottom, left, right), (ph, pw)),
    }
    return layer_node(layer, "spatial_norm", info, attrs)


# --------------------------------------------------------------------------- pooling


@register(
    "simplenn.pool",
    "dagnn.Pooling",
    ops=("max_pool2d", "avg_pool2d", "avg_pool2d_exclude_pad"),
    versions=UNVERSIONED,
)
def pool(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """vl_nnpool: max ignores padding (−inf), avg divides by the window's non-padded pixels."""
    info = inputs[0]
    require_image(layer, info)
    method = (layer.text("method", "max") or "max").lower()
    if method not in ("max", "avg"):
        raise layer.error(
            f"uses pooling method '{method}'; MatConvNet has 'max' and 'avg'."
        )
    kernel = pair(layer.ints("pool") or layer.ints("poolSize"), 1)
    stride = pair(layer.ints("stride"), 1)
    pad = pad4(layer)
    out = spatial_out(info, info.channels, kernel, stride, (1, 1), pad)
    attrs: dict[str, Any] = {
        "kernel_size": kernel,
        "stride": stride,
        **pool_padding_attrs(pad, kernel),
    }
    symmetric = attrs["pad"] is None
    if method == "max":
        node = layer_node(layer, "max_pool2d", out, attrs)
        if not symmetric:
            node.forward_comment = (
                pad_comment(pad, _PAD) + "; max pooling pads with -inf"
            )
        return node
    if symmetric:
        # MatConvNet divides by the number of real (non-padded) pixels in each window.
        return layer_node(
            layer, "avg_pool2d", out, {**attrs, "count_include_pad": False}
        )
    node = layer_node(layer, "avg_pool2d_exclude_pad", out, attrs)
    node.forward_comment = (
        pad_comment(pad, _PAD) + "; the average counts only real pixels"
    )
    return node


# --------------------------------------------------------------------------- elementwise


@register(
    "simplenn.relu", "dagnn.ReLU", ops=("relu", "leaky_relu"), versions=UNVERSIONED
)
def relu(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    leak = float(layer.num("leak", 0.0) or 0.0)
    if leak:
        return layer_node(layer, "leaky_relu", inputs[0], {"negative_slope": leak})
    return layer_node(layer, "relu", inputs[0])


@register("simplenn.sigmoid", "dagnn.Sigmoid", ops=("sigmoid",), versions=UNVERSIONED)
def sigmoid(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return layer_node(layer, "sigmoid", inputs[0])


@register("simplenn.tanh", "dagnn.Tanh", ops=("tanh",), versions=UNVERSIONED)
def tanh(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return layer_node(layer, "tanh", inputs[0])


@register("simplenn.softmax", "dagnn.SoftMax", ops=("softmax",), versions=UNVERSIONED)
def softmax(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    # vl_nnsoftmax normalizes over the third (channel) dimension at every pixel.
    return layer_node(layer, "softmax", inputs[0], {"dim": 1})


@register("simplenn.dropout", "dagnn.DropOut", ops=("dropout",), versions=UNVERSIONED)
def dropout(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return layer_node(
        layer, "dropout", inputs[0], {"p": float(layer.num("rate", 0.5) or 0.0)}
    )


@register(
    "simplenn.loss", "simplenn.softmaxloss", "dagnn.Loss", ops=(), versions=UNVERSIONED
)
def loss(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Dropped:
    """Training objectives: they vanish from forward."""
    return Dropped()


# --------------------------------------------------------------------------- DAG-only


@register("dagnn.Sum", ops=("add",), versions=UNVERSIONED)
def sum_(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    if len(inputs) < 2:
        raise layer.error(f"has {len(inputs)} input; a sum needs at least two.")
    known = [i for i in inputs if i.channels is not None]
    channels = {i.channels for i in known}
    if len(channels) > 1:
        raise layer.error(f"adds inputs with different channel counts {sorted(channels)}.")  # type: ignore[type-var]
    out = known[0] if known else inputs[0]
    return layer_node(layer, "add", out, {"flatten": [False] * len(inputs)})


@register("dagnn.Concat", ops=("concat",), versions=UNVERSIONED)
def concat(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    dim = layer.integer("dim", 3) or 3
    if dim not in _DIM_TO_TORCH:
        raise layer.error(
            f"concatenates along dimension {dim}; only 1 to 4 (H, W, C, N) exist."
        )
    for info in inputs:
        require_image(layer, info)
    shape: list[int | None] = list(inputs[0].shape)
    axis = {1: 1, 2: 2, 3: 0}.get(dim)  # index into (C, H, W)
    if axis is not None:
        sizes = [i.shape[axis] for i in inputs]
        shape[axis] = None if None in sizes else sum(s for s in sizes if s is not None)
    attrs = {
        "dim": _DIM_TO_TORCH[dim],
        "matlab_dim": dim,
        "flatten": [False] * len(inputs),
    }
    return layer_node(layer, "concat", TensorInfo(IMAGE, tuple(shape)), attrs)


@register("dagnn.Scale", ops=("scale",), versions=UNVERSIONED)
def scale(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """dagnn.Scale with stored parameters: y = x .* w (+ b), w broadcast (usually 1×1×C)."""
    info = inputs[0]
    require_image(layer, info)
    if len(inputs) != 1:
        raise layer.error(
            "multiplies two network variables; only a Scale with stored parameters is supported."
        )
    ws = weights(layer)
    mult, bias = weight(ws, 0), weight(ws, 1)
    if mult is None:
        raise layer.error("stores no scale factors.")
    size = layer.ints("size")
    # Both operands broadcast against H×W×C×N like MATLAB's bsxfun; in PyTorch order.
    shape = (
        tuple(size) + (1,) * (4 - len(size))
        if size and len(size) <= 4
        else dims(mult, 4)
    )
    try:
        w = rebuild(mult, shape[:4])
    except ValueError as exc:
        raise layer.error(
            f"stores scale factors that do not match its size ({exc})."
        ) from None
    buffers = {"weight": f32(w.transpose(3, 2, 0, 1))}
    if layer.flag("hasBias", True) and bias is not None:
        if bias.ndim > 4:
            raise layer.error(f"stores a {bias.ndim}-D bias.")
        buffers["bias"] = f32(bias.reshape(dims(bias, 4)).transpose(3, 2, 0, 1))
    comment = (
        "dagnn.Scale: multiplier"
        + (" and bias" if "bias" in buffers else "")
        + " broadcast like MATLAB's bsxfun"
    )
    return layer_node(layer, "scale", info, buffers=buffers, comment=comment)


@register("dagnn.Crop", ops=("crop_like",), versions=UNVERSIONED)
def crop(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """dagnn.Crop: crop input 1 to input 2's H×W, starting at min(crop, excess) (FCN)."""
    if len(inputs) != 2:
        raise layer.error(
            f"has {len(inputs)} inputs; dagnn.Crop takes the tensor to crop and a reference."
        )
    a, b = inputs
    require_image(layer, a)
    values = layer.ints("crop") or (0, 0)
    cv, cu = (values[0], values[0]) if len(values) == 1 else (values[0], values[1])
    start: list[int | None] = []
    for axis, base in ((1, cv), (2, cu)):
        sa, sb = a.shape[axis], b.shape[axis]
        start.append(None if sa is None or sb is None else min(base, sa - sb))
    out = TensorInfo(IMAGE, (a.channels, b.shape[1], b.shape[2]))
    node = layer_node(
        layer, "crop_like", out, {"crop": (cv, cu), "start": tuple(start)}
    )
    node.forward_comment = f"dagnn.Crop: input 1 cut to input 2's height and width, from min({cv}, excess) / min({cu}, excess)"
    return node
