"""Bytes → MATLAB values: open a .mat file (v7 or v7.3) and find the networks in it.

Knows nothing about PyTorch. Networks are found anywhere in the file — top-level
variables, struct fields, cells, other objects' properties (an RL agent's critic) — by
class name and schema, never by variable name.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from matio.utils.matclass import (
    EmptyMatStruct,
    MatlabObject,
    MatlabOpaque,
    MatlabOpaqueArray,
)

from codegen import progress
from codegen.errors import ConversionError
from codegen.readers import bounds
from codegen.readers.h5lazy import lazy_numeric, read_all_but_weights
from codegen.readers.inflate import fast_streams
from codegen.readers.level5_nocopy import matio_without_copies, scipy_loadmat
from codegen.readers.listing import NotRead, top_level
from codegen.readers.matio_fix import patched_load

NETWORK_CLASSES = {
    "SeriesNetwork": "SeriesNetwork",
    "DAGNetwork": "DAGNetwork",
    "nnet.cnn.LayerGraph": "LayerGraph",
    "dlnetwork": "dlnetwork",
}
# Packages of layer classes: built-in layers, user-defined nnet.layer.Layer subclasses,
# the Reinforcement Learning Toolbox's layers, and the layers MATLAB's Keras, TensorFlow
# and ONNX importers put in imported networks (importKerasNetwork, importONNXNetwork, ...).
LAYER_PREFIXES = (
    "nnet.cnn.layer.",
    "nnet.layer.",
    "rl.layer.",
    "nnet.keras.layer.",
    "nnet.tensorflow.layer.",
    "nnet.onnx.layer.",
)


@dataclass
class FoundNetwork:
    """A network located in a file: the path to reach it and the object itself."""

    path: str  # e.g. "net", "agent.Critic.Model.any.DLTModelExternal", "s.nets{2}"
    # SeriesNetwork, DAGNetwork, LayerGraph, dlnetwork, LayerArray, LayerStruct (a struct
    # with Layers and optional Connections), SimpleNN, DagNN
    kind: str
    value: Any
    # The other properties (or struct fields) of the object holding the network: a
    # detector keeps its ClassNames and AnchorBoxes beside its Network.
    siblings: Mapping[str, Any] | None = None


@dataclass
class MatFile:
    path: Path
    sha256: str
    variables: dict[str, Any]
    # (device, inode, size, modification time) when the file was opened; None: unknown
    identity: tuple[int, int, int, int] | None = None

    def check_unchanged(self) -> None:
        """Refuse a file replaced or modified since it was opened: large v7.3 weights are
        read only as they are written, after the file was hashed, so a file saved again
        meanwhile would give weights that do not match the recorded sha256."""
        if self.identity is None:
            return
        try:
            now = _identity(os.stat(self.path))
        except OSError:
            now = None
        if now != self.identity:
            raise ConversionError(
                f"{self.display_name} changed while it was being converted (it was "
                "replaced, or its size or modification time differs from when it was "
                "opened); convert it again once MATLAB has finished saving it."
            )

    @property
    def display_name(self) -> str:
        """The base name as valid text: bytes that are not UTF-8 become ``\\xNN``."""
        return os.fsencode(self.path.name).decode("utf-8", "backslashreplace")


def _check_bounds(path: Path, max_memory: int | None) -> None:
    """:func:`bounds.check_level5` on the file mapped into memory (its own handle: the
    hashing thread reads and closes the other); the mapping is released before mat-io
    reads the file, so the check adds nothing to the peak."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            bounds.check_level5(b"", path.name, max_memory)
            return
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        bounds.check_level5(mapped, path.name, max_memory)  # type: ignore[arg-type]
    finally:
        # BufferError: a traceback still holds a view of it; it is let go later
        with contextlib.suppress(BufferError):
            mapped.close()


def load(
    path: str | Path, max_memory: int | None = None, networks_only: bool = False
) -> MatFile:
    """Read every variable of a MAT-file; corrupt or non-MAT files give a ConversionError.

    ``max_memory``: bytes the file's arrays may declare (default 4 × file size + 1 GiB);
    checked with the nesting depth before mat-io sees the file (:mod:`.bounds`).
    ``networks_only``: top-level variables that hold data only (numbers, text,
    logicals: never a network) are listed from their headers as
    :class:`~codegen.readers.listing.NotRead` values instead of being read.
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
        handle = path.open("rb")
    except OSError as exc:
        raise ConversionError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__}); check the "
            "file's permissions."
        ) from None
    identity = _identity(os.fstat(handle.fileno()))
    hashing = _Sha256(handle)  # in a thread, while the file is parsed
    progress.stage(f"reading {path.name}")
    try:
        _check_bounds(path, max_memory)
    except BaseException:
        hashing.result()
        raise
    listing = top_level(path) if networks_only else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            variables = _read(path, listing)
    except Exception as exc:  # mat-io raises many types on corrupt input
        hashing.result()
        raise ConversionError(
            f"{path.name}: could not be read as a MATLAB .mat file ({type(exc).__name__}: {exc}); check that the file is complete and was saved by MATLAB's save()."
        ) from None
    try:
        digest = hashing.result()
    except OSError as exc:
        raise ConversionError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__}); check the "
            "file's permissions."
        ) from None
    variables = {k: v for k, v in variables.items() if not k.startswith("__")}
    return MatFile(path, digest, variables, identity)


def _read(
    path: Path, listing: list[tuple[str, NotRead | None]] | None
) -> dict[str, Any]:
    """The file's variables; given its ``listing``, those that hold data only are left
    unread and stand in as their NotRead listing."""
    wanted = None if listing is None else [n for n, r in listing if r is None]
    if wanted is not None and len(wanted) == len(listing or ()):
        wanted = None  # nothing to leave out: read as usual
    if wanted == []:
        variables: dict[str, Any] = {}
    else:
        plain = _plain_level5(path, wanted)
        if plain is None:
            with (
                patched_load(),
                matio_without_copies(),
                fast_streams("matio.v5._streams"),
                lazy_numeric(str(path)),
            ):
                variables = load_from_mat(str(path), wanted)
            read_all_but_weights(variables)
        else:
            variables = plain
    if wanted is not None:
        variables.update((n, r) for n, r in listing or () if r is not None)
    return variables


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def load_from_mat(path: str, names: list[str] | None = None) -> dict[str, Any]:
    """mat-io's reader, imported when first used: it imports pandas and scipy.sparse,
    which files read with scipy or h5py alone never need. ``names``: only these
    top-level variables (default all)."""
    from matio import load_from_mat as read

    if names is None:
        return dict(read(path))
    return dict(read(path, variable_names=list(names)))


class _Sha256:
    """The sha256 of an open file, computed in a background thread a block at a time
    (hashlib releases the GIL), so the file is never held in memory for its digest."""

    BLOCK = 256 << 10

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._digest = ""
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        hasher = hashlib.sha256()
        try:
            with self._handle:
                while block := self._handle.read(self.BLOCK):
                    hasher.update(block)
            self._digest = hasher.hexdigest()
        except OSError as exc:
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest


def _plain_level5(path: Path, names: list[str] | None = None) -> dict[str, Any] | None:
    """A Level-5 file without MATLAB objects (a MatConvNet struct), read with scipy.

    mat-io's Level-5 reader derives from scipy's; on a VGG-16-sized MatConvNet file
    scipy reads the same values about a quarter faster and at a slightly lower peak.
    For files with no subsystem (no classdef objects) scipy with ``mat_dtype=True``
    gives mat-io's values, except that a struct with no fields comes back as ``None``
    elements (made mat-io's EmptyMatStruct here). Without ``mat_dtype``, doubles MATLAB
    stored as small integers and logicals would come back with other dtypes; with it,
    scipy copies every array as it is read, which ``scipy_loadmat`` avoids.

    None (read with mat-io) for v7.3 and v4 files, files with a subsystem, and anything
    scipy returns that mat-io would represent differently (objects, function handles,
    sparse).
    """
    with path.open("rb") as handle:
        header = handle.read(128)
    if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
        return None
    order = "<" if header[126:128] == b"IM" else ">"
    if int.from_bytes(header[124:126], "little" if order == "<" else "big") != 0x0100:
        return None  # v7.3 (HDF5) says 0x0200
    if header[116:124] not in (b"\0" * 8, b" " * 8):
        return None  # a subsystem: classdef objects, mat-io's business
    import scipy.io
    import scipy.sparse

    try:
        raw = scipy_loadmat(str(path), names)
    except Exception:  # let mat-io read it, or say why it cannot (_NotPlain too)
        return None
    matlab = scipy.io.matlab
    not_plain = (matlab.MatlabObject, matlab.MatlabFunction, matlab.MatlabOpaque)

    def fix(value: Any) -> Any:
        if isinstance(value, not_plain) or scipy.sparse.issparse(value):
            raise _NotPlain
        if isinstance(value, np.ndarray) and value.dtype.names:
            for key in value.dtype.names:
                column = value[key]  # a view: assignments reach the struct
                for index in np.ndindex(value.shape):
                    column[index] = fix(column[index])
        elif isinstance(value, np.ndarray) and value.dtype == object:
            if value.size and all(value[i] is None for i in np.ndindex(value.shape)):
                return EmptyMatStruct(value)
            for index in np.ndindex(value.shape):
                value[index] = fix(value[index])
        return value

    try:
        return {k: fix(v) for k, v in raw.items() if not k.startswith("__")}
    except _NotPlain:
        return None


class _NotPlain(Exception):
    """A value scipy and mat-io represent differently: read the file with mat-io."""


def is_layer_object(value: Any) -> bool:
    return isinstance(value, MatlabOpaque) and str(value.classname).startswith(
        LAYER_PREFIXES
    )


def _is_layer_array(value: Any) -> bool:
    """An object array of layers, or a cell of layer objects (a layer array kept raw)."""
    if isinstance(value, MatlabOpaqueArray) and value.size > 0:
        return all(is_layer_object(v) for v in value.ravel(order="F"))
    if isinstance(value, np.ndarray) and value.dtype == object and value.size > 0:
        return all(is_layer_object(v) for v in value.ravel(order="F"))
    return False


def _is_layer_struct(value: Any) -> bool:
    """A 1×1 struct whose ``Layers`` field is a layer array, beside optional
    ``Connections``: a network's saveobj struct kept as a plain struct. Older detectors
    (fasterRCNNObjectDetector before its networks became objects) store their networks
    this way, so the layers and their wiring are found together, not as a bare chain."""
    if not (isinstance(value, np.ndarray) and value.dtype.names and value.size == 1):
        return False
    if "Layers" not in value.dtype.names:
        return False
    layers = value.flat[0]["Layers"]
    return _is_layer_array(layers) or is_layer_object(layers)


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

    def visit(
        value: Any, path: str, depth: int, siblings: Mapping[str, Any] | None = None
    ) -> None:
        if depth > 12 or id(value) in seen:
            return
        if isinstance(value, (MatlabOpaque, MatlabOpaqueArray)) or (
            isinstance(value, np.ndarray) and value.dtype == object
        ):
            seen.add(id(value))
        kind = _network_kind(value)
        if kind:
            found.append(FoundNetwork(path, kind, value, siblings))
            return
        if isinstance(value, MatlabOpaque):
            if isinstance(value.properties, dict):
                for key, prop in value.properties.items():
                    visit(prop, f"{path}.{key}", depth + 1, value.properties)
        elif isinstance(value, MatlabOpaqueArray):
            for i, item in enumerate(value.ravel(order="F")):
                visit(item, f"{path}({i + 1})", depth + 1)
        elif isinstance(value, np.ndarray) and value.dtype.names:
            for i, rec in enumerate(value.ravel(order="F")):
                index = "" if value.size == 1 else f"({i + 1})"
                fields = {key: rec[key] for key in value.dtype.names}
                for key in value.dtype.names:
                    visit(rec[key], f"{path}{index}.{key}", depth + 1, fields)
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


def shallow_kind(value: Any) -> str | None:
    """'network' for a saved shallow network object (feedforwardnet, fitnet, patternnet,
    ...: a struct tagged with the class), 'Autoencoder' for trainAutoencoder's object.
    """
    if isinstance(value, MatlabObject) and str(value.classname) == "network":
        return "network"
    if isinstance(value, MatlabOpaque) and str(value.classname) == "Autoencoder":
        return "Autoencoder"
    return None


def _network_kind(value: Any) -> str | None:
    shallow = shallow_kind(value)
    if shallow:
        return shallow
    if isinstance(value, MatlabOpaque):
        kind = NETWORK_CLASSES.get(str(value.classname))
        if kind:
            return kind
        if is_layer_object(value):
            return None
    if _is_layer_array(value):
        return "LayerArray"
    if _is_layer_struct(value):
        return "LayerStruct"
    from codegen.importers.matconvnet_detect import matconvnet_kind

    return matconvnet_kind(value)


# Classes people save as "the network" that hold no network this release converts, and why.
NOT_CONVERTIBLE = {
    # Reached only when the detector's Network property holds nothing readable: a
    # detector whose network was saved is found through that property.
    "yolov2ObjectDetector": "a YOLO v2 detector whose Network property holds no network "
    "object or layers mat-io could read",
}


def describe_variable(value: Any) -> str:
    """What a variable holds, in MATLAB's words: ``double 3×18``, ``cell 8×1``, a class."""
    if isinstance(value, NotRead):
        return value.description
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
        "file), shallow network objects (feedforwardnet, fitnet, patternnet, Autoencoder) "
        "and MatConvNet structs: save one of those, e.g. save('net.mat','net')."
    )
