"""IR → model.py: Jinja renders, ast checks, black formats. Nothing here touches weights."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import black
import jinja2
import numpy as np

from codegen.ir import FEATURE, IMAGE, SEQUENCE, Graph, Node

BLACK_MODE = black.Mode()


def templates_dir() -> Path:
    """The source tree's templates/, or the copy installed inside the wheel."""
    source = Path(__file__).resolve().parent.parent / "templates"
    if (source / "model.py.jinja").is_file():
        return source
    return Path(str(resources.files("codegen") / "templates"))


def pyrepr(value: Any) -> str:
    """An exact Python literal: numpy scalars and arrays become plain Python values."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        items = [pyrepr(v) for v in value]
        if isinstance(value, tuple):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if isinstance(value, float):
        if value == float("inf"):
            return 'float("inf")'
        if value == float("-inf"):
            return 'float("-inf")'
        if value != value:
            return 'float("nan")'
    return repr(value)


def comment_text(value: str) -> str:
    """Text from a file made safe for a single-line comment."""
    return " ".join(repr(value)[1:-1].split())


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = pyrepr
    env.filters["comment"] = comment_text
    return env


def layer_template(op: str) -> Any:
    return environment().get_template(f"layers/{op}.py.jinja").module


@dataclass
class Rendered:
    init: list[str]
    forward: list[str]


def render_node(node: Node, args: list[str]) -> Rendered:
    module = layer_template(node.op)
    init = [line for line in str(module.init(node)).strip("\n").splitlines() if line.strip()]
    expr = " ".join(str(module.forward(node, args)).split())
    forward = [] if expr == node.ident else [f"{node.ident} = {expr}"]
    notes = []
    if node.ident != node.name:
        notes.append(f"# MATLAB layer {comment_text(repr(node.name))}")
    if node.comment:
        notes.append(f"# {comment_text(node.comment)}")
    if init:
        init = notes + init
    elif forward:
        forward = notes + forward
    return Rendered(init, forward)


class TemplateError(RuntimeError):
    """A template rendered invalid Python; carries the rendered source."""


def render_model(graph: Graph) -> str:
    """The complete, black-formatted model.py for a named graph."""
    idents = {gi.name: gi.ident for gi in graph.inputs}
    idents.update({n.name: n.ident for n in graph.nodes})
    rendered = []
    for node in graph.nodes:
        args = [idents[src] for src in node.inputs]
        rendered.append(render_node(node, args))
    body_text = "\n".join(line for r in rendered for line in r.init + r.forward)
    layouts = sorted({gi.info.layout for gi in graph.inputs})
    context = {
        "graph": graph,
        "init_lines": [line for r in rendered for line in r.init],
        "forward_lines": [line for r in rendered for line in r.forward],
        "outputs": [idents[o] for o in graph.outputs],
        "uses_functional": "F." in body_text,
        "layouts": layouts,
        "IMAGE": IMAGE,
        "FEATURE": FEATURE,
        "SEQUENCE": SEQUENCE,
        "n_layers": len(graph.nodes),
    }
    source = environment().get_template("model.py.jinja").render(**context)
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise TemplateError(f"rendered model.py is not valid Python ({exc}):\n{source}") from None
    return black.format_str(source, mode=BLACK_MODE)
