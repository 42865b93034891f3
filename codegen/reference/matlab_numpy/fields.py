"""Reading a mat-io layer the way the reference needs it: layouts, fields, plain values.

Every family module reads its layers' fields through these helpers, so what counts as
"empty", "text" or "a learnable's value" is decided once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Array = np.ndarray
Props = dict[str, Any]
# How a family module applies one layer class: (layer fields, MATLAB-layout inputs) → output.
LayerRule = Callable[[Props, list[Array]], Array]


def channel_axis(x: Array) -> int:
    """Channel axis of a MATLAB-layout activation: (H,W,C,N) → 2; (C,N) and (C,N,T) → 0."""
    if x.ndim == 4:
        return 2
    if x.ndim in (2, 3):
        return 0
    raise ValueError(
        f"unsupported activation rank {x.ndim}: use (H,W,C,N), (C,N) or (C,N,T)"
    )


def learnable_value(v: Any) -> Any:
    """The array of a learnable-parameter struct ``{Value, LearnRateFactor, ...}``."""
    if isinstance(v, np.ndarray) and v.dtype.names and "Value" in v.dtype.names:
        return v.flat[0]["Value"]
    return v


def as_f64(v: Any) -> Array:
    """A field (or a learnable's value) as a float64 array."""
    return np.asarray(learnable_value(v), dtype=np.float64)


def is_empty(v: Any) -> bool:
    """MATLAB's isempty for a field: None, '', a 0-size array or an empty learnable."""
    if v is None:
        return True
    v = learnable_value(v)
    if isinstance(v, str):
        return v == ""
    return np.asarray(v).size == 0 if not hasattr(v, "properties") else False


def as_str(v: Any) -> str:
    """A char vector, string or 1×1 cell of either as str ('' when empty)."""
    v = learnable_value(v)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    arr = np.asarray(v)
    if arr.size == 0:
        return ""
    el = arr.flat[0]
    if isinstance(el, np.ndarray):
        return as_str(el)
    return str(el)


def as_num(v: Any) -> float:
    """The first element as a float."""
    return float(np.asarray(learnable_value(v), dtype=np.float64).flat[0])


def as_int(v: Any) -> int:
    """The first element, rounded to an int."""
    return round(as_num(v))


def as_bool(v: Any) -> bool:
    """The first element as a bool (a logical)."""
    return bool(np.asarray(learnable_value(v)).flat[0])


def is_text(v: Any) -> bool:
    """A char/string value (e.g. NumChannels 'auto') rather than a number."""
    v = learnable_value(v)
    return isinstance(v, str) or np.asarray(v).dtype.kind in "UST"


def optional_int(v: Any) -> int | None:
    """A size field that may be unset: None when empty or text ('auto'), else an int."""
    return None if is_empty(v) or is_text(v) else as_int(v)


def param(p: Props, *names: str) -> Array | None:
    """The first non-empty field among ``names`` as float64, else None."""
    for nm in names:
        if nm in p and not is_empty(p[nm]):
            return as_f64(p[nm])
    return None


def pair(v: Any, default: int = 1) -> tuple[int, int]:
    """A MATLAB [a b] (or scalar, or empty → default) as two ints."""
    if v is None:
        return (default, default)
    vals = [round(float(t)) for t in np.asarray(v, dtype=np.float64).ravel()]
    if len(vals) == 0:
        return (default, default)
    if len(vals) == 1:
        return (vals[0], vals[0])
    return (vals[0], vals[1])


def pad4(v: Any) -> list[int]:
    """A padding/cropping size as [top bottom left right] (from 1, 2 or 4 entries)."""
    vals = [round(float(t)) for t in np.asarray(v, dtype=np.float64).ravel()]
    if len(vals) == 1:
        return vals * 4
    if len(vals) == 2:  # [vertical horizontal]
        return [vals[0], vals[0], vals[1], vals[1]]
    if len(vals) != 4:
        raise ValueError(f"padding must have 1, 2 or 4 entries, got {vals}")
    return vals


def layer_props(layer: Any) -> Props:
    """All fields of a mat-io layer object as a dict (MATLAB_FORMAT.md §2).

    Built-in layers store their ``saveobj`` struct in the single property ``any``; the
    other keys next to it are class defaults. ``nnet.layer.Layer`` subclasses (ELULayer,
    FunctionLayer, user layers) keep plain properties. Some have both; the ``any``
    struct wins. A plain dict is returned unchanged (handy for hand-made layers in tests).
    """
    if isinstance(layer, Mapping):
        return dict(layer)
    props = dict(getattr(layer, "properties", {}) or {})
    out = {k: v for k, v in props.items() if k != "any"}
    anyv = props.get("any")
    if isinstance(anyv, np.ndarray) and anyv.dtype.names and anyv.size:
        rec = anyv.flat[0]
        for n in anyv.dtype.names:
            out[n] = rec[n]
    return out


def classname(layer: Any) -> str:
    """The layer's MATLAB class (a plain dict may carry one under 'classname')."""
    if isinstance(layer, Mapping):
        return str(layer.get("classname", ""))
    return str(getattr(layer, "classname", ""))


def layer_name(layer: Any) -> str:
    """The layer's ``Name``."""
    return as_str(layer_props(layer).get("Name"))


_OUTPUT_CLASSES = {
    "ClassificationOutputLayer",
    "RegressionOutputLayer",
    "PixelClassificationLayer",
    "DicePixelClassificationLayer",
    "FocalLossLayer",
    "YOLOv2OutputLayer",
}


def is_output_layer(layer: Any) -> bool:
    """Training-only output layers (SEM §Activations: 'Output layers ... drop them').

    Built-in output classes, plus user classes whose name ends in ClassificationLayer /
    RegressionLayer / OutputLayer (e.g. mimo's ``sigmoidClassificationLayer``).
    """
    short = classname(layer).split(".")[-1]
    if short in _OUTPUT_CLASSES:
        return True
    low = short.lower()
    return low.endswith(("classificationlayer", "regressionlayer", "outputlayer"))
