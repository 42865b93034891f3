"""MATLAB layer names → Python identifiers, deterministically (torch.fx style).

Replace illegal characters with '_', prefix a leading digit, avoid keywords, builtins and
names the generated module itself uses, and de-duplicate with a numeric suffix. The
original name survives in a comment when it changed.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Sequence
from pathlib import Path

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


# Components of a variable path that are MATLAB's storage, not the user's naming: the
# saveobj struct of built-in objects and the RL toolbox's model wrappers.
_STORAGE_NAMES = {"any", "dltmodelexternal", "dltmodelinternal", "model", "network"}


def _path_words(variable: str) -> list[str]:
    """The words of the meaningful part of a variable path.

    ``agent.Critic.Model.any.DLTModelExternal`` → ["Critic"]; ``s.nets{2}`` → ["nets",
    "2"]; ``lgraph_1`` → ["lgraph", "1"]. The last component that is not MATLAB storage
    names the network, with the indices that follow it.
    """
    if variable.startswith("("):  # "(top level)": a struct saved with -struct
        return []
    parts = re.findall(r"[^.{}()]+", variable)
    keep = [p for p in parts if p.strip("'\"").lower() not in _STORAGE_NAMES]
    if not keep:
        keep = parts[:1]
    last = len(keep) - 1
    while last > 0 and re.fullmatch(r"\d+", keep[last]):
        last -= 1
    chosen = keep[last:]
    return [w for part in chosen for w in re.findall(r"[A-Za-z0-9]+", part)]


def default_class_name(file_name: str, variable: str) -> str:
    """PascalCase from the file stem and the meaningful part of the variable path.

    ccn_net.mat + net → CcnNet; arfrns_TrainedNet.mat + Net → ArfrnsTrainedNet (never a
    doubled suffix); korniarp_lgraph.mat + lgraph_1 → KorniarpLgraph1 (the overlap is
    said once); an RL agent's critic → <Stem>Critic, not ...DLTModelExternal.
    """
    stem_words = re.findall(r"[A-Za-z0-9]+", Path(file_name).stem)
    var_words = _path_words(variable)
    stem_text = "".join(stem_words).lower()
    joined_var = "".join(var_words).lower()
    if joined_var and stem_text.endswith(joined_var):
        var_words = []
    else:
        lowered = [w.lower() for w in stem_words]
        for k in range(min(len(lowered), len(var_words)), 0, -1):
            if lowered[-k:] == [w.lower() for w in var_words[:k]]:
                var_words = var_words[k:]
                break
    words = stem_words + var_words
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    if name[0].isdigit():
        name = "Net" + name
    return name


def default_class_names(file_name: str, variables: Sequence[str]) -> list[str]:
    """:func:`default_class_name` for several networks of one file, made distinct.

    Two paths that reduce to the same words (``a.Critic...`` and ``b.Critic...``) get
    the first differing component of their paths added, then a counter.
    """
    names = [default_class_name(file_name, v) for v in variables]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    result: list[str] = []
    used: set[str] = set()
    for name, variable in zip(names, variables, strict=True):
        candidate = name
        if counts[name] > 1:
            head = re.findall(r"[A-Za-z0-9]+", variable.split(".")[0])
            candidate = name + "".join(w[:1].upper() + w[1:] for w in head)
        base, k = candidate, 2
        while candidate in used:
            candidate, k = f"{base}{k}", k + 1
        used.add(candidate)
        result.append(candidate)
    return result


def path_words(variable: str) -> list[str]:
    """The words of the meaningful part of a variable path (see :func:`default_class_name`)."""
    return _path_words(variable)
