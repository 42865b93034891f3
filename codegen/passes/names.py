"""MATLAB layer names → Python identifiers, deterministically (torch.fx style).

Replace illegal characters with '_', prefix a leading digit, avoid keywords, builtins and
names the generated module itself uses, and de-duplicate with a numeric suffix. The
original name survives in a comment when it changed.
"""

from __future__ import annotations

import builtins
import keyword
import re

from codegen.ir import Graph

# Names the generated file defines or uses at module/class level.
RESERVED = {
    "self",
    "torch",
    "nn",
    "F",
    "Path",
    "forward",
    "training",
    "load_model",
    "from_matlab",
    "CLASSES",
    "RESPONSE_NAMES",
    "register_buffer",
    "state_dict",
    "parameters",
    "modules",
    "children",
    "eval",
    "train",
    "to",
    "cuda",
    "cpu",
    "type",
    "float",
    "double",
    "half",
    "apply",
    "zero_grad",
    "extra_repr",
    "add_module",
    "get_parameter",
    "buffers",
}


def legalize(name: str) -> str:
    """A valid, non-reserved, lower-risk Python identifier for a MATLAB name."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not ident:
        ident = "layer"
    if ident[0].isdigit():
        ident = f"layer_{ident}"
    if (
        keyword.iskeyword(ident)
        or keyword.issoftkeyword(ident)
        or hasattr(builtins, ident)
        or ident in RESERVED
        or ident.startswith("__")
    ):
        ident = f"{ident}_"
    return ident


def assign_names(
    graph: Graph, reserved: set[str] | frozenset[str] = frozenset()
) -> None:
    """Set ``ident`` on every node and input; an input and its normalization node share it.

    ``reserved``: module-level names the generated file defines (helper functions and
    classes, the model class): a forward variable with such a name would shadow them.
    """
    taken: set[str] = set(reserved) | {graph.class_name}
    input_names = {gi.name for gi in graph.inputs}

    def unique(base: str) -> str:
        ident, k = base, 1
        while ident in taken:
            ident = f"{base}_{k}"
            k += 1
        taken.add(ident)
        return ident

    for gi in graph.inputs:
        gi.ident = unique(legalize(gi.name))
    by_input = {gi.name: gi.ident for gi in graph.inputs}
    for node in graph.nodes:
        if node.op == "input" and node.name in input_names:
            node.ident = by_input[node.name]
        else:
            node.ident = unique(legalize(node.name))
        node.prefix = _buffer_prefix(node.ident, list(node.buffers), taken)
        taken.update(f"{node.prefix}_{key}" for key in node.buffers)


def _buffer_prefix(ident: str, keys: list[str], taken: set[str]) -> str:
    """``input_`` → buffers ``input_mean`` (not ``input__mean``) unless that is taken."""
    short = ident.rstrip("_") or ident
    if short != ident and not any(f"{short}_{key}" in taken for key in keys):
        return short
    return ident
