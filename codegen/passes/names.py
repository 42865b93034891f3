"""MATLAB layer names → Python identifiers, deterministically (torch.fx style).

Replace illegal characters with '_', prefix a leading digit, avoid keywords, builtins and
names the generated module itself uses, and de-duplicate with a numeric suffix. The
original name survives in a comment when it changed.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from codegen.ir import Graph

# Every attribute of an nn.Module (class and instance, torch 2.x): a layer attribute with
# such a name would overwrite a method or internal state. Stored, not computed, because
# converting never imports torch; tests check it still covers the installed torch.
NN_MODULE_NAMES = frozenset(
    {
        "T_destination",
        "__annotations__",
        "__call__",
        "__class__",
        "__delattr__",
        "__dict__",
        "__dir__",
        "__doc__",
        "__eq__",
        "__format__",
        "__ge__",
        "__getattr__",
        "__getattribute__",
        "__getstate__",
        "__gt__",
        "__hash__",
        "__init__",
        "__init_subclass__",
        "__le__",
        "__lt__",
        "__module__",
        "__ne__",
        "__new__",
        "__reduce__",
        "__reduce_ex__",
        "__repr__",
        "__setattr__",
        "__setstate__",
        "__sizeof__",
        "__str__",
        "__subclasshook__",
        "__weakref__",
        "_apply",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_buffers",
        "_call_impl",
        "_compiled_call_impl",
        "_forward_hooks",
        "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_get_backward_hooks",
        "_get_backward_pre_hooks",
        "_get_name",
        "_is_full_backward_hook",
        "_load_from_state_dict",
        "_load_state_dict_post_hooks",
        "_load_state_dict_pre_hooks",
        "_maybe_warn_non_full_backward_hook",
        "_modules",
        "_named_members",
        "_non_persistent_buffers_set",
        "_parameters",
        "_register_load_state_dict_pre_hook",
        "_register_state_dict_hook",
        "_replicate_for_data_parallel",
        "_save_to_state_dict",
        "_slow_forward",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_version",
        "_wrapped_call_impl",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    }
)

# Names model.py defines or imports at module level (a class or forward variable named
# like them would shadow them) and the forward arguments besides the inputs.
MODULE_NAMES = frozenset(
    {
        "torch",
        "nn",
        "F",
        "Path",
        "pathlib",
        "safetensors",
        "load_file",
        "safe_open",
        "load_model",
        "from_matlab",
        "pad_sequences",
        "CLASSES",
        "RESPONSE_NAMES",
        "UNTRAINED_KEYS",
        "WEIGHTS_SOURCE",
        "self",
        "lengths",
    }
)

RESERVED = NN_MODULE_NAMES | MODULE_NAMES

# Locals of load_model, which constructs the class: a class named like them is shadowed.
LOAD_MODEL_LOCALS = frozenset({"model", "weights", "path", "missing", "unexpected"})

# Longer names are cut (the full MATLAB name stays in the comment above the layer).
MAX_IDENT = 64


def _is_reserved(ident: str) -> bool:
    return (
        keyword.iskeyword(ident)
        or keyword.issoftkeyword(ident)
        or hasattr(builtins, ident)
        or ident in RESERVED
    )


def legalize(name: str) -> str:
    """A valid, non-reserved ASCII Python identifier for a MATLAB name.

    NFKC first (Python itself reads ``ｔｏｒｃｈ`` as ``torch``), accents dropped, every
    other run of characters outside [A-Za-z0-9_] becomes one ``_``; no leading underscore
    (``__x`` would be name-mangled inside the class, ``_modules`` is nn.Module's own), a
    leading digit gets ``layer_``, and a keyword, builtin, nn.Module attribute or name
    the generated file uses gets a trailing ``_``.
    """
    text = unicodedata.normalize("NFKC", name)
    text = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    ident = re.sub(r"[^A-Za-z0-9_]+", "_", text).lstrip("_")
    if len(ident) > MAX_IDENT:
        ident = ident[:MAX_IDENT].rstrip("_")
    if not ident:
        ident = "layer"
    if ident[0].isdigit():
        ident = f"layer_{ident}"
    if _is_reserved(ident):
        ident = f"{ident}_"
    return ident


def check_class_name(name: str) -> str | None:
    """Why ``name`` cannot be the generated class's name, or None when it can."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        return "it must be an ASCII Python identifier that starts with a letter"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "it is a Python keyword"
    if hasattr(builtins, name):
        return "it is a Python builtin"
    if name in RESERVED or name in LOAD_MODEL_LOCALS:
        return "model.py uses that name itself"
    return None


def safe_class_name(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A default class name made usable: ``Path`` (from path.mat) → ``PathModel``."""
    ident = re.sub(r"[^A-Za-z0-9_]+", "", name) or "Model"
    if not ident[0].isalpha():
        ident = "Net" + ident
    while check_class_name(ident) is not None or ident in taken:
        ident += "Model"
    return ident


def assign_names(
    graph: Graph, reserved: set[str] | frozenset[str] = frozenset()
) -> None:
    """Set ``ident`` on every node and input; an input and its normalization node share it.

    ``reserved``: module-level names the generated file defines (helper functions and
    classes, the model class): a forward variable with such a name would shadow them.
    A node's identifier and the names derived from it (its buffers ``<prefix>_<key>``)
    are chosen together, so that no name is used twice, whichever comes first.
    """
    taken: set[str] = set(reserved) | {graph.class_name}
    input_names = {gi.name for gi in graph.inputs}
    keys_of = {n.name: list(n.buffers) for n in graph.nodes}

    def free(ident: str, keys: list[str]) -> bool:
        derived = [f"{ident}_{key}" for key in keys]
        return ident not in taken and not any(
            d in taken or _is_reserved(d) for d in derived
        )

    def unique(base: str, keys: list[str]) -> str:
        ident, k = base, 1
        while not free(ident, keys):
            ident = f"{base}_{k}"
            k += 1
        taken.add(ident)
        return ident

    for gi in graph.inputs:
        gi.ident = unique(legalize(gi.name), keys_of.get(gi.name, []))
    by_input = {gi.name: gi.ident for gi in graph.inputs}
    for node in graph.nodes:
        if node.op == "input" and node.name in input_names:
            node.ident = by_input[node.name]
        else:
            node.ident = unique(legalize(node.name), list(node.buffers))
        node.prefix = _buffer_prefix(node.ident, list(node.buffers), taken)
        taken.update(f"{node.prefix}_{key}" for key in node.buffers)


def _buffer_prefix(ident: str, keys: list[str], taken: set[str]) -> str:
    """``input_`` → buffers ``input_mean`` (not ``input__mean``) unless that is taken."""
    short = ident.rstrip("_") or ident
    if short != ident and not any(
        f"{short}_{key}" in taken or _is_reserved(f"{short}_{key}") for key in keys
    ):
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
    return safe_class_name(name)  # path.mat + path → PathModel, not pathlib's Path


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
