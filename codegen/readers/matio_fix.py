"""Per-element class names for MATLAB object arrays read by mat-io.

mat-io 1.0.2 labels every element of a heterogeneous object array (every network's
``Layers``) with the array's class (``nnet.cnn.layer.Layer``) instead of the element's
own. The properties are right; only the name is lost. Each object's own class id is the
first word of its 6-word record in the subsystem's object-id metadata, so the fix reads
that record for every element after mat-io has built the array.

The patch is applied only while :func:`patched_load` is active, so importing this
module changes nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from matio.utils.matclass import MatlabOpaque, MatlabOpaqueArray

_LOCK = threading.RLock()


def _object_ids(metadata: Any) -> np.ndarray:
    """The object ids listed in an MCOS reference (same layout mat-io parses)."""
    meta = np.atleast_2d(metadata)
    ndims = int(meta[1, 0])
    dims = meta[2 : 2 + ndims, 0]
    count = int(np.prod(dims))
    return meta[2 + ndims : 2 + ndims + count, 0]


def _load_mcos_object_fixed(self: Any, metadata: Any, type_system: Any = "MCOS") -> Any:
    from matio.subsystem.subsys import MatSubsystem

    result = _ORIGINAL[MatSubsystem](self, metadata, type_system)
    if isinstance(result, MatlabOpaqueArray):
        flat = result.ravel(order="F")
        for obj, object_id in zip(flat, _object_ids(metadata), strict=True):
            if isinstance(obj, MatlabOpaque) and int(object_id) != 0:
                class_id = self.get_object_metadata(int(object_id))[0]
                obj.classname = self.get_classname(int(class_id))
    return result


@contextlib.contextmanager
def patched_load() -> Iterator[None]:
    """Give each element of an object array its own class name while active."""
    from matio.subsystem.subsys import MatSubsystem  # mat-io's readers: imported here

    with _LOCK:
        original = _ORIGINAL.setdefault(MatSubsystem, MatSubsystem.load_mcos_object)
        MatSubsystem.load_mcos_object = _load_mcos_object_fixed  # type: ignore[method-assign]
        try:
            yield
        finally:
            MatSubsystem.load_mcos_object = original  # type: ignore[method-assign]


# mat-io's own method, kept when first patched (the class is imported only then).
_ORIGINAL: dict[type, Any] = {}
