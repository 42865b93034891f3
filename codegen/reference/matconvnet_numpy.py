"""An independent NumPy reference of MatConvNet inference (vl_simplenn, dagnn.DagNN.eval).

Written from MatConvNet's documentation and C++ kernels (vl_nnconv, vl_nnconvt,
vl_nnpool / pooling_cpu.cpp, vl_nnbnorm / bnorm_cpu.cpp, vl_nnnormalize /
normalize_cpu.cpp, vl_nnspnorm.m, the dagnn.* classes), never from the converter: it
imports neither torch nor anything from ``codegen``.

Conventions
-----------
* MATLAB layout: images are ``(H, W, C, N)`` arrays (always 4-D), parameters exactly as
  stored in the file (trailing singleton dimensions possibly dropped).
* Computation in float64.
* Padding and cropping are MatConvNet's ``[top bottom left right]`` (a scalar means all four).
* A network is given as plain Python data: SimpleNN ``layers`` is a list of dicts (the
  layer struct's fields, ``weights`` a list of arrays); a DagNN is a list of dicts with
  ``type``, ``inputs``, ``outputs``, ``params`` (a list of arrays) and ``block`` (a dict).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "bnorm",
    "concat",
    "conv",
    "convt",
    "crop",
    "dagnn_forward",
    "lrn",
    "pool",
    "relu",
    "scale",
    "sigmoid",
    "simplenn_forward",
    "softmax",
    "spnorm",
]


def _four(value: Any) -> tuple[int, int, int, int]:
    v = (
        [int(x) for x in np.asarray(value, dtype=np.float64).ravel()]
        if value is not None
        else [0]
    )
    if len(v) == 1:
        return (v[0],) * 4  # type: ignore[return-value]
    if len(v) == 2:
        return (v[0], v[0], v[1], v[1])
    return (v[0], v[1], v[2], v[3])


def _two(value: Any, default: int = 1) -> tuple[int, int]:
    if value is None:
        return (default, default)
    v = [int(x) for x in np.asarray(value, dtype=np.float64).ravel()]
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def _as4(array: np.ndarray) -> np.ndarray:
    a = np.asarray(array, dtype=np.float64)
    return a.reshape(a.shape + (1,) * (4 - a.ndim))


# --------------------------------------------------------------------------- blocks


def conv(
    x: np.ndarray,
    f: np.ndarray,
    b: np.ndarray | None,
    pad: Any = 0,
    stride: Any = 1,
    dilate: Any = 1,
) -> np.ndarray:
    """vl_nnconv: y(i,j,k) = b(k) + Σ_{u,v,d} f(u,v,d,k)·xpad(s·i + δu, s·j + δv, d).

    Filters of depth D < C form G = C/D groups: group g reads channels g·D … (g+1)·D−1
    and owns filters g·K/G … (g+1)·K/G−1.
    """
    x = np.asarray(x, dtype=np.float64)
    f = _as4(f)
    fh, fw, depth, k = f.shape
    h, w, c, n = x.shape
    groups = c // depth
    assert (
        groups * depth == c and k % groups == 0
    ), "filter depth must divide the input channels"
    t, bt, left, r = _four(pad)
    sy, sx = _two(stride)
    dy, dx = _two(dilate)
    xp = np.zeros((h + t + bt, w + left + r, c, n))
    xp[t : t + h, left : left + w] = x
    eh, ew = (fh - 1) * dy + 1, (fw - 1) * dx + 1
    ho, wo = (h + t + bt - eh) // sy + 1, (w + left + r - ew) // sx + 1
    y = np.zeros((ho, wo, k, n))
    kg = k // groups
    for g in range(groups):
        xg = xp[:, :, g * depth : (g + 1) * depth]
        fg = f[:, :, :, g * kg : (g + 1) * kg]
        for u in range(fh):
            for v in range(fw):
                patch = xg[
                    u * dy : u * dy + sy * (ho - 1) + 1 : sy,
                    v * dx : v * dx + sx * (wo - 1) + 1 : sx,
                ]
                y[:, :, g * kg : (g + 1) * kg] += np.tensordot(
                    patch, fg[u, v], axes=([2], [0])
                ).transpose(0, 1, 3, 2)
    if b is not None and np.asarray(b).size:
        y += np.asarray(b, dtype=np.float64).reshape(1, 1, k, 1)
    return y


def convt(
    x: np.ndarray,
    f: np.ndarray,
    b: np.ndarray | None,
    upsample: Any = 1,
    crop: Any = 0,
    num_groups: int = 1,
) -> np.ndarray:
    """vl_nnconvt, the adjoint of vl_nnconv: f is FH×FW×K×D (K outputs per group, D inputs).

    Every input pixel (i, j) scatters f(:,:,k,d)·x(i,j,d) into the full output at
    (U·i + u, U·j + v); then [top bottom left right] are cropped away. With G groups,
    group g reads inputs g·D/G … and writes outputs g·K … (g+1)·K−1.
    """
    x = np.asarray(x, dtype=np.float64)
    f = _as4(f)
    fh, fw, k, d = f.shape
    h, w, c, n = x.shape
    assert c == d, "convt filters' fourth dimension is the input depth"
    uy, ux = _two(upsample)
    t, bt, left, r = _four(crop)
    dg = d // num_groups
    full = np.zeros((uy * (h - 1) + fh, ux * (w - 1) + fw, k * num_groups, n))
    for g in range(num_groups):
        xg = x[:, :, g * dg : (g + 1) * dg]
        for u in range(fh):
            for v in range(fw):
                contrib = np.tensordot(
                    xg, f[u, v, :, g * dg : (g + 1) * dg], axes=([2], [1])
                ).transpose(0, 1, 3, 2)
                full[
                    u : u + uy * (h - 1) + 1 : uy,
                    v : v + ux * (w - 1) + 1 : ux,
                    g * k : (g + 1) * k,
                ] += contrib
    y = full[t : full.shape[0] - bt, left : full.shape[1] - r]
    if b is not None and np.asarray(b).size:
        y = y + np.asarray(b, dtype=np.float64).reshape(1, 1, -1, 1)
    return y


def relu(x: np.ndarray, leak: float = 0.0) -> np.ndarray:
    """vl_nnrelu: max(x, 0), or x·leak for x < 0."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, leak * x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def softmax(x: np.ndarray) -> np.ndarray:
    """vl_nnsoftmax: over the channel dimension (3) at every pixel."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=2, keepdims=True))
    return e / e.sum(axis=2, keepdims=True)


def bnorm(
    x: np.ndarray, mult: np.ndarray, bias: np.ndarray, moments: np.ndarray
) -> np.ndarray:
    """vl_nnbnorm with given moments (C×2 = [mean sigma]): mult·(x − mean)/sigma + bias.

    sigma already includes epsilon (it is sqrt(var + eps)); nothing is added here.
    """
    c = x.shape[2]
    m = np.asarray(moments, dtype=np.float64).reshape((c, 2), order="F")
    g = np.asarray(mult, dtype=np.float64).reshape(1, 1, c, 1)
    b = np.asarray(bias, dtype=np.float64).reshape(1, 1, c, 1)
    return (
        g
        * (np.asarray(x, dtype=np.float64) - m[:, 0].reshape(1, 1, c, 1))
        / m[:, 1].reshape(1, 1, c, 1)
        + b
    )


def pool(
    x: np.ndarray, size: Any, method: str = "max", pad: Any = 0, stride: Any = 1
) -> np.ndarray:
    """vl_nnpool, as pooling_cpu.cpp computes it: each window is clipped to the input;
    'max' takes the maximum of the pixels inside, 'avg' divides their sum by their count
    (padding never counts). Output size floor((H + t + b − PH)/SY) + 1."""
    x = np.asarray(x, dtype=np.float64)
    ph, pw = _two(size)
    t, bt, left, r = _four(pad)
    sy, sx = _two(stride)
    h, w = x.shape[:2]
    ho, wo = (h + t + bt - ph) // sy + 1, (w + left + r - pw) // sx + 1
    y = np.zeros((ho, wo, *x.shape[2:]))
    for i in range(ho):
        y1 = i * sy - t
        y2, y1 = min(y1 + ph, h), max(y1, 0)
        for j in range(wo):
            x1 = j * sx - left
            x2, x1 = min(x1 + pw, w), max(x1, 0)
            window = x[y1:y2, x1:x2]
            y[i, j] = (
                window.max(axis=(0, 1)) if method == "max" else window.mean(axis=(0, 1))
            )
    return y


def lrn(x: np.ndarray, param: Sequence[float]) -> np.ndarray:
    """vl_nnnormalize, param [N kappa alpha beta]:
    y(k) = x(k)·(kappa + alpha·Σ_{q ∈ Q(k)} x(q)²)^−beta with
    Q(k) = [k − ⌊(N−1)/2⌋, k + ⌈(N−1)/2⌉] ∩ channels (alpha is not divided by N)."""
    n, kappa, alpha, beta = (
        float(v) for v in np.asarray(param, dtype=np.float64).ravel()
    )
    x = np.asarray(x, dtype=np.float64)
    depth = x.shape[2]
    m1 = (int(n) - 1) // 2
    m2 = int(n) - 1 - m1
    y = np.empty_like(x)
    for k in range(depth):
        lo, hi = max(0, k - m1), min(depth - 1, k + m2)
        s = (x[:, :, lo : hi + 1] ** 2).sum(axis=2)
        y[:, :, k] = x[:, :, k] * (kappa + alpha * s) ** -beta
    return y


def spnorm(x: np.ndarray, param: Sequence[float]) -> np.ndarray:
    """vl_nnspnorm, param [PH PW alpha beta]: y = x·(1 + alpha·n2)^−beta with n2 the
    average of x² over a PH×PW window padded [⌊(PH−1)/2⌋, PH−1−⌊(PH−1)/2⌋, ...]."""
    ph, pw, alpha, beta = (
        float(v) for v in np.asarray(param, dtype=np.float64).ravel()
    )
    ph_, pw_ = int(ph), int(pw)
    t, left = (ph_ - 1) // 2, (pw_ - 1) // 2
    n2 = pool(
        np.asarray(x, dtype=np.float64) ** 2,
        (ph_, pw_),
        "avg",
        (t, ph_ - 1 - t, left, pw_ - 1 - left),
        1,
    )
    return (1 + alpha * n2) ** -beta * x


def concat(inputs: Sequence[np.ndarray], dim: int = 3) -> np.ndarray:
    """dagnn.Concat: cat(dim, inputs{:}) with MATLAB's 1-based dim."""
    return np.concatenate(
        [np.asarray(a, dtype=np.float64) for a in inputs], axis=dim - 1
    )


def scale(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """dagnn.Scale: bsxfun(@times, x, w) (+ bsxfun(@plus, ., b))."""
    y = np.asarray(x, dtype=np.float64) * _as4(w)
    return y if b is None else y + _as4(b)


def crop(x: np.ndarray, ref: np.ndarray, base: Any = (0, 0)) -> np.ndarray:
    """dagnn.Crop: crop x to ref's H×W starting at min(crop, excess) (getAdaptedCrops)."""
    cv = x.shape[0] - ref.shape[0]
    cu = x.shape[1] - ref.shape[1]
    b = [int(v) for v in np.asarray(base).ravel()]
    top = cv - max(0, cv - b[0])
    left = cu - max(0, cu - b[1 if len(b) > 1 else 0])
    return np.asarray(x, dtype=np.float64)[
        top : top + ref.shape[0], left : left + ref.shape[1]
    ]


# --------------------------------------------------------------------------- networks


def _weights(layer: Mapping[str, Any]) -> list[np.ndarray | None]:
    ws = layer.get("weights")
    if ws is None:
        ws = [layer.get("filters"), layer.get("biases")]
    return [None if w is None or np.asarray(w).size == 0 else np.asarray(w) for w in ws]


def _scalar(value: Any, default: float) -> float:
    if value is None or np.asarray(value).size == 0:
        return default
    return float(np.asarray(value, dtype=np.float64).ravel()[0])


def simplenn_layer(layer: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """One vl_simplenn layer in test mode (dropout is the identity)."""
    kind = str(layer["type"])
    if kind == "conv":
        f, b = [*_weights(layer), None, None][:2]
        assert f is not None
        if f.ndim <= 3 and b is not None:  # one filter saved as FH×FW×D
            f = f.reshape(f.shape + (1,) * (3 - f.ndim) + (b.size,))
        return conv(
            x, f, b, layer.get("pad", 0), layer.get("stride", 1), layer.get("dilate", 1)
        )
    if kind == "convt":
        f, b = [*_weights(layer), None, None][:2]
        return convt(
            x,
            f,
            b,
            layer.get("upsample", 1),
            layer.get("crop", 0),
            int(_scalar(layer.get("numGroups"), 1)),
        )
    if kind == "relu":
        return relu(x, _scalar(layer.get("leak"), 0.0))
    if kind == "sigmoid":
        return sigmoid(x)
    if kind == "tanh":
        return np.tanh(np.asarray(x, dtype=np.float64))
    if kind == "softmax":
        return softmax(x)
    if kind == "dropout":
        return np.asarray(x, dtype=np.float64)
    if kind == "bnorm":
        g, b, m = _weights(layer)[:3]
        return bnorm(x, g, b, m)
    if kind == "pool":
        method = str(layer.get("method", "max"))
        return pool(
            x, layer["pool"], method, layer.get("pad", 0), layer.get("stride", 1)
        )
    if kind in ("lrn", "normalize"):
        return lrn(x, layer["param"])
    if kind == "spnorm":
        return spnorm(x, layer["param"])
    raise NotImplementedError(kind)


def simplenn_forward(layers: Sequence[Mapping[str, Any]], x: np.ndarray) -> np.ndarray:
    """vl_simplenn(net, x, [], [], 'mode', 'test') up to the first loss layer."""
    y = np.asarray(x, dtype=np.float64)
    for layer in layers:
        if str(layer["type"]) in ("loss", "softmaxloss"):
            break
        y = simplenn_layer(layer, y)
    return y


def dagnn_forward(
    layers: Sequence[Mapping[str, Any]], inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """dagnn.DagNN.eval in test mode: every var computed, in layer order (the saved order
    is an execution order). Loss layers are skipped. Returns all vars."""
    vars_: dict[str, np.ndarray] = {
        k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()
    }
    pending = list(layers)
    while pending:
        progressed = False
        for layer in list(pending):
            kind = str(layer["type"])
            if kind == "dagnn.Loss":
                pending.remove(layer)
                progressed = True
                continue
            if not all(v in vars_ for v in layer["inputs"]):
                continue
            args = [vars_[v] for v in layer["inputs"]]
            block = layer.get("block") or {}
            params = [
                None if p is None else np.asarray(p) for p in layer.get("params", [])
            ]
            vars_[layer["outputs"][0]] = dagnn_layer(kind, block, args, params)
            pending.remove(layer)
            progressed = True
        assert progressed, "the DagNN cannot be evaluated (missing inputs)"
    return vars_


def dagnn_layer(
    kind: str,
    block: Mapping[str, Any],
    args: list[np.ndarray],
    params: list[np.ndarray | None],
) -> np.ndarray:
    """One dagnn layer's forward in test mode."""
    x = args[0]
    if kind == "dagnn.Conv":
        f = params[0]
        assert f is not None
        size = [int(v) for v in np.asarray(block["size"]).ravel()]
        f = np.asarray(f).reshape(size, order="F")
        b = (
            params[1]
            if len(params) > 1 and _scalar(block.get("hasBias"), 1.0)
            else None
        )
        return conv(
            x, f, b, block.get("pad", 0), block.get("stride", 1), block.get("dilate", 1)
        )
    if kind == "dagnn.ConvTranspose":
        size = [int(v) for v in np.asarray(block["size"]).ravel()]
        f = np.asarray(params[0]).reshape(size, order="F")
        b = (
            params[1]
            if len(params) > 1 and _scalar(block.get("hasBias"), 1.0)
            else None
        )
        return convt(
            x,
            f,
            b,
            block.get("upsample", 1),
            block.get("crop", 0),
            int(_scalar(block.get("numGroups"), 1)),
        )
    if kind == "dagnn.ReLU":
        return relu(x, _scalar(block.get("leak"), 0.0))
    if kind == "dagnn.Sigmoid":
        return sigmoid(x)
    if kind == "dagnn.SoftMax":
        return softmax(x)
    if kind == "dagnn.DropOut":
        return np.asarray(x, dtype=np.float64)
    if kind == "dagnn.BatchNorm":
        g, b, m = params[:3]
        return bnorm(x, g, b, m)  # type: ignore[arg-type]
    if kind == "dagnn.Pooling":
        return pool(
            x,
            block["poolSize"],
            str(block.get("method", "max")),
            block.get("pad", 0),
            block.get("stride", 1),
        )
    if kind == "dagnn.LRN":
        return lrn(x, block["param"])
    if kind == "dagnn.Sum":
        return np.sum([np.asarray(a, dtype=np.float64) for a in args], axis=0)
    if kind == "dagnn.Concat":
        return concat(args, int(_scalar(block.get("dim"), 3)))
    if kind == "dagnn.Scale":
        w = params[0]
        size = block.get("size")
        if size is not None and np.asarray(size).size:
            w = np.asarray(w).reshape(
                [int(v) for v in np.asarray(size).ravel()], order="F"
            )
        b = (
            params[1]
            if len(params) > 1 and _scalar(block.get("hasBias"), 1.0)
            else None
        )
        return scale(x, w, b)  # type: ignore[arg-type]
    if kind == "dagnn.Crop":
        return crop(x, args[1], block.get("crop", (0, 0)))
    raise NotImplementedError(kind)
