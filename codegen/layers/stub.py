"""Stand-ins for layers whose code is not in the file, on request (``--stub-unsupported``).

A user-defined MATLAB layer (or a custom MatConvNet type) saves only its property
values. By default such a network fails to convert with one clear sentence; with stubs,
the layer becomes a small class in model.py whose ``forward`` raises
``NotImplementedError`` until the user ports the MATLAB ``predict`` method — explicit,
never a silent placeholder. Nothing from the file is evaluated; property values reach
the generated file only as repr'd comment text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from codegen.ir import Dropped, Node, TensorInfo
from codegen.layers.record import (
    LayerRecord,
    function_text,
    learnable_value,
    text_list,
    to_text,
)

STUB_OP = "stub"
# Property names that are bookkeeping of the MATLAB layer base classes.
_HIDDEN = re.compile(
    r"^(Name|Version|Description|Type|NumInputs|NumOutputs|InputNames|OutputNames|Private.*"
    r"|LearnRateFactor|L2Factor|Learnables.*|State.*)$"
)


def stub_class_name(classname: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", classname.rsplit(".", 1)[-1])
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Custom"
    return ("Layer" + name if name[0].isdigit() else name) + "Stub"


def _summary(value: Any) -> str | None:
    """Short, inert text for a property value: scalars and text in full, arrays by shape."""
    text = to_text(value)
    if text is not None and not (
        isinstance(value, np.ndarray) and value.dtype.kind in "biuf"
    ):
        return repr(text if len(text) <= 60 else text[:57] + "...")
    array = learnable_value(value)
    if array is None:
        return None
    if array.size == 1:
        return repr(array.ravel()[0].item())
    return f"{'×'.join(str(d) for d in array.shape)} {array.dtype.name} array"


def stub(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node | Dropped:
    """A shape-preserving stand-in (the assumption is stated in the generated comment).

    A user-defined *output* layer (a subclass of nnet.layer.RegressionLayer or
    ClassificationLayer, recognised by the ResponseNames / Classes property those
    superclasses save) is training-only like the built-in ones: it is dropped instead.
    """
    if "ResponseNames" in layer.fields or "Classes" in layer.fields:
        classes = text_list(layer.fields.get("Classes"))
        responses = text_list(layer.fields.get("ResponseNames"))
        return Dropped(
            classes=tuple(classes) or None, response_names=tuple(responses) or None
        )
    properties = []
    function = function_text(layer) if layer.short_class == "FunctionLayer" else ""
    if function:
        properties.append(f"function={function!r}")
    for key in sorted(layer.fields):
        if _HIDDEN.match(key):
            continue
        summary = _summary(layer.fields[key])
        if summary is not None:
            properties.append(f"{key}={summary}")
    return Node(
        name=layer.name,
        op=STUB_OP,
        matlab_class=layer.classname,
        attrs={
            # Each FunctionLayer holds its own function: one stub class per layer.
            "stub_class": stub_class_name(
                f"{layer.name}Function" if function else layer.classname
            ),
            "function": function,
            "properties": properties,
            "num_inputs": len(inputs),
        },
        # Its output size is unknown: later layers take theirs from their stored fields.
        out=(
            TensorInfo(inputs[0].layout, (None,) * len(inputs[0].shape))
            if inputs
            else None
        ),
        comment=f"MATLAB layer {layer.classname!r} with no code in the .mat file: a stub to "
        "complete; later layers take their sizes from their own stored fields",
    )
