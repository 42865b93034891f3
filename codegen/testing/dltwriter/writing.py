"""Write builder results to a .mat file the way MATLAB's ``save`` does.

mat-io writes most of it; :func:`_patched_save` fixes, only while a file is written, what
mat-io 1.0.2 gets wrong for Deep Learning Toolbox objects (MATLAB_FORMAT.md §2).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import numpy as np
from matio import save_to_mat
from matio.subsystem.subsys import MatSubsystem
from matio.utils.matclass import MatlabOpaque, MatlabOpaqueArray
from matio.utils.matutils import to_writeable

from codegen.testing.dltwriter.schema import DltObject
from codegen.testing.dltwriter.values import double, logical, struct

# Defaults of classes that mat-io or the containers create, as MATLAB saves them.
_OTHER_CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "nnet.cnn.layer.Layer": {"Version": double(1)},
    "table": {"data": np.empty((1, 0), dtype=object)},
    "categorical": {
        "categoryNames": np.empty((0, 0), dtype=object),
        "codes": np.empty((0, 0), dtype=np.uint8),
        "isProtected": logical(False),
        "isOrdinal": logical(False),
    },
}


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, MatlabOpaque):
        if isinstance(value.properties, dict):
            yield from value.properties.values()
    elif isinstance(value, np.ndarray) and value.dtype.names:
        for element in value.flat:
            yield from (element[name] for name in value.dtype.names)
    elif isinstance(value, np.ndarray) and value.dtype.kind == "O":
        yield from value.flat


def _objects(values: Iterable[Any]) -> Iterator[MatlabOpaque]:
    """Every MATLAB object reachable from ``values``, once each (objects may share children)."""
    stack, seen = list(values), set()
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, MatlabOpaque):
            yield value
        stack.extend(_children(value))


def _class_plan(
    variables: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per-class defaults and the saveobj classes (those whose objects hold only ``any``)."""
    defaults: dict[str, dict[str, Any]] = {}
    saveobj: set[str] = set()
    for obj in _objects(variables.values()):
        if not isinstance(obj, DltObject):
            continue
        known = defaults.setdefault(obj.classname, obj.class_defaults)
        if list(known) != list(obj.class_defaults):
            raise ValueError(
                f"two {obj.classname} objects need different class defaults (e.g. dlnetwork v4 and v6); "
                "MATLAB saves one set per class and file, so write them to separate files"
            )
        if set(obj.properties) == {"any"}:
            saveobj.add(obj.classname)
    return {
        **_OTHER_CLASS_DEFAULTS,
        **{k: v for k, v in defaults.items() if v},
    }, sorted(saveobj)


_SAVE_LOCK = threading.RLock()


@contextlib.contextmanager
def _patched_save(class_defaults: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Fix mat-io 1.0.2's writer for Deep Learning Toolbox objects, only while active.

    1. An object array nested in a struct (every network's ``Layers``) is first walked as
       a cell and fails (``'numpy.ndarray' object has no attribute 'properties'``):
       objects are serialized before the cell/struct branch (MATLAB_FORMAT.md §2).
    2. An object array is written with its last element's class and every element gets the
       array's saveobj flag: the array keeps its own class (``nnet.cnn.layer.Layer``) and
       each element is flagged by its own class.
    3. The class-defaults table is written empty: it is filled from ``class_defaults``.
    """
    subsystem = MatSubsystem
    originals = (
        subsystem.serialize_nested_props,
        subsystem.set_mcos_object_metadata,
        subsystem.set_fwrap_data,
    )

    def serialize_nested_props(self: MatSubsystem, value: Any) -> Any:
        if isinstance(value, (MatlabOpaque, MatlabOpaqueArray)):
            return self.set_object_metadata(value)
        return originals[0](self, value)

    def set_mcos_object_metadata(self: MatSubsystem, obj: Any) -> Any:
        if not isinstance(obj, MatlabOpaqueArray):
            return originals[1](self, obj)
        flagged = (
            (e, e.classname in self.saveobj_class_names) for e in obj.ravel(order="F")
        )
        ids = [self.set_object_id(element, saveobj)[0] for element, saveobj in flagged]
        return self.create_mcos_metadata(
            obj.shape, ids, self.set_class_id(obj.classname)
        )

    def set_fwrap_data(self: MatSubsystem) -> Any:
        tables: dict[int, np.ndarray] = {}
        class_id = 1
        while class_id <= self.class_id_counter:  # a default (a string) may add a class
            defaults = class_defaults.get(self.get_classname(class_id))
            if defaults:
                tables[class_id] = struct(
                    {
                        k: self.serialize_nested_props(to_writeable(v))
                        for k, v in defaults.items()
                    }
                )
            class_id += 1
        wrapper = originals[2](self)
        if wrapper is not None and tables:
            column = wrapper.properties[
                -1, 0
            ].copy()  # shared with the unknown region before it
            for class_id, table in tables.items():
                column[class_id, 0] = table
            wrapper.properties[-1, 0] = column
        return wrapper

    with _SAVE_LOCK:
        subsystem.serialize_nested_props = serialize_nested_props  # type: ignore[method-assign]
        subsystem.set_mcos_object_metadata = set_mcos_object_metadata  # type: ignore[method-assign]
        subsystem.set_fwrap_data = set_fwrap_data  # type: ignore[method-assign]
        try:
            yield
        finally:
            (
                subsystem.serialize_nested_props,
                subsystem.set_mcos_object_metadata,
                subsystem.set_fwrap_data,
            ) = originals  # type: ignore[method-assign]


def write_mat(
    path: str | os.PathLike[str],
    variables: Mapping[str, Any],
    version: Literal["v7", "v7.3"] = "v7",
) -> None:
    """Save ``variables`` (name → builder result or any mat-io value) like MATLAB's ``save``.

    ``version`` 'v7' writes a Level-5 file (what every real DLT sample is); 'v7.3' HDF5.
    """
    class_defaults, saveobj_classes = _class_plan(variables)
    with _patched_save(class_defaults):
        save_to_mat(
            os.fspath(path),
            dict(variables),
            version=version,
            saveobj_classes=saveobj_classes,
        )
    # The header's free text carries the time of writing; a fixed text makes the same
    # variables give the same bytes (readers look only at its version and endian bytes).
    level = "7.3" if version == "v7.3" else "5.0"
    text = f"MATLAB {level} MAT-file, written by mat2torch's schema writer".encode()
    with open(path, "r+b") as handle:
        handle.write(text.ljust(116, b" "))
