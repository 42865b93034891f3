"""Converters registered by MATLAB class, like onnx2torch's converter registry.

A converter takes a :class:`LayerRecord` and the :class:`TensorInfo` of each input and
returns IR nodes — never code strings. Each registration names the template ops it may
emit, so a test can check that every op has a template and every template an op.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from codegen.ir import Dropped, Node, TensorInfo
from codegen.layers.record import LayerRecord
from codegen.layers.stub import STUB_OP, stub

Converter = Callable[[LayerRecord, Sequence[TensorInfo]], "Node | Dropped"]
# Whether a converter handles this particular layer (e.g. a FunctionLayer whose function
# translates); a layer it declines is unsupported, like an unregistered class.
Accepts = Callable[[LayerRecord], bool]


# A converter's declared schema: the stored ``Version`` values it reads (each with every
# field that carries semantics in it), or UNVERSIONED for structs that store no version
# (MatConvNet layers; stand-ins for classes nobody registered).
UNVERSIONED = "unversioned"
# Training-only layers that leave nothing in forward (and no class names the converter
# reads): no schema version can change the converted network.
ANY_VERSION = "any version"
Versions = tuple[int, ...] | str
# A plain-property class whose prediction passes its input through whatever it stores
# (MathWorks' own code generation maps it to a pass-through): no property is read, so
# none can be misread.
PASS_THROUGH_PROPERTIES: tuple[str, ...] = ("(any: passes its input through)",)


@dataclass(frozen=True)
class Registration:
    classname: str
    ops: tuple[str, ...]
    convert: Converter
    family: str
    input_names: tuple[str, ...] = (
        "in",
    )  # MATLAB's names of the input ports, in order
    versions: Versions | None = None  # None: not declared (a test refuses that)
    # For classes saved with plain properties (nnet.layer.Layer subclasses, whose stored
    # Version is the base class's and never changes): the properties the converter
    # reads, besides the base classes' bookkeeping. None: not declared.
    properties: tuple[str, ...] | None = None

    def check_schema(self, layer: LayerRecord) -> None:
        """Refuse a schema the converter was not written for.

        A converter reads the fields of the versions it declares; a version it does not
        know may keep its semantics in fields nobody reads, so converting it anyway
        could silently give a different network. The same holds for a property that a
        plain-property class did not have when its converter was written.
        """
        self._check_properties(layer)
        if self.versions is None or isinstance(self.versions, str):
            return
        stored = layer.num("Version")
        known = ", ".join(str(v) for v in self.versions)
        if stored is None:
            raise layer.error(
                f"stores no schema Version; mat2torch reads this class in schema "
                f"version {known} only."
            )
        if stored not in self.versions:
            version = int(stored) if float(stored).is_integer() else stored
            raise layer.error(
                f"is stored in schema version {version}, which mat2torch does not know "
                f"(it reads this class in version {known}); the file may come from a "
                "MATLAB release this version of mat2torch does not support."
            )

    def _check_properties(self, layer: LayerRecord) -> None:
        if (
            self.properties is None
            or self.properties == PASS_THROUGH_PROPERTIES
            or layer.plain_properties is None
        ):
            return
        unknown = [
            key
            for key in layer.plain_properties
            if key not in self.properties and not LAYER_BASE_PROPERTIES.match(key)
        ]
        if unknown:
            listed = ", ".join(unknown)
            known = ", ".join(self.properties) or "none besides the layer base class's"
            raise layer.error(
                f"stores the propert{'ies' if len(unknown) > 1 else 'y'} {listed}, which "
                f"mat2torch does not know for this class (it reads: {known}); the file may "
                "come from a MATLAB release this version of mat2torch does not support."
            )

    accepts: Accepts | None = None

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


# Bookkeeping of the nnet.layer.Layer base classes and mixins, saved with every layer
# that keeps plain properties (names as LayerRecord shortens them).
LAYER_BASE_PROPERTIES = re.compile(
    r"^(Name|Version|Description|Type|NumInputs|NumOutputs|InputNames|OutputNames"
    r"|Private\w*|LearnRateFactor|L2Factor|LearnablesTypes)$"
)

_REGISTRY: dict[str, Registration] = {}

# Where error messages send people for the list of supported classes.
SUPPORTED_HINT = "`mat2torch layers` lists the supported layer classes"


def register(
    *classnames: str,
    ops: Sequence[str],
    input_names: Sequence[str] = ("in",),
    versions: Sequence[int] | str | Mapping[str, Sequence[int] | str] | None = None,
    properties: Sequence[str] | None = None,
    accepts: Accepts | None = None,
) -> Callable[[Converter], Converter]:
    """Register ``fn`` for fully qualified MATLAB class names (e.g. nnet.cnn.layer.ReLULayer).

    A converter returns :class:`Dropped` for layers that vanish at inference.
    ``versions``: the stored schema ``Version`` values the converter reads (for
    ``nnet.layer.Layer`` subclasses, the base class's Version), or :data:`UNVERSIONED`,
    or a mapping giving them per class when one converter serves several; any other
    stored version is refused with an error naming it. ``properties``: for classes saved
    with plain properties, the ones the converter reads; any other (besides the layer
    base classes' bookkeeping) is refused with an error naming it.
    """
    per_class = (
        versions
        if isinstance(versions, Mapping)
        else {classname: versions for classname in classnames}
    )
    if set(per_class) != set(classnames):
        raise ValueError(f"versions= must name exactly the classes {classnames}")
    declared: dict[str, Versions | None] = {}
    for classname, given in per_class.items():
        if isinstance(given, str) and given not in (UNVERSIONED, ANY_VERSION):
            raise ValueError(
                f"versions={given!r}: give version numbers, UNVERSIONED or ANY_VERSION"
            )
        declared[classname] = (
            given if given is None or isinstance(given, str) else tuple(given)
        )

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
                declared[classname],
                None if properties is None else tuple(properties),
                accepts,
            )
        return fn

    return deco


def lookup(classname: str, stub_unsupported: bool = False) -> Registration | None:
    """The converter for a MATLAB class; with ``stub_unsupported``, an explicit stub for
    classes nobody registered (see codegen/layers/stub.py) instead of None."""
    _load_all()
    found = _REGISTRY.get(classname)
    if found is None and stub_unsupported:
        return Registration(classname, (STUB_OP,), stub, "stub", ("in",), UNVERSIONED)
    return found


def lookup_record(
    record: LayerRecord, stub_unsupported: bool = False
) -> Registration | None:
    """:func:`lookup` for one layer: a converter that declines it counts as none."""
    found = lookup(record.classname)
    if found is not None and found.accepts is not None and not found.accepts(record):
        found = None
    if found is None and stub_unsupported:
        return Registration(
            record.classname, (STUB_OP,), stub, "stub", ("in",), UNVERSIONED
        )
    return found


def registrations() -> dict[str, Registration]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def all_ops() -> set[str]:
    """Every op a converter may emit, including the opt-in stub for unsupported layers."""
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
            "recurrent_fields",
            "stub",
        ):
            importlib.import_module(f"codegen.layers.{info.name}")
