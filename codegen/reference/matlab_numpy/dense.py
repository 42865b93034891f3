"""Dense and normalization layers: flatten, fully connected, input layers and their
normalization, batch, layer and cross-channel normalization."""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_f64,
    as_int,
    as_num,
    as_str,
    channel_axis,
    is_empty,
    param,
)


def flatten(x: Array) -> Array:
    """flattenLayer / MATLAB's implicit flatten: (H,W,C,N) → (H·W·C, N) column-major.

    Index of element (h,w,c) is h + H·(w + W·c) (SEM §Fully connected). [verified]
    Features/sequences are returned unchanged.
    Volumes (H,W,D,C,N) flatten the same way: h + H·(w + W·(d + D·c)).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (4, 5):
        return x
    return x.reshape((-1, x.shape[-1]), order="F")


def fully_connected(
    x: Array,
    weights: Array,
    bias: Array | None = None,
    output_size: int | None = None,
) -> Array:
    """fullyConnectedLayer (SEM §Fully connected).

    * 4-D weights (H,W,C,Out) (possibly with trailing singletons dropped, e.g. 1×1×64 for
      one output) on an (H,W,C,N) input: ``y[o,n] = Σ_{h,w,c} W[h,w,c,o]·x[h,w,c,n] + b[o]``;
      the result keeps MATLAB's image form (1,1,Out,N).
    * 2-D weights (Out,In): ``y = W·x + b``; an image input is first flattened
      column-major (:func:`flatten`) and the result is (1,1,Out,N); a sequence (C,N,T) is
      transformed at every time step → (Out,N,T); features (C,N) → (Out,N).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if output_size is None:
        output_size = w.shape[-1] if w.ndim >= 3 else w.shape[0]
    out = int(output_size)
    b = (
        None
        if bias is None or np.asarray(bias).size == 0
        else np.asarray(bias, dtype=np.float64).reshape(-1, order="F")
    )
    if x.ndim == 4:
        n = x.shape[3]
        in_feats = x.shape[0] * x.shape[1] * x.shape[2]
        if w.ndim >= 3 or (w.ndim == 2 and w.shape != (out, in_feats)):
            # 4-D form (H,W,C,Out) with trailing dims maybe dropped: rebuild column-major.
            w4 = w.reshape((x.shape[0], x.shape[1], x.shape[2], out), order="F")
            y = np.einsum("hwco,hwcn->on", w4, x)
        else:
            y = w @ flatten(x)
        if b is not None:
            y = y + b[:, None]
        return y.reshape((1, 1, out, n))
    # (Out, In) as stored, or a 4-D (…, Out) form whose leading dims are the flattened input
    w2 = w if w.ndim == 2 else w.reshape((-1, out), order="F").T
    if x.ndim == 2:
        y = w2 @ x
        return y + b[:, None] if b is not None else y
    if x.ndim == 3:
        y = np.einsum("oc,cnt->ont", w2, x)
        return y + b[:, None, None] if b is not None else y
    raise ValueError(f"unsupported input rank {x.ndim}")


def _per_channel(v: Any, x: Array) -> Array:
    """Broadcast a per-channel vector (any stored shape: 1×1×C, C×1, ...) against x."""
    a = np.asarray(v, dtype=np.float64).reshape(-1, order="F")
    shape = [1] * x.ndim
    shape[channel_axis(x)] = a.size
    return a.reshape(shape)


def batchnorm(
    x: Array, mean: Array, variance: Array, scale: Array, offset: Array, epsilon: float
) -> Array:
    """batchNormalizationLayer at inference (SEM §Normalization). [verified]

    ``y = Scale·(x − TrainedMean)/sqrt(TrainedVariance + Epsilon) + Offset`` per channel.
    """
    x = np.asarray(x, dtype=np.float64)
    m, v = _per_channel(mean, x), _per_channel(variance, x)
    g, b = _per_channel(scale, x), _per_channel(offset, x)
    return g * (x - m) / np.sqrt(v + float(epsilon)) + b


def layer_norm(
    x: Array,
    scale: Array,
    offset: Array,
    epsilon: float = 1e-5,
    operation_dimension: str = "auto",
) -> Array:
    """layerNormalizationLayer (SEM §Normalization).

    'auto': images (H,W,C,N) are normalized over H,W,C per observation; features (C,N)
    and sequences (C,N,T) over channels only (per observation and time step).
    'channel-only' forces the channel-only form for images too. Mean and (biased)
    variance over those dims; ``y = Scale·(x − μ)/sqrt(σ² + ε) + Offset`` with per-channel
    Scale/Offset. [doc]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 4 and operation_dimension not in ("channel-only",):
        axes: tuple[int, ...] = (0, 1, 2)
    else:
        axes = (channel_axis(x),)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return _per_channel(scale, x) * (x - mu) / np.sqrt(
        var + float(epsilon)
    ) + _per_channel(offset, x)


def _stat_like(stat: Any, x: Array) -> Array:
    """Broadcast an input-layer statistic of any stored shape against x.

    Images: stored H×W×C, 1×1×C, scalar, or H×W when C = 1 (MATLAB dropped the trailing
    singleton) — appending singleton dims restores it. Features/sequences: C values or
    a scalar.
    """
    a = np.asarray(stat, dtype=np.float64)
    if a.size == 1:
        return a.reshape(())
    if x.ndim == 4:
        if a.ndim > 3:
            a = a.reshape(a.shape[:3])
        return a.reshape(a.shape + (1,) * (4 - a.ndim))
    c = x.shape[0]
    if a.size != c:
        raise ValueError(f"statistic of size {a.size} does not match {c} channels")
    return a.reshape((c,) + (1,) * (x.ndim - 1), order="F")


def input_normalization(
    x: Array,
    kind: str,
    mean: Any = None,
    std: Any = None,
    min_value: Any = None,
    max_value: Any = None,
) -> Array:
    """Input-layer normalization (SEM §Normalization; [verified: zerocenter]).

    'zerocenter' x − Mean (AverageImage); 'zscore' (x − Mean)/Std;
    'rescale-symmetric' 2(x − Min)/(Max − Min) − 1; 'rescale-zero-one'
    (x − Min)/(Max − Min); 'none' identity. Statistics in any stored shape
    (:func:`_stat_like`).
    """
    x = np.asarray(x, dtype=np.float64)
    kind = (kind or "none").lower()
    if kind == "none":
        return x
    if kind == "zerocenter":
        return x - _stat_like(mean, x)
    if kind == "zscore":
        return (x - _stat_like(mean, x)) / _stat_like(std, x)
    lo, hi = _stat_like(min_value, x), _stat_like(max_value, x)
    if kind == "rescale-symmetric":
        return 2.0 * (x - lo) / (hi - lo) - 1.0
    if kind == "rescale-zero-one":
        return (x - lo) / (hi - lo)
    raise ValueError(f"unsupported normalization {kind!r}")


def cross_channel_norm(
    x: Array,
    window: int,
    alpha: float = 1e-4,
    beta: float = 0.75,
    k: float = 2.0,
    alpha_over_n: bool = True,
) -> Array:
    """Local response (cross-channel) normalization.

    ``y = x / (k + a·ss)^β`` where ``ss`` is the sum of squares over the channel window
    ``[c − floor((N−1)/2), c + floor(N/2)]`` (clipped at the edges; for even N the window
    looks one channel further *forward*), and

    * ``alpha_over_n=True``  (default): ``a = α/N`` — MATLAB Deep Learning Toolbox
      ``crossChannelNormalizationLayer`` / ``crosschannelnorm`` (documented formula
      ``x / (K + α·ss/windowChannelSize)^β``);
    * ``alpha_over_n=False``: ``a = α`` — MatConvNet ``lrn`` / ``dagnn.LRN``
      (``vl_nnnormalize``: ``x (κ + α Σ x²)^−β``, param = [N κ α β]).

    NB: SEM §Activations claims the α (not α/N) form for the DLT layer too; MATLAB's
    documentation says α/N.
    """
    x = np.asarray(x, dtype=np.float64)
    ax = channel_axis(x)
    xm = np.moveaxis(x, ax, 0)
    c = xm.shape[0]
    before, after = (window - 1) // 2, window // 2
    sq = xm**2
    ss = np.zeros_like(xm)
    for ch in range(c):
        lo, hi = max(0, ch - before), min(c - 1, ch + after)
        ss[ch] = sq[lo : hi + 1].sum(axis=0)
    a = alpha / window if alpha_over_n else alpha
    y = xm / (k + a * ss) ** beta
    return np.moveaxis(y, 0, ax)


# ---------------------------------------------------------------- layers


def _input_norm(p: Props, x: Array) -> Array:
    norm = p.get("Normalization")
    if norm is None or (isinstance(norm, np.ndarray) and not norm.dtype.names):
        if (
            norm is not None
            and np.asarray(norm).size
            and np.asarray(norm).dtype.kind == "U"
        ):
            kind = as_str(norm)
            if kind != "none":
                raise NotImplementedError(f"normalization {kind!r} without statistics")
        return x
    rec = norm.flat[0]
    names = norm.dtype.names

    def get(*cands: str) -> Any:
        for c in cands:
            if c in names and not is_empty(rec[c]):
                return rec[c]
        return None

    kind = as_str(get("Type"))
    mean = get("AverageImage", "Mean")
    if kind == "zerocenter" and mean is None:
        return x  # untrained: no statistics yet
    return input_normalization(
        x,
        kind,
        mean=mean,
        std=get("Std", "StandardDeviation"),
        min_value=get("Min"),
        max_value=get("Max"),
    )


# A formatted dlarray always holds its dimensions in this order of labels [doc: dlarray].
DLARRAY_LABEL_ORDER = "SCBTU"


def input_layer(x: Array, input_size: Array, input_format: str) -> Array:
    """inputLayer(inputSize, inputFormat) [doc: inputLayer, R2023b]: labels the data with
    ``input_format`` and passes it on without normalization.

    ``x`` has one axis per label, in the format's order (axes MATLAB's ``size`` drops as
    trailing singletons may be missing). ``input_size`` is InputSize: NaN is any size,
    any other value must match; entries missing at the end are 1. The result is the
    data as the formatted dlarray holds it, its axes sorted by label in dlarray's order
    S, C, B, T, U (spatial axes keep their own order) [doc: dlarray]; for the formats
    the layouts here use ('SSCB', 'CB', 'CBT', 'SSSCB', 'SSCBT') that is ``x`` itself.
    """
    x = np.asarray(x, dtype=np.float64)
    fmt = str(input_format)
    if not fmt or set(fmt) - set(DLARRAY_LABEL_ORDER):
        raise ValueError(f"inputLayer format {fmt!r} is not a dlarray data format")
    if x.ndim > len(fmt):
        raise ValueError(f"{x.ndim}-D data for the {len(fmt)} labels of {fmt!r}")
    x = x.reshape(x.shape + (1,) * (len(fmt) - x.ndim))
    size = np.asarray(input_size, dtype=np.float64).ravel(order="F")
    if size.size > len(fmt) and np.any(size[len(fmt) :] != 1):
        raise ValueError(f"InputSize {size} has more sizes than {fmt!r} has labels")
    size = np.concatenate([size, np.ones(max(len(fmt) - size.size, 0))])[: len(fmt)]
    for axis, (label, expected) in enumerate(zip(fmt, size, strict=True)):
        if not np.isnan(expected) and x.shape[axis] != int(expected):
            raise ValueError(
                f"dimension {axis + 1} ({label}) of the data has size {x.shape[axis]}, "
                f"InputSize says {int(expected)}"
            )
    order = sorted(
        range(len(fmt)), key=lambda i: (DLARRAY_LABEL_ORDER.index(fmt[i]), i)
    )
    return x.transpose(order)


def _input_layer(p: Props, xs: list[Array]) -> Array:
    return input_layer(xs[0], as_f64(p["InputSize"]), as_str(p["InputFormat"]))


def _image_input_layer(p: Props, xs: list[Array]) -> Array:
    x = xs[0]
    return _input_norm(p, x[..., None] if x.ndim == 3 else x)


def _batchnorm_layer(p: Props, xs: list[Array]) -> Array:
    statistics = (
        as_f64(p[k]) for k in ("TrainedMean", "TrainedVariance", "Scale", "Offset")
    )
    return batchnorm(xs[0], *statistics, as_num(p["Epsilon"]))


def _layer_norm_layer(p: Props, xs: list[Array]) -> Array:
    opdim = as_str(p.get("OperationDimension", "auto")) or "auto"
    return layer_norm(
        xs[0],
        as_f64(p["Scale"]),
        as_f64(p["Offset"]),
        as_num(p.get("Epsilon", 1e-5)),
        opdim,
    )


def _cross_channel_norm_layer(p: Props, xs: list[Array]) -> Array:
    settings = (as_num(p[k]) for k in ("Alpha", "Beta", "K"))
    return cross_channel_norm(
        xs[0], as_int(p["WindowChannelSize"]), *settings, alpha_over_n=True
    )


def _fully_connected_layer(p: Props, xs: list[Array]) -> Array:
    out = int(np.prod(as_f64(p["OutputSize"])))
    return fully_connected(xs[0], as_f64(p["Weights"]), param(p, "Bias"), out)


LAYERS: dict[str, LayerRule] = {
    "ImageInputLayer": _image_input_layer,
    "SequenceInputLayer": lambda p, xs: _input_norm(p, xs[0]),
    "FeatureInputLayer": lambda p, xs: _input_norm(p, xs[0]),
    "InputLayer": _input_layer,
    "FullyConnectedLayer": _fully_connected_layer,
    "FlattenLayer": lambda p, xs: flatten(xs[0]),
    "BatchNormalizationLayer": _batchnorm_layer,
    "LayerNormalizationLayer": _layer_norm_layer,
    "CrossChannelNormalizationLayer": _cross_channel_norm_layer,
}
