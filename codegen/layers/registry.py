"""Converters registered by MATLAB class, like onnx2torch's converter registry.

A converter takes a :class:`LayerRecord` and the :class:`TensorInfo` of each input and
returns IR nodes — never code strings. Each registration names the template ops it may
emit, so a test can check that every op has a template and every template an op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codegen.ir import Node, TensorInfo
from codegen.layers.record import LayerRecord


@dataclass(frozen=True)
class Dropped:
    """What a training-only layer (classification/regression output) leaves behind."""

    classes: tuple[str, ...] | None = None
    response_names: tuple[str, ...] | None = None


Converter = Callable[[LayerRecord, Sequence[TensorInfo]], "Node | Dropped"]


@dataclass(frozen=True)
class Registration:
    classname: str
    ops: tuple[str, ...]
    convert: Converter
    family: str
    input_names: tuple[str, ...] = (
        "in",
    )  # MATLAB's names of the input ports, in order

    def run(self, record: LayerRecord, inputs: Sequence[TensorInfo]) -> Node | Dropped:
        """``convert``, with values that do not fit together (a damaged or crafted file:
        a size that disagrees with an array, a negative count) reported as one sentence
        naming the layer instead of an exception from deep inside numpy."""
        try:
            return self.convert(record, inputs)
        except (
            ValueError,
            TypeError,
            IndexError,
            OverflowError,
            ZeroDivisionError,
        ) as exc:
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            raise record.error(
                f"has fields whose values do not fit together ({detail}); the file is damaged "
                "or was not written by MATLAB. If MATLAB loads this network, rerun with --debug "
                "and report it."
            ) from exc

    def input_index(self, port: str) -> int | None:
        """0-based index of a Connections destination port: 'in2' → 1, 'hidden' → 1."""
        if port in ("", "in"):
            return 0
        if port.startswith("in") and port[2:].isdigit():
            return int(port[2:]) - 1
        return self.input_names.index(port) if port in self.input_names else None


_REGISTRY: dict[str, Registration] = {}

# Where error messages send people for the list of supported classes.
SUPPORTED_HINT = "`mat2torch layers` lists the supported layer classes"


def register(
    *classnames: str, ops: Sequence[str], input_names: Sequence[str] = ("in",)
) -> Callable[[Converter], Converter]:
    """Register ``fn`` for fully qualified MATLAB class names (e.g. nnet.cnn.layer.ReLULayer).

    A converter returns :class:`Dropped` for layers that vanish at inference.
    """

    def deco(fn: Converter) -> Converter:
        for classname in classnames:
            if classname in _REGISTRY:
                raise ValueError(f"MATLAB class {classname!r} is registered twice")
            _REGISTRY[classname] = Registration(
                classname,
                tuple(ops),
                fn,
                fn.__module__.rsplit(".", 1)[-1],
                tuple(input_names),
            )
        return fn

    return deco


def lookup(classname: str, stub_unsupported: bool = False) -> Registration | None:
    """The converter for a MATLAB class; with ``stub_unsupported``, an explicit stub for
    classes nobody registered (see codegen/layers/stub.py) instead of None."""
    _load_all()
    found = _REGISTRY.get(classname)
    if found is None and stub_unsupported:
        from codegen.layers.stub import STUB_OP, stub

        return Registration(classname, (STUB_OP,), stub, "stub", ("in",))
    return found


def registrations() -> dict[str, Registration]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def all_ops() -> set[str]:
    """Every op a converter may emit, including the opt-in stub for unsupported layers."""
    from codegen.layers.stub import STUB_OP

    return {op for reg in registrations().values() for op in reg.ops} | {STUB_OP}


def _load_all() -> None:
    """Import every family module in codegen.layers so its @register calls run."""
    import importlib
    import pkgutil

    import codegen.layers as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name not in (
            "record",
            "registry",
            "common",
            "matconvnet_fields",
            "stub",
        ):
            importlib.import_module(f"codegen.layers.{info.name}")
