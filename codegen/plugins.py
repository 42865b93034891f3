"""Plugins: converters and templates for a user's own MATLAB layer classes.

A plugin is a Python file the user names with ``--plugin FILE`` (or ``plugins=[...]`` in
the Python API). Loading it **runs that file**, which is the user's explicit choice; no
plugin is ever loaded otherwise, and nothing read from a .mat file is ever executed.
The file registers layers with :func:`register_layer` (docs/plugins.md):

    from codegen.plugins import register_layer, same_shape

    @register_layer("sigmoidLayer", op="user_sigmoid", template=TEMPLATE_TEXT)
    def sigmoid(layer, inputs):
        return same_shape(layer, inputs, "user_sigmoid")

Registrations last for one conversion (:func:`loaded`): the built-in registry is
restored afterwards, so plugins never leak into other conversions.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codegen.errors import ConversionError
from codegen.ir import Node, TensorInfo
from codegen.layers import registry
from codegen.layers.common import layer_node
from codegen.layers.record import LayerRecord, text_list
from codegen.layers.registry import Dropped

__all__ = [
    "Dropped",
    "LayerRecord",
    "Node",
    "TensorInfo",
    "register_layer",
    "same_shape",
    "text_list",
]

Reference = Callable[..., np.ndarray]


@dataclass
class _PluginOp:
    op: str
    source: str  # template text with init(node) and forward(node, args) macros
    plugin: str  # file name, for messages


_OPS: dict[str, _PluginOp] = {}
_REFERENCES: dict[str, Reference] = {}
_CURRENT: list[str] = []  # the plugin file being loaded, for messages


def same_shape(
    layer: LayerRecord, inputs: Sequence[TensorInfo], op: str, **attrs: Any
) -> Node:
    """The IR node of an elementwise layer: named and classed after ``layer``, with the
    first input's layout and size, ``attrs`` for its template."""
    return layer_node(layer, op, inputs[0], dict(attrs))


def _plugin_name() -> str:
    return _CURRENT[-1] if _CURRENT else "a plugin"


def _template_text(
    op: str, template: str | None, template_dir: str | Path | None
) -> str:
    if (template is None) == (template_dir is None):
        raise ConversionError(
            f"plugin {_plugin_name()}: op {op!r} needs exactly one of template= (the template "
            "text) or template_dir= (a directory holding {op}.py.jinja)."
        )
    if template is not None:
        return template
    assert template_dir is not None
    directory = Path(template_dir)
    if not directory.is_absolute() and _CURRENT:
        directory = Path(_CURRENT[-1]).parent / directory
    path = directory / f"{op}.py.jinja"
    if not path.is_file():
        raise ConversionError(
            f"plugin {_plugin_name()}: no template {path} for op {op!r}; write it (macros "
            "init(node) and forward(node, args)) or pass template= text."
        )
    return path.read_text(encoding="utf-8")


def register_layer(
    *classnames: str,
    op: str | None = None,
    template: str | None = None,
    template_dir: str | Path | None = None,
    input_names: Sequence[str] = ("in",),
    reference: Reference | None = None,
) -> Callable[[registry.Converter], registry.Converter]:
    """Register a converter for MATLAB classes (as ``class(layer)`` prints them) and the
    template of the op it emits.

    The converter receives the layer (:class:`LayerRecord`: ``.name``, ``.classname``,
    ``.fields`` and typed accessors) and the :class:`TensorInfo` of each input, and
    returns a :class:`Node` whose ``op`` is ``op`` (or :class:`Dropped` for a
    training-only layer; then leave ``op`` out). ``reference``, optional, is the layer's
    NumPy semantics in MATLAB layout, ``f(properties, *inputs)``, used by
    ``mat2torch verify --random``.
    """
    from codegen import emit

    ops: tuple[str, ...] = ()
    if op is not None:
        if not op.isidentifier():
            raise ConversionError(
                f"plugin {_plugin_name()}: op {op!r} is not a Python identifier."
            )
        if op in registry.all_ops() or op in _OPS:
            raise ConversionError(
                f"plugin {_plugin_name()}: op {op!r} is already taken; choose another name "
                "(e.g. prefixed with your project's name)."
            )
        source = _template_text(op, template, template_dir)
        try:
            module = emit.environment().from_string(source).module
        except Exception as exc:  # a Jinja syntax error in the user's template
            raise ConversionError(
                f"plugin {_plugin_name()}: the template of op {op!r} does not compile "
                f"({' '.join(str(exc).split())})."
            ) from None
        missing = [m for m in ("init", "forward") if not hasattr(module, m)]
        if missing:
            raise ConversionError(
                f"plugin {_plugin_name()}: the template of op {op!r} lacks the macro(s) "
                f"{', '.join(missing)}."
            )
        _OPS[op] = _PluginOp(op, source, _plugin_name())
        ops = (op,)
    elif template is not None or template_dir is not None:
        raise ConversionError(
            f"plugin {_plugin_name()}: a template needs op= (the name the converter's Node uses)."
        )
    decorate = registry.register(*classnames, ops=ops, input_names=input_names)

    plugin = Path(_plugin_name()).name

    def deco(fn: registry.Converter) -> registry.Converter:
        @functools.wraps(fn)
        def guarded(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node | Dropped:
            try:
                result = fn(layer, inputs)
            except ConversionError:
                raise
            except Exception as exc:  # a bug in the user's converter: say whose
                detail = " ".join(str(exc).split())
                raise layer.error(
                    f"could not be converted by plugin {plugin} ({type(exc).__name__}: "
                    f"{detail}); fix its converter {fn.__name__}()."
                ) from None
            if not isinstance(result, Node | Dropped):
                raise layer.error(
                    f"could not be converted: plugin {plugin}'s converter {fn.__name__}() "
                    f"returned {type(result).__name__}, not a Node or Dropped."
                )
            if isinstance(result, Node) and result.op not in ops:
                raise layer.error(
                    f"could not be converted: plugin {plugin}'s converter {fn.__name__}() "
                    f"returned op {result.op!r}, but registered {', '.join(ops) or 'none'}."
                )
            return result

        try:
            decorate(guarded)
        except ValueError:
            taken = [c for c in classnames if c in registry.registrations()]
            raise ConversionError(
                f"plugin {_plugin_name()}: MATLAB class {', '.join(map(repr, taken))} is "
                "already converted by mat2torch or another plugin; a plugin adds classes, it "
                "does not replace them."
            ) from None
        if reference is not None:
            for classname in classnames:
                _REFERENCES[classname] = reference
        return fn

    return deco


def template_source(op: str) -> str | None:
    """The template text a loaded plugin registered for ``op`` (None for built-ins)."""
    found = _OPS.get(op)
    return found.source if found else None


def reference_handlers() -> dict[str, Reference]:
    """The NumPy semantics loaded plugins gave, by MATLAB class."""
    return dict(_REFERENCES)


def _load_file(path: Path) -> None:
    if not path.is_file():
        raise ConversionError(f"--plugin {path}: no such file.")
    spec = importlib.util.spec_from_file_location(
        f"mat2torch_plugin_{path.stem}_{uuid.uuid4().hex[:8]}", path
    )
    if spec is None or spec.loader is None:
        raise ConversionError(f"--plugin {path}: not a Python file.")
    module = importlib.util.module_from_spec(spec)
    _CURRENT.append(str(path))
    sys.modules[spec.name] = module  # so that the plugin may define dataclasses
    try:
        spec.loader.exec_module(module)
    except ConversionError:
        raise
    except Exception as exc:
        raise ConversionError(
            f"--plugin {path.name}: the plugin raised {type(exc).__name__}: "
            f"{' '.join(str(exc).split())}"
        ) from None
    finally:
        _CURRENT.pop()
        sys.modules.pop(spec.name, None)


@contextlib.contextmanager
def loaded(paths: Sequence[str | Path]) -> Iterator[None]:
    """Run each plugin file, keep its registrations for the duration, then restore the
    built-in registry exactly."""
    if not paths:
        yield
        return
    registry.registrations()  # the built-ins first, so the snapshot holds them all
    saved = (dict(registry._REGISTRY), dict(_OPS), dict(_REFERENCES))
    try:
        for path in paths:
            _load_file(Path(path))
        yield
    finally:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(saved[0])
        _OPS.clear()
        _OPS.update(saved[1])
        _REFERENCES.clear()
        _REFERENCES.update(saved[2])
