"""MATLAB's ``sim`` for static shallow networks (``network`` objects), in NumPy.

Written from the documented rules of the Neural Network Toolbox, never from the
converters: ``sim(net, X)`` with X features × samples processes each input with its
``processFcns`` in order, computes every layer in an order where its sources come first as
``a_i = transferFcn(netInputFcn(weightFcn(IW{i,j}, P_j)..., weightFcn(LW{i,k}, a_k)..., b_i))``
and reverse-processes each output layer's ``a_i`` with its ``processFcns`` in reverse
order. Everything is computed in double precision, as MATLAB does.

The network may come from ``scipy.io.loadmat(..., struct_as_record=False,
mat_dtype=True)`` (``mat_struct`` objects) or from mat-io (record arrays); :func:`plain`
turns either into nested dicts and lists first.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """A MATLAB value as Python: structs → dict, cells → list (column-major), chars → str,
    numeric arrays → float64 arrays (2-D, as MATLAB keeps them), empties → None."""
    if hasattr(value, "_fieldnames"):  # scipy mat_struct
        return {k: plain(getattr(value, k)) for k in value._fieldnames}
    if isinstance(value, np.ndarray):
        if value.dtype.names:
            if value.size == 0:
                return None
            rec = value.ravel(order="F")[0]
            return {k: plain(rec[k]) for k in value.dtype.names}
        if value.dtype == object:
            if value.size == 0:
                return None
            if value.size == 1 and hasattr(value.flat[0], "_fieldnames"):
                return plain(value.flat[0])
            return [plain(v) for v in value.ravel(order="F")]
        if value.dtype.kind in "US":
            return "".join(str(v) for v in value.ravel())
        if value.size == 0:
            return None
        return np.atleast_2d(np.asarray(value, dtype=np.float64))
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool, np.generic)):
        return np.array([[float(value)]])
    return None  # mat-io's canonical empty and other placeholders


def _cell(value: Any, rows: int, cols: int) -> list[list[Any]]:
    """A MATLAB cell rows × cols (stored column-major) as a list of rows."""
    flat = value if isinstance(value, list) else [value]
    flat = flat + [None] * (rows * cols - len(flat))
    return [[flat[r + rows * c] for c in range(cols)] for r in range(rows)]


def _int(value: Any) -> int:
    return round(float(np.asarray(value).ravel()[0]))


def _flags(value: Any, rows: int, cols: int) -> np.ndarray:
    if value is None:
        return np.zeros((rows, cols), dtype=bool)
    return np.asarray(value, dtype=np.float64).reshape(rows, cols) != 0


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [v for v in value if isinstance(v, str)]


def _settings(value: Any, count: int) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return list(value or [])[:count]


def _col(settings: dict[str, Any], key: str) -> np.ndarray:
    return np.asarray(settings[key], dtype=np.float64).reshape(-1, 1)


def _indices(settings: dict[str, Any], key: str) -> np.ndarray:
    value = settings.get(key)
    if value is None:
        return np.zeros(0, dtype=int)
    return np.asarray(value).ravel().astype(int) - 1


# --------------------------------------------------------------------------- processing


def process_apply(name: str, s: dict[str, Any], x: np.ndarray) -> np.ndarray:
    if name == "mapminmax":
        if s.get("no_change") is not None and bool(
            np.asarray(s["no_change"]).ravel()[0]
        ):
            return x
        return (x - _col(s, "xoffset")) * _col(s, "gain") + float(s["ymin"].ravel()[0])
    if name == "mapstd":
        if s.get("no_change") is not None and bool(
            np.asarray(s["no_change"]).ravel()[0]
        ):
            return x
        return (x - _col(s, "xoffset")) * _col(s, "gain") + float(s["ymean"].ravel()[0])
    if name == "removeconstantrows":
        return x[_indices(s, "keep"), :]
    if name == "removerows":
        return x[_indices(s, "keep_ind"), :]
    if name == "processpca":
        return np.asarray(s["transform"], dtype=np.float64) @ x
    if name == "fixunknowns":
        # y(shiftInd,:) = x with NaN replaced by xmeans; y(flagInd,:) = ~isnan(x(unknown,:))
        xrows, yrows = _int(s["xrows"]), _int(s["yrows"])
        shift = np.asarray(s["shift"]).ravel().astype(int)
        unknown = _indices(s, "unknown")
        y = np.zeros((yrows, x.shape[1]))
        filled = np.where(np.isnan(x), _col(s, "xmeans"), x)
        y[np.arange(xrows) + shift, :] = filled
        y[unknown + shift[unknown] + 1, :] = ~np.isnan(x[unknown, :])
        return y
    raise ValueError(f"processing function {name!r} is not in this reference")


def process_reverse(name: str, s: dict[str, Any], y: np.ndarray) -> np.ndarray:
    if name == "mapminmax":
        if s.get("no_change") is not None and bool(
            np.asarray(s["no_change"]).ravel()[0]
        ):
            return y
        return (y - float(s["ymin"].ravel()[0])) / _col(s, "gain") + _col(s, "xoffset")
    if name == "mapstd":
        if s.get("no_change") is not None and bool(
            np.asarray(s["no_change"]).ravel()[0]
        ):
            return y
        return (y - float(s["ymean"].ravel()[0])) / _col(s, "gain") + _col(s, "xoffset")
    if name == "removeconstantrows":
        x = np.zeros((_int(s["xrows"]), y.shape[1]))
        x[_indices(s, "keep"), :] = y
        constants = s.get("constants")
        if constants is None:
            constants = s.get("value")
        remove = _indices(s, "remove")
        if remove.size:
            x[remove, :] = np.asarray(constants, dtype=np.float64).reshape(-1, 1)
        return x
    if name == "removerows":
        x = np.full((_int(s["xrows"]), y.shape[1]), np.nan)
        x[_indices(s, "keep_ind"), :] = y
        return x
    if name == "processpca":
        return np.asarray(s["inverseTransform"], dtype=np.float64) @ y
    raise ValueError(f"processing function {name!r} is not in this reference")


# --------------------------------------------------------------------------- functions


def transfer(name: str, n: np.ndarray) -> np.ndarray:
    """The toolbox's transfer functions, per their documented formulas (n is S × Q)."""
    with np.errstate(over="ignore", divide="ignore"):  # exp(big) = inf gives the limits
        return _transfer(name, n)


def _transfer(name: str, n: np.ndarray) -> np.ndarray:
    if name == "purelin":
        return n.copy()
    if name == "tansig":
        return 2.0 / (1.0 + np.exp(-2.0 * n)) - 1.0
    if name == "logsig":
        return 1.0 / (1.0 + np.exp(-n))
    if name == "softmax":
        e = np.exp(n - np.max(n, axis=0, keepdims=True))
        total = np.sum(e, axis=0, keepdims=True)
        total[total == 0] = 1.0
        return e / total
    if name == "poslin":
        return np.where(n > 0, n, 0.0) + 0.0 * n  # NaN stays NaN
    if name == "satlin":
        return np.clip(n, 0.0, 1.0)
    if name == "satlins":
        return np.clip(n, -1.0, 1.0)
    if name == "hardlim":
        return np.where(np.isnan(n), np.nan, (n >= 0).astype(np.float64))
    if name == "hardlims":
        return np.where(np.isnan(n), np.nan, np.where(n >= 0, 1.0, -1.0))
    if name == "radbas":
        return np.exp(-(n * n))
    if name == "radbasn":
        # As the toolbox computes it: shifted by the smallest n^2 for accuracy; a sample
        # whose terms all vanish gives 0.
        low = np.min(np.abs(n), axis=0, keepdims=True)
        a = np.exp(-(n * n) + low * low)
        total = np.sum(a, axis=0, keepdims=True)
        with np.errstate(invalid="ignore"):
            a = a / total
        a[:, (total == 0).ravel()] = 0.0
        return a
    if name == "tribas":
        return np.maximum(0.0, 1.0 - np.abs(n))
    if name == "elliotsig":
        return n / (1.0 + np.abs(n))
    if name == "elliot2sig":
        return np.sign(n) * (n * n) / (1.0 + n * n)
    if name == "netinv":
        return 1.0 / n
    if name == "compet":
        # 1 at each column's first maximum; a column holding NaN is NaN throughout.
        a = np.zeros_like(n)
        if n.shape[0]:
            a[
                np.argmax(np.where(np.isnan(n), -np.inf, n), axis=0),
                np.arange(n.shape[1]),
            ] = 1.0
        a[:, np.isnan(n).any(axis=0)] = np.nan
        return a
    raise ValueError(f"transfer function {name!r} is not in this reference")


def weight(name: str, w: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Weight functions: W is S × R, P is R × Q, the result S × Q."""
    if name == "dotprod":
        return w @ p
    if name in ("dist", "negdist", "mandist"):
        diff = w[:, :, None] - p[None, :, :]
        if name == "mandist":
            return np.abs(diff).sum(axis=1)
        d = np.sqrt((diff * diff).sum(axis=1))
        return -d if name == "negdist" else d
    raise ValueError(f"weight function {name!r} is not in this reference")


def net_input(name: str, parts: list[np.ndarray]) -> np.ndarray:
    if name == "netsum":
        return np.sum(parts, axis=0)
    if name == "netprod":
        return np.prod(parts, axis=0)
    raise ValueError(f"net input function {name!r} is not in this reference")


# --------------------------------------------------------------------------- sim


def sim(net: Any, *inputs: np.ndarray) -> list[np.ndarray]:
    """Outputs (each outputs × samples) of a static network for inputs features × samples."""
    n = net if isinstance(net, dict) else plain(net)
    n_in, n_layers = _int(n["numInputs"]), _int(n["numLayers"])
    if _int(n["numInputDelays"]) or _int(n["numLayerDelays"]):
        raise ValueError("the network has delays; sim here is static only")
    bias_c = _flags(n["biasConnect"], n_layers, 1)[:, 0]
    input_c = _flags(n["inputConnect"], n_layers, n_in)
    layer_c = _flags(n["layerConnect"], n_layers, n_layers)
    output_c = _flags(n["outputConnect"], 1, n_layers)[0]
    iw, lw = _cell(n["IW"], n_layers, n_in), _cell(n["LW"], n_layers, n_layers)
    b = _cell(n["b"], n_layers, 1)
    in_structs = _cell(n["inputs"], 1, n_in)[0]
    out_structs = _cell(n["outputs"], 1, n_layers)[0]
    layer_structs = [row[0] for row in _cell(n["layers"], n_layers, 1)]
    iw_s = _cell(n["inputWeights"], n_layers, n_in)
    lw_s = _cell(n["layerWeights"], n_layers, n_layers)

    processed = []
    for j, x in enumerate(inputs):
        x = np.asarray(x, dtype=np.float64)
        s = in_structs[j]
        fcns = _names(s["processFcns"])
        for name, settings in zip(
            fcns, _settings(s["processSettings"], len(fcns)), strict=True
        ):
            x = process_apply(name, settings, x)
        processed.append(x)

    a: dict[int, np.ndarray] = {}
    pending = list(range(n_layers))
    while pending:
        ready = [i for i in pending if all(k in a for k in np.flatnonzero(layer_c[i]))]
        if not ready:
            raise ValueError("the layers form a cycle")
        i = ready[0]
        pending.remove(i)
        parts = []
        for j in np.flatnonzero(input_c[i]):
            parts.append(weight(iw_s[i][j]["weightFcn"], iw[i][j], processed[j]))
        for k in np.flatnonzero(layer_c[i]):
            parts.append(weight(lw_s[i][k]["weightFcn"], lw[i][k], a[k]))
        q = processed[0].shape[1] if processed else 1
        if bias_c[i]:
            parts.append(np.repeat(np.asarray(b[i][0]).reshape(-1, 1), q, axis=1))
        layer = layer_structs[i]
        a[i] = transfer(layer["transferFcn"], net_input(layer["netInputFcn"], parts))

    outputs = []
    for i in np.flatnonzero(output_c):
        y = a[i]
        s = out_structs[i]
        fcns = _names(s["processFcns"])
        pairs = list(zip(fcns, _settings(s["processSettings"], len(fcns)), strict=True))
        for name, settings in reversed(pairs):
            y = process_reverse(name, settings, y)
        outputs.append(y)
    return outputs


def layer_outputs(net: Any, *inputs: np.ndarray) -> list[np.ndarray]:
    """Every layer's output a_i (what ``encode`` of an Autoencoder returns for layer 1).

    Computed by simulating copies of the network whose only output is layer i with no
    output processing.
    """
    n = net if isinstance(net, dict) else plain(net)
    n_layers = _int(n["numLayers"])
    result = []
    for i in range(n_layers):
        copy = dict(n)
        flags = np.zeros((1, n_layers))
        flags[0, i] = 1.0
        copy["outputConnect"] = flags
        outs = [None] * n_layers
        outs[i] = {"processFcns": [], "processSettings": []}
        copy["outputs"] = outs
        result.append(sim(copy, *inputs)[0])
    return result
