"""Bytes → MATLAB values: open a .mat file (v7 or v7.3) and find the networks in it.

Knows nothing about PyTorch. Networks are found anywhere in the file — top-level
variables, struct fields, cells, other objects' properties (an RL agent's critic) — by
class name and schema, never by variable name.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matio import load_from_mat
from matio.utils.matclass import MatlabObject, MatlabOpaque, MatlabOpaqueArray

from codegen.errors import ConversionError
from codegen.readers import bounds
from codegen.readers.matio_fix import patched_load

NETWORK_CLASSES = {
    "SeriesNetwork": "SeriesNetwork",
    "DAGNetwork": "DAGNetwork",
    "nnet.cnn.LayerGraph": "LayerGraph",
    "dlnetwork": "dlnetwork",
}
LAYER_PREFIXES = ("nnet.cnn.layer.", "nnet.layer.", "rl.layer.")


@dataclass
class FoundNetwork:
    """A network located in a file: the path to reach it and the object itself."""

    path: str  # e.g. "net", "agent.Critic.Model.any.DLTModelExternal", "s.nets{2}"
    kind: str  # SeriesNetwork, DAGNetwork, LayerGraph, dlnetwork, LayerArray, SimpleNN, DagNN
    value: Any


@dataclass
class MatFile:
    path: Path
    sha256: str
    variables: dict[str, Any]

    @property
    def display_name(self) -> str:
        """The base name as valid text: bytes that are not UTF-8 become ``\\xNN``."""
        return os.fsencode(self.path.name).decode("utf-8", "backslashreplace")


def load(path: str | Path, max_memory: int | None = None) -> MatFile:
    """Read every variable of a MAT-file; corrupt or non-MAT files give a ConversionError.

    ``max_memory``: bytes the file's arrays may declare (default 4 × file size + 1 GiB);
    checked with the nesting depth before mat-io sees the file (:mod:`.bounds`).
    """
    path = Path(path)
    if path.is_dir():
        raise ConversionError(
            f"{path}: is a directory; give the path of a .mat file saved by MATLAB."
        )
    if not path.exists():
        raise ConversionError(
            f"{path}: no such file; give the path of a .mat file saved by MATLAB."
        )
    if not path.is_file():
        raise ConversionError(
            f"{path}: is not a regular file (a pipe or device?); save the network to a "
            ".mat file and give its path."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConversionError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__}); check the "
            "file's permissions."
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    bounds.check_level5(data, path.name, max_memory)
    try:
        with patched_load(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            variables = load_from_mat(str(path))
    except Exception as exc:  # mat-io raises many types on corrupt input
        raise ConversionError(
            f"{path.name}: could not be read as a MATLAB .mat file ({type(exc).__name__}: {exc}); check that the file is complete and was saved by MATLAB's save()."
        ) from None
    variables = {k: v for k, v in variables.items() if not k.startswith("__")}
    return MatFile(path, digest, variables)


def is_layer_object(value: Any) -> bool:
    return isinstance(value, MatlabOpaque) and str(value.classname).startswith(
        LAYER_PREFIXES
    )


def _is_layer_array(value: Any) -> bool:
    if isinstance(value, MatlabOpaqueArray) and value.size > 0:
        return all(is_layer_object(v) for v in value.ravel(order="F"))
    return False


def find_networks(variables: dict[str, Any]) -> list[FoundNetwork]:
    """Every network object reachable from the variables, in file order, deduplicated.

    The path is how MATLAB code would reach the network: ``s.field``, ``obj.Property``,
    ``c{2}`` (cells), ``a(3)`` (struct and object arrays), ``m('key')`` (containers.Map);
    a built-in object's saved data sits in its ``any`` struct, so an RL agent's critic is
    ``agent.Critic.Model.any.DLTModelExternal``. A network's own parts (a dlnetwork's
    LayerGraph) are not listed separately. Objects seen twice (shared handles, cyclic
    references in option objects) are visited once.
    """
    found: list[FoundNetwork] = []
    seen: set[int] = set()

    def visit(value: Any, path: str, depth: int) -> None:
        if depth > 12 or id(value) in seen:
            return
        if isinstance(value, (MatlabOpaque, MatlabOpaqueArray)) or (
            isinstance(value, np.ndarray) and value.dtype == object
        ):
            seen.add(id(value))
        kind = _network_kind(value)
        if kind:
            found.append(FoundNetwork(path, kind, value))
            return
        if isinstance(value, MatlabOpaque):
            if isinstance(value.properties, dict):
                for key, prop in value.properties.items():
                    visit(prop, f"{path}.{key}", depth + 1)
        elif isinstance(value, MatlabOpaqueArray):
            for i, item in enumerate(value.ravel(order="F")):
                visit(item, f"{path}({i + 1})", depth + 1)
        elif isinstance(value, np.ndarray) and value.dtype.names:
            for i, rec in enumerate(value.ravel(order="F")):
                index = "" if value.size == 1 else f"({i + 1})"
                for key in value.dtype.names:
                    visit(rec[key], f"{path}{index}.{key}", depth + 1)
        elif isinstance(value, np.ndarray) and value.dtype == object:
            for i, item in enumerate(value.ravel(order="F")):
                visit(item, f"{path}{{{i + 1}}}", depth + 1)
        elif isinstance(value, Mapping):  # containers.Map
            seen.add(id(value))
            for key, item in value.items():
                visit(item, f"{path}({key!r})", depth + 1)

    for name, value in variables.items():
        visit(value, name, 0)
    from codegen.importers.matconvnet_detect import TOP_LEVEL, top_level_network

    top = top_level_network(variables)  # a MatConvNet net saved with -struct
    if top is not None:
        found.append(FoundNetwork(TOP_LEVEL, top[0], top[1]))
    return found


def _network_kind(value: Any) -> str | None:
    if isinstance(value, MatlabOpaque):
        kind = NETWORK_CLASSES.get(str(value.classname))
        if kind:
            return kind
        if is_layer_object(value):
            return None
    if _is_layer_array(value):
        return "LayerArray"
    from codegen.importers.matconvnet_detect import matconvnet_kind

    return matconvnet_kind(value)


# Classes people save as "the network" that hold no network this release converts, and why.
NOT_CONVERTIBLE = {
    "network": "a shallow network object (feedforwardnet, fitnet, patternnet, ...), "
    "which this release does not convert",
    "Autoencoder": "an Autoencoder (trainAutoencoder), which wraps a shallow network "
    "object that this release does not convert",
    "yolov2ObjectDetector": "a YOLO v2 detector, which this release does not convert",
}


def describe_variable(value: Any) -> str:
    """What a variable holds, in MATLAB's words: ``double 3×18``, ``cell 8×1``, a class."""
    if isinstance(value, MatlabOpaque | MatlabObject):
        cls = str(getattr(value, "classname", "object"))
        if isinstance(value, MatlabOpaque) and value.properties is None:
            return f"{cls} object whose data is not in the file"
        why = NOT_CONVERTIBLE.get(cls)
        return f"{cls}: {why}" if why else cls
    if isinstance(value, MatlabOpaqueArray):
        return f"{value.classname} array"
    if isinstance(value, np.ndarray):
        size = "×".join(str(n) for n in value.shape) or "1×1"
        if value.dtype.names:
            return f"struct {size}"
        if value.dtype == object:
            return f"cell {size}"
        if value.dtype.kind == "U":
            return "char"
        kind = {"float64": "double", "float32": "single", "bool": "logical"}
        return f"{kind.get(value.dtype.name, value.dtype.name)} {size}"
    return type(value).__name__


def nothing_found(file: MatFile) -> str:
    """The sentence for a file with no convertible network: what it holds instead."""
    items = sorted(file.variables.items())
    held = "; ".join(
        f"'{name}' ({describe_variable(value)})" for name, value in items[:12]
    )
    if len(items) > 12:
        held += f"; and {len(items) - 12} more variables"
    return (
        f"{file.display_name}: no MATLAB network found; the file holds "
        f"{held or 'no variables'}. mat2torch converts Deep Learning Toolbox networks "
        "(SeriesNetwork, DAGNetwork, dlnetwork, LayerGraph, layer arrays, anywhere in the "
        "file) and MatConvNet structs: save one of those, e.g. save('net.mat','net')."
    )
