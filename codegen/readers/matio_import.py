"""Importing mat-io's class definitions without the rest of mat-io.

``import matio`` runs the package's ``__init__``, which imports every reader and
writer and, through them, pandas and scipy.sparse: about 40 MB and a quarter of a
second, paid even by conversions that never call mat-io (a MatConvNet file read with
scipy). Everything here needs from mat-io at import time is its classes, in
``matio.utils.matclass`` (numpy only). :func:`defer_package_init` registers the
``matio`` package without running its ``__init__``; the first attribute asked of the
package itself (``from matio import load_from_mat``) runs it, in the same module
object, so every name and class is the one mat-io defines.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

_LOCK = threading.Lock()


def defer_package_init() -> None:
    """Make ``import matio.x.y`` import only what it names, until a name of the
    package itself is used. Does nothing when mat-io is already imported."""
    with _LOCK:
        if "matio" in sys.modules:
            return
        spec = importlib.util.find_spec("matio")
        if (
            spec is None
            or spec.loader is None
            or spec.submodule_search_locations is None
        ):
            return  # not installed as a package: imports fail as they would have
        module = importlib.util.module_from_spec(spec)
        loader = spec.loader

        def __getattr__(name: str) -> Any:
            submodule = sys.modules.get(f"matio.{name}")
            if submodule is not None:  # imported, its attribute not set yet
                return submodule
            with _LOCK:
                if module.__dict__.get("__getattr__") is __getattr__:
                    del module.__dict__["__getattr__"]
                    loader.exec_module(module)
            if name in module.__dict__:
                return module.__dict__[name]
            raise AttributeError(f"module 'matio' has no attribute {name!r}")

        module.__dict__["__getattr__"] = __getattr__
        sys.modules["matio"] = module
