"""Layers of MATLAB's Keras and ONNX importers, in MATLAB layout, written from the
``predict`` methods of MathWorks' class files (``nnet.keras.layer.*``,
``nnet.onnx.layer.*`` and MATLAB Coder's redirect classes for them).

The importer classes share short names with built-in layers (nnet.keras.layer.SigmoidLayer
and nnet.cnn.layer.SigmoidLayer; nnet.onnx.layer.FlattenLayer and nnet.cnn.layer.
FlattenLayer) but not their semantics, so :data:`LAYERS` is keyed by the full class name.

A layer's dlarray format is told by the number of dimensions, as everywhere in this
package: (H,W,C,N) SSCB, (H,W,D,C,N) SSSCB, (C,N,T) CBT, (C,N) CB.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    as_num,
    is_empty,
)


def flatten_cstyle(x: Array) -> Array:
    """nnet.keras.layer.FlattenCStyleLayer.predict:

    * SSCB: ``reshape(permute(X, [3 2 1 4]), [1 1 H*W*C N])``
    * SSSCB: ``reshape(permute(X, [4 3 2 1 5]), [1 1 1 H*W*D*C N])``
    * CBT: ``reshape(permute(X, [1 3 2]), [C*T N])`` (format CB)
    * CB: ``X``
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 4:
        h, w, c, n = x.shape
        return np.transpose(x, (2, 1, 0, 3)).reshape((1, 1, h * w * c, n), order="F")
    if x.ndim == 5:
        h, w, d, c, n = x.shape
        return np.transpose(x, (3, 2, 1, 0, 4)).reshape(
            (1, 1, 1, h * w * d * c, n), order="F"
        )
    if x.ndim == 3:
        c, n, t = x.shape
        return np.transpose(x, (0, 2, 1)).reshape((c * t, n), order="F")
    if x.ndim == 2:
        return x
    raise ValueError(f"FlattenCStyleLayer: unexpected input of shape {x.shape}")


def flatten_cstyle_tf(x: Array, fmt: str | None = None) -> Array:
    """nnet.keras.layer.FlattenCStyleTFLayer.predict, always CB: SSCB permute [3 2 1 4],
    SSSCB [4 3 2 1 5], CBT [1 3 2], SSCBT [3 2 1 5 4], then reshape to (all but
    batch)×B; CB unchanged. ``fmt`` defaults to what the number of dimensions tells."""
    x = np.asarray(x, dtype=np.float64)
    fmt = fmt or {4: "SSCB", 5: "SSSCB", 3: "CBT", 2: "CB"}[x.ndim]
    perms = {
        "SSCB": ((2, 1, 0, 3), 3),
        "SSSCB": ((3, 2, 1, 0, 4), 4),
        "CBT": ((0, 2, 1), 1),
        "SSCBT": ((2, 1, 0, 4, 3), 3),
    }
    if fmt == "CB":
        return x
    perm, batch = perms[fmt]
    n = x.shape[batch]
    return np.transpose(x, perm).reshape((-1, n), order="F")


def flatten_time_distributed(x: Array) -> Array:
    """nnet.keras.layer.TimeDistributedFlattenCStyleLayer.predict: folded images
    H×W×C×(N·T) (SSCB) → ``reshape(permute(X, [3 2 1 4]), [H*W*C, N*T])``; CB as is."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        return x
    h, w, c, n = x.shape
    return np.transpose(x, (2, 1, 0, 3)).reshape((h * w * c, n), order="F")


def flatten_onnx(x: Array) -> Array:
    """nnet.onnx.layer.FlattenLayer (MATLAB Coder's coder.internal.layer.FlattenOnnxLayer):
    ``[h,w,c,n] = size(X); Z = reshape(permute(X, [2 1 3 4]), [1 1 h*w*c n])``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        # size(X) of a C×N array gives h = C, w = N, c = n = 1: the batch is mixed in.
        x = x.reshape((*x.shape, 1, 1))
    if x.ndim != 4:
        raise ValueError(f"ONNX FlattenLayer: expected H×W×C×N, got {x.shape}")
    h, w, c, n = x.shape
    return np.transpose(x, (1, 0, 2, 3)).reshape((1, 1, h * w * c, n), order="F")


def flatten_into_2d(x: Array) -> Array:
    """nnet.onnx.layer.FlattenInto2dLayer: the same row-major flatten of BCHW, output CB
    (MATLAB's TensorFlow exporter for the class: "SSCB --> CB")."""
    y = flatten_onnx(x)
    return y.reshape(y.shape[2], y.shape[3])


def elementwise_affine(x: Array, props: Props) -> Array:
    """nnet.onnx.layer.ElementwiseAffineLayer.predict: ``Z = X; if DoScale, Z = Z.*Scale;
    if DoOffset, Z = Z + Offset`` (implicit expansion: the stored arrays line up with X's
    leading dimensions). DoScale/DoOffset default to what the constructor sets."""
    z = np.asarray(x, dtype=np.float64)

    def operand(key: str, neutral: float) -> tuple[bool, Array]:
        value = props.get(key)
        array = (
            np.asarray(neutral, dtype=np.float64) if is_empty(value) else as_f64(value)
        )
        flag_key = "Do" + key
        if flag_key in props and not is_empty(props[flag_key]):
            do = bool(np.asarray(props[flag_key]).flat[0])
        else:
            do = bool(np.any(array != neutral))
        return do, array.reshape(array.shape + (1,) * (z.ndim - array.ndim))

    do_scale, scale = operand("Scale", 1.0)
    if do_scale:
        z = z * scale
    do_offset, offset = operand("Offset", 0.0)
    if do_offset:
        z = z + offset
    return z


def zero_padding2d(x: Array, top: int, bottom: int, left: int, right: int) -> Array:
    """nnet.keras.layer.ZeroPadding2dLayer.predict: ``Z = zeros(H+Top+Bottom,
    W+Left+Right, C, N); Z(Top+(1:H), Left+(1:W), :, :) = X``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"ZeroPadding2dLayer: expected H×W×C×N, got {x.shape}")
    h, w, c, n = x.shape
    z = np.zeros((h + top + bottom, w + left + right, c, n))
    z[top : top + h, left : left + w] = x
    return z


def zero_padding1d(x: Array, left: int, right: int) -> Array:
    """nnet.keras.layer.ZeroPadding1dLayer.predict (CBT): ``Z = zeros(C, B,
    T+leftPad+rightPad); Z(:, :, leftPad+(1:T)) = X``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"ZeroPadding1dLayer: expected C×N×T, got {x.shape}")
    c, n, t = x.shape
    z = np.zeros((c, n, t + left + right))
    z[:, :, left : left + t] = x
    return z


def clip(x: Array, minimum: float, maximum: float) -> Array:
    """nnet.keras.layer.ClipLayer.predict: ``min(Max, max(Min, X))``."""
    return np.minimum(maximum, np.maximum(minimum, np.asarray(x, dtype=np.float64)))


def softsign(x: Array) -> Array:
    """nnet.keras.layer.SoftsignLayer.predict: ``X ./ (1 + abs(X))``."""
    x = np.asarray(x, dtype=np.float64)
    return x / (1.0 + np.abs(x))


def prelu(x: Array, alpha: Array) -> Array:
    """nnet.keras.layer.PreluLayer.predict: ``max(0,X) + Alpha.*min(0,X)`` (Alpha a
    scalar or a vector along one dimension, expanded against X's leading dimensions)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    a = a.reshape(a.shape + (1,) * (x.ndim - a.ndim))
    return np.maximum(0.0, x) + a * np.minimum(0.0, x)


def global_average_pooling2d(x: Array) -> Array:
    """nnet.keras.layer.GlobalAveragePooling2dLayer.predict: ``mean(mean(X,1),2)`` of
    H×W×C×N (1×1×C×N); ONNX's GlobalAveragePool, which nnet.onnx.layer.
    GlobalAveragePooling2dLayer imports, is the same mean over H and W."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(
            f"GlobalAveragePooling2dLayer: expected H×W×C×N, got {x.shape}"
        )
    return x.mean(axis=0, keepdims=True).mean(axis=1, keepdims=True)


def _int(props: Props, key: str) -> int:
    return round(as_num(props[key]))


def _sigmoid(p: Props, xs: list[Array]) -> Array:
    # nnet.keras.layer.SigmoidLayer.predict: 1./(1+exp(-X)); ONNX's Sigmoid is the same.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-xs[0]))


_KERAS = "nnet.keras.layer."
_ONNX = "nnet.onnx.layer."

LAYERS: dict[str, LayerRule] = {
    _KERAS + "FlattenCStyleLayer": lambda p, xs: flatten_cstyle(xs[0]),
    _KERAS + "FlattenCStyleTFLayer": lambda p, xs: flatten_cstyle_tf(xs[0]),
    _KERAS
    + "TimeDistributedFlattenCStyleLayer": lambda p, xs: flatten_time_distributed(
        xs[0]
    ),
    _KERAS
    + "ZeroPadding2dLayer": lambda p, xs: zero_padding2d(
        xs[0], _int(p, "Top"), _int(p, "Bottom"), _int(p, "Left"), _int(p, "Right")
    ),
    _KERAS
    + "ZeroPadding1dLayer": lambda p, xs: zero_padding1d(
        xs[0], _int(p, "leftPad"), _int(p, "rightPad")
    ),
    _KERAS + "ClipLayer": lambda p, xs: clip(xs[0], as_num(p["Min"]), as_num(p["Max"])),
    _KERAS + "SigmoidLayer": _sigmoid,
    _KERAS + "TanhLayer": lambda p, xs: np.tanh(xs[0]),
    _KERAS + "SoftsignLayer": lambda p, xs: softsign(xs[0]),
    _KERAS + "PreluLayer": lambda p, xs: prelu(xs[0], as_f64(p["Alpha"])),
    _KERAS
    + "GlobalAveragePooling2dLayer": lambda p, xs: global_average_pooling2d(xs[0]),
    # ONNX's Sigmoid, Tanh, Clip and GlobalAveragePool operators, as MATLAB imports them.
    _ONNX + "SigmoidLayer": _sigmoid,
    _ONNX + "TanhLayer": lambda p, xs: np.tanh(xs[0]),
    _ONNX + "ClipLayer": lambda p, xs: clip(xs[0], as_num(p["Min"]), as_num(p["Max"])),
    _ONNX
    + "GlobalAveragePooling2dLayer": lambda p, xs: global_average_pooling2d(xs[0]),
    _ONNX + "FlattenLayer": lambda p, xs: flatten_onnx(xs[0]),
    _ONNX + "FlattenInto2dLayer": lambda p, xs: flatten_into_2d(xs[0]),
    _ONNX + "ElementwiseAffineLayer": lambda p, xs: elementwise_affine(xs[0], p),
    # pass-through layers at prediction (MATLAB Coder's layer map)
    _ONNX + "IdentityLayer": lambda p, xs: np.asarray(xs[0], dtype=np.float64),
    _ONNX + "VerifyBatchSizeLayer": lambda p, xs: np.asarray(xs[0], dtype=np.float64),
}


def default_flatten(x: Any) -> Array:
    """MATLAB's own flattenLayer order on H×W×C×N (column-major, h fastest), for tests
    that show the importer's order is not it."""
    x = np.asarray(x, dtype=np.float64)
    return x.reshape((-1, x.shape[-1]), order="F")
