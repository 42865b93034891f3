"""FunctionLayer: a MATLAB anonymous function, translated when it is elementwise.

The function is stored as text. It is **parsed, never evaluated**: the MATLAB expression
parser (:mod:`codegen.matlab_expression`) builds a small syntax tree, and only a tree
made of numbers, the function's single parameter, elementwise operators and a fixed
list of elementwise functions is accepted. The tree goes into the IR as
data (plain dicts); the template writes the torch expression from it, so the generated
line is assembled from known tokens and ``repr``'d numbers, never from the file's text.
Anything else (other identifiers, strings, indexing, matrix products, reductions,
several inputs) is refused, and the layer stays what it was before: an error naming it,
or with ``--stub-unsupported`` a stub showing the text.

``*``, ``/`` and ``^`` are matrix operations in MATLAB: they are accepted only where one
side is a constant, where they are elementwise too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from codegen.ir import Node, TensorInfo
from codegen.layers.common import layer_node
from codegen.layers.record import LayerRecord, to_text
from codegen.layers.registry import register
from codegen.matlab_expression import Untranslatable, parse

OP = "function_expr"

# MATLAB elementwise function → torch function (both real-valued on real input; MATLAB
# returns complex values where torch returns NaN: log and sqrt of negatives).
FUNCTIONS = {
    "exp": "torch.exp",
    "log": "torch.log",
    "sqrt": "torch.sqrt",
    "abs": "torch.abs",
    "sin": "torch.sin",
    "cos": "torch.cos",
    "tan": "torch.tan",
    "tanh": "torch.tanh",
    "sinh": "torch.sinh",
    "cosh": "torch.cosh",
    "atan": "torch.atan",
    "erf": "torch.erf",
    "floor": "torch.floor",
    "ceil": "torch.ceil",
    "fix": "torch.trunc",
    "sign": "torch.sign",
}
# The same functions for constant folding (a subexpression without the parameter).
_CONSTANT_FUNCTIONS: dict[str, Callable[[float], Any]] = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "atan": np.arctan,
    "erf": np.vectorize(math.erf),
    "floor": np.floor,
    "ceil": np.ceil,
    "fix": np.trunc,
    "sign": np.sign,
}
CALLABLE = frozenset(FUNCTIONS) | {"max", "min"}
_COMPARISONS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "~=": "!="}


# --- checking and preparing the tree for the template --------------------------------

# Python precedence of what the template writes for each node.
_PY = {"bin+": 1, "bin*": 2, "neg": 3, "bin**": 4, "atom": 5}


def _uses_param(node: dict[str, Any]) -> bool:
    if node["kind"] == "param":
        return True
    return any(
        _uses_param(child)
        for key in ("arg", "left", "right")
        if isinstance(child := node.get(key), dict)
    ) or any(_uses_param(a) for a in node.get("args", []))


def _constant(node: dict[str, Any]) -> float:
    """A subexpression without the parameter, computed in float64 with MATLAB's rules for
    the accepted operators and functions (real results only)."""
    kind = node["kind"]
    with np.errstate(all="ignore"):
        if kind == "num":
            value = float(node["value"])
        elif kind == "neg":
            value = -_constant(node["arg"])
        elif kind == "call":
            args = [_constant(a) for a in node["args"]]
            if node["func"] in ("max", "min"):
                if len(args) != 2:
                    raise Untranslatable(f"{node['func']} with {len(args)} arguments")
                # MATLAB's max/min ignore NaN, like fmax/fmin.
                pick = np.fmax if node["func"] == "max" else np.fmin
                value = float(pick(args[0], args[1]))
            else:
                if len(args) != 1:
                    raise Untranslatable(f"{node['func']} with {len(args)} arguments")
                value = float(_CONSTANT_FUNCTIONS[node["func"]](args[0]))
        elif kind == "cmp":
            a, b = _constant(node["left"]), _constant(node["right"])
            value = float(
                {
                    "<": a < b,
                    "<=": a <= b,
                    ">": a > b,
                    ">=": a >= b,
                    "==": a == b,
                    "~=": a != b,
                }[node["op"]]
            )
        else:
            a, b = _constant(node["left"]), _constant(node["right"])
            op = node["op"].lstrip(".")
            value = float(
                {
                    "+": a + b,
                    "-": a - b,
                    "*": a * b,
                    "/": np.divide(a, b),
                    "^": np.power(a, b),
                }[op]
            )
    if not math.isfinite(value):
        raise Untranslatable("a constant part is not a finite real number")
    return value


def prepare(node: dict[str, Any]) -> dict[str, Any]:
    """Check elementwise-ness, fold constants and annotate each node with what the
    template writes: ``py`` (Python operator or torch function, from fixed tables) and
    ``paren`` (whether it needs parentheses where it stands)."""
    if not _uses_param(node):
        value = _constant(node)
        # Whole numbers are written as integers (x ** 2, not x ** 2.0): same results.
        number: float | int = (
            int(value) if value.is_integer() and abs(value) < 2**53 else value
        )
        # A negative literal is written with a minus sign: it binds like a unary minus.
        return {
            "kind": "num",
            "value": number,
            "prec": _PY["neg" if value < 0 else "atom"],
        }
    kind = node["kind"]
    if kind == "param":
        return {"kind": "param", "prec": _PY["atom"]}
    if kind == "neg":
        arg = prepare(node["arg"])
        arg["paren"] = arg["prec"] < _PY["neg"]
        return {"kind": "neg", "arg": arg, "prec": _PY["neg"]}
    if kind == "call":
        return _prepare_call(node)
    left, right = prepare(node["left"]), prepare(node["right"])
    if kind == "cmp":
        # Written as (left < right).to(dtype): Python compares after all arithmetic,
        # and a comparison operand is itself such an atom, so no operand needs parentheses.
        return {
            "kind": "cmp",
            "py": _COMPARISONS[node["op"]],
            "left": left,
            "right": right,
            "prec": _PY["atom"],  # written as (a < b).to(dtype): an atom
        }
    op = node["op"]
    both = _uses_param(node["left"]) and _uses_param(node["right"])
    if op in ("*", "/", "^") and both:
        raise Untranslatable(
            f"{op!r} between two arrays is a matrix operation in MATLAB (use .{op})"
        )
    if op == "^" and _uses_param(node["right"]):
        raise Untranslatable("a scalar raised to an array with '^' is a matrix power")
    if op == "^" and _uses_param(node["left"]):
        raise Untranslatable("an array raised with '^' is a matrix power (use .^)")
    py = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**"}[op.lstrip(".")]
    prec = {"+": _PY["bin+"], "-": _PY["bin+"], "*": _PY["bin*"], "/": _PY["bin*"]}.get(
        py, _PY["bin**"]
    )
    if py == "**":
        # Python's ** is right-associative and binds tighter than a unary minus on its left.
        left["paren"] = left["prec"] <= prec
        right["paren"] = right["prec"] < _PY["neg"]
    else:
        left["paren"] = left["prec"] < prec
        right["paren"] = right["prec"] <= prec
    return {"kind": "bin", "py": py, "left": left, "right": right, "prec": prec}


def _prepare_call(node: dict[str, Any]) -> dict[str, Any]:
    func, args = node["func"], node["args"]
    if func in ("max", "min"):
        if len(args) != 2:
            raise Untranslatable(
                f"{func} with {len(args)} argument(s) is a reduction, not elementwise"
            )
        tensors = [a for a in args if _uses_param(a)]
        if len(tensors) == 2:
            return {
                "kind": "call",
                "py": "torch.maximum" if func == "max" else "torch.minimum",
                "args": [prepare(a) for a in args],
                "prec": _PY["atom"],
            }
        bound = next(a for a in args if not _uses_param(a))
        value = _constant(bound)
        return {
            "kind": "clamp",
            "bound": "min" if func == "max" else "max",
            "arg": prepare(tensors[0]),
            "value": int(value) if value.is_integer() and abs(value) < 2**53 else value,
            "prec": _PY["atom"],
        }
    if len(args) != 1:
        raise Untranslatable(f"{func} with {len(args)} arguments")
    return {
        "kind": "call",
        "py": FUNCTIONS[func],
        "args": [prepare(args[0])],
        "prec": _PY["atom"],
    }


def translate(text: str) -> dict[str, Any]:
    """The prepared tree of an elementwise anonymous function; Untranslatable otherwise."""
    tree = parse(text, CALLABLE)
    if not _uses_param(tree):
        raise Untranslatable("the function does not use its input")
    return prepare(tree)


# --- the layer -----------------------------------------------------------------------


def predict_text(layer: LayerRecord) -> str:
    """The function as MATLAB saved its handle (PredictFcn), else the Description that
    MATLAB fills with it by default."""
    fcn = layer.raw("PredictFcn", None)
    if isinstance(fcn, np.ndarray) and fcn.dtype == object:
        for inner in fcn.ravel():
            if (
                isinstance(inner, np.ndarray)
                and inner.dtype.names
                and "function_handle" in inner.dtype.names
            ):
                handle = inner.flat[0]["function_handle"]
                if isinstance(handle, np.ndarray) and handle.dtype.names:
                    text = to_text(handle.flat[0]["function"], "") or ""
                    if "@" in text:
                        return text[text.index("@") :]
    return layer.text("Description", "") or ""


def accepts(layer: LayerRecord) -> bool:
    """Whether this FunctionLayer translates (else it is unsupported, as before)."""
    inputs = layer.raw("PrivateInputs", None)
    if isinstance(inputs, np.ndarray) and inputs.size > 1:
        return False
    try:
        translate(predict_text(layer))
    except Untranslatable:
        return False
    return True


@register(
    "nnet.cnn.layer.FunctionLayer",
    ops=(OP,),
    accepts=accepts,
    versions=(1,),
    properties=("PredictFcn", "Formattable", "Acceleratable"),
)
def function_layer(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    text = predict_text(layer)
    # The text is kept for inspect (shown repr'd); the template writes only the tree.
    node = layer_node(layer, OP, inputs[0], {"function": text, "expr": translate(text)})
    node.forward_comment = f"MATLAB FunctionLayer {text}, elementwise"
    return node
