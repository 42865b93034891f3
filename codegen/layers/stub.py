"""Stand-ins for layers whose code is not in the file, on request (``--stub-unsupported``).

A user-defined MATLAB layer (or a custom MatConvNet type) saves only its property
values; a built-in layer mat2torch does not convert yet is MATLAB's code, documented
by MathWorks, and its stub says so instead of asking the user to port "their" class. By default such a network fails to convert with one clear sentence; with stubs,
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

from codegen.ir import Node, TensorInfo
from codegen.layers.record import (
    LayerRecord,
    function_text,
    learnable_value,
    to_text,
)

STUB_OP = "stub"
# Property names that are bookkeeping of the MATLAB layer base classes.
_HIDDEN = re.compile(
    r"^(Name|Version|Description|Type|NumInputs|NumOutputs|InputNames|OutputNames|Private.*"
    r"|LearnRateFactor|L2Factor|Learnables.*|State.*)$"
)


# Packages of the classes that ship with MathWorks toolboxes. A class in one of them is a
# built-in layer mat2torch does not convert (yet), not code the user wrote: its stub
# points to MATLAB's documentation instead of asking for a port of "your" class.
_TOOLBOXES = (
    ("nnet.", "Deep Learning Toolbox"),
    ("rl.", "Reinforcement Learning Toolbox"),
    ("vision.", "Computer Vision Toolbox"),
    ("images.", "Image Processing Toolbox"),
    ("textanalytics.", "Text Analytics Toolbox"),
    ("audio.", "Audio Toolbox"),
    ("signal.", "Signal Processing Toolbox"),
    ("comm.", "Communications Toolbox"),
)


def builtin_toolbox(classname: str) -> str | None:
    """The MathWorks toolbox a layer class ships with; None for user-defined classes."""
    for prefix, toolbox in _TOOLBOXES:
        if classname.startswith(prefix):
            return toolbox
    return None


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


def stub(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    """A shape-preserving stand-in (the assumption is stated in the generated comment).

    Output (loss) layers never get here: the importer recognises them as training-only
    and leaves them out with a note, with or without stubs.
    """
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
            # Built-in layers: the toolbox and the documentation page (the class name).
            "toolbox": builtin_toolbox(layer.classname) or "",
            "doc_page": layer.short_class,
            "description": (layer.text("Description") or "")[:200],
            "properties": properties,
            "num_inputs": len(inputs),
        },
        # Its output size is unknown: later layers take theirs from their stored fields.
        out=(
            TensorInfo(inputs[0].layout, (None,) * len(inputs[0].shape))
            if inputs
            else None
        ),
        comment=_comment(layer, bool(function)),
    )


def _comment(layer: LayerRecord, function: bool) -> str:
    toolbox = builtin_toolbox(layer.classname)
    sizes = "later layers take their sizes from their own stored fields"
    if toolbox and not function:
        return (
            f"built-in MATLAB layer {layer.classname!r} ({toolbox}), which mat2torch does "
            f"not convert yet: a stub to complete from MATLAB's documentation; {sizes}"
        )
    return (
        f"MATLAB layer {layer.classname!r} with no code in the .mat file: a stub to "
        f"complete; {sizes}"
    )
