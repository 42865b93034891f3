"""IR → model.py: Jinja renders, ast checks, black formats. Nothing here touches weights."""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import black
import jinja2
import numpy as np

from codegen import forward_plan, weights
from codegen.input_checks import forward_checks
from codegen.ir import FEATURE, IMAGE, IMAGE_SEQUENCE, SEQUENCE, VOLUME, Graph, Node
from codegen.line_width import wrap_text

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


def doc_text(value: str) -> str:
    """Text from a file made safe inside a triple-quoted docstring (one line, quotes escaped)."""
    return comment_text(value).replace('"', '\\"')


def words(text: str) -> list[str]:
    """``text`` cut after each space: string literals that, written one per line and
    concatenated, keep a long value within the line width and exactly as it was."""
    parts = re.findall(r"[^ ]* *", text)
    return [p for p in parts if p] or [""]


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
    env.filters["doc"] = doc_text
    env.filters["words"] = words
    return env


def layer_template(op: str) -> Any:
    from codegen import plugins

    source = plugins.template_source(op)  # a template a --plugin file registered
    if source is not None:
        return environment().from_string(source).module
    return environment().get_template(f"layers/{op}.py.jinja").module


def _split_comment(expr: str) -> tuple[str, str]:
    """A template's forward expression and the comment after it, if any ("" if none)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(expr).readline))
    except (tokenize.TokenError, SyntaxError):
        return expr, ""
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            return expr[: tok.start[1]].rstrip(), tok.string
    return expr, ""


# Columns left for a forward statement inside ``def forward`` (8 spaces of indent).
_FORWARD_WIDTH = 88 - 8


def _assignment(lhs: str, expr: str) -> list[str]:
    """``lhs = expr``; a long call followed by a subscript, ``f(...)[...]``, becomes two
    statements, which black would otherwise split into a lone ``[``, items and ``]``."""
    line = f"{lhs} = {expr}"
    if len(line) <= _FORWARD_WIDTH or not expr.endswith("]") or "," in lhs:
        return [line]
    depth = 0
    for i in range(len(expr) - 1, -1, -1):
        depth += {"]": 1, "[": -1}.get(expr[i], 0)
        if depth == 0:
            call, index = expr[:i], expr[i:]
            if call.endswith(")"):
                return [f"{lhs} = {call}", f"{lhs} = {lhs}{index}"]
            return [line]
    return [line]


def _same_words(name: str, ident: str) -> bool:
    """Whether the legalised name is the MATLAB name with only its separators (``-``,
    ``.``, space) replaced by ``_`` (``conv-1`` → ``conv_1``): then a comment with the
    original name would only repeat the line. Any other change (a prefix, a suffix,
    dropped, control or non-ASCII characters) keeps the comment."""
    return re.sub(r"[-. ]", "_", name) == ident


@dataclass
class Rendered:
    init: list[str]
    forward: list[str]


def forward_expression(node: Node, args: list[str]) -> str:
    """The node's forward computation on ``args``, as one line of Python (without the
    comment a template may put after it)."""
    raw = " ".join(str(layer_template(node.op).forward(node, args)).split())
    return _split_comment(raw)[0]


def render_node(
    node: Node, args: list[str], targets: list[str] | None = None
) -> Rendered:
    """``targets``: the variables the node's output (a multi-output node's tuple) is
    assigned to; by default its own name."""
    module = layer_template(node.op)
    init = [
        line for line in str(module.init(node)).strip("\n").splitlines() if line.strip()
    ]
    raw = " ".join(str(module.forward(node, args)).split())
    expr, expr_comment = _split_comment(raw)
    lhs = ", ".join(targets) if targets else node.ident
    forward = [] if expr == lhs else _assignment(lhs, expr)
    if expr_comment and forward:
        # Beside a short statement; above one that black or the width would split.
        inline = f"{forward[-1]}  {expr_comment}"
        if len(forward) == 1 and len(inline) <= _FORWARD_WIDTH:
            forward = [inline]
        else:
            forward = [expr_comment, *forward]
    name_note = f"# MATLAB layer {comment_text(repr(node.name))}"
    notes = [] if _same_words(node.name, node.ident) else [name_note]
    if node.comment:
        notes.append(f"# {comment_text(node.comment)}")
    if init:
        init = notes + init
    elif forward:
        forward = notes + forward
    if node.forward_comment and forward:
        forward = [f"# {comment_text(node.forward_comment)}", *forward]
    if (
        forward
        and name_note not in forward
        and not re.search(rf"\b{re.escape(node.ident)}\b", forward[-1])
    ):
        # The line writes a reused variable and has no attribute named after the
        # layer: say which layer it is.
        forward.insert(0, name_note)
    return Rendered(init, forward)


def render_helpers(node: Node) -> list[str]:
    """Module-level definitions a template needs (e.g. an explicit LSTM cell class).

    A template may define a ``helpers(node)`` macro; its output is split into top-level
    definitions (a blank line followed by an unindented line starts a new one) so that
    identical definitions from several nodes or templates are emitted once.
    """
    macro = getattr(layer_template(node.op), "helpers", None)
    if macro is None:
        return []
    text = str(macro(node)).strip("\n")
    return [
        chunk.strip("\n")
        for chunk in re.split(r"\n[ \t]*\n(?=\S)", text)
        if chunk.strip()
    ]


def helper_names(graph: Graph) -> set[str]:
    """Names of the functions and classes the nodes' helpers define at module level."""
    names: set[str] = set()
    for node in graph.nodes:
        for chunk in render_helpers(node):
            for stmt in ast.parse(chunk).body:
                if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
                    names.add(stmt.name)
    return names


def _helper_order(chunk: str) -> tuple[int, str]:
    """Functions before classes, then alphabetical: deterministic and easy to scan."""
    return (0 if chunk.startswith("def ") else 1, chunk)


class TemplateError(RuntimeError):
    """A template rendered invalid Python; carries the rendered source."""


def port_idents(graph: Graph) -> dict[str, str]:
    """Variables for the extra outputs of multi-output nodes: "layer/hidden" → lstm_hidden."""
    from codegen.passes.names import legalize

    taken = {gi.ident for gi in graph.inputs} | {n.ident for n in graph.nodes}
    extra: dict[str, str] = {}
    for node in graph.nodes:
        for port in list(node.attrs.get("output_ports") or ())[1:]:
            base = f"{node.ident}_{legalize(port).rstrip('_')}"
            ident, k = base, 1
            while ident in taken:
                ident, k = f"{base}_{k}", k + 1
            taken.add(ident)
            extra[f"{node.name}/{port}"] = ident
    return extra


def output_info(graph: Graph, output: str) -> Any:
    """The TensorInfo of a graph output ("layer" or "layer/port"), None if unknown."""
    layer, _, port = output.partition("/")
    for node in graph.nodes:
        if node.name == layer:
            ports = list(node.attrs.get("output_ports") or ())
            infos = node.attrs.get("output_infos")
            if port and ports and infos and port in ports:
                return infos[ports.index(port)]
            return node.out
    return None


def snake_case(ident: str) -> str:
    """``Encoder_Stage_1_ReLU_2`` → ``encoder_stage_1_relu_2``; ``convLayer1`` →
    ``conv_layer1``; ``LSTMLayer`` → ``lstm_layer``: a new word starts where a capital
    is followed by a small letter, so acronyms (ReLU, LSTM, 2D) stay whole."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])", "_", ident)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", text)
    return re.sub(r"_+", "_", text).lower()


def local_names(graph: Graph) -> dict[str, str]:
    """forward's variable for each layer value kept by name ("layer" or "layer/port"):
    the legalised name in snake_case, as PyTorch code names locals (attributes keep the
    legalised MATLAB name). Unique, and never a keyword, a builtin, a name model.py
    uses, a helper it defines or an input's name. Input layers keep their argument's
    name."""
    from codegen.passes.names import RESERVED

    helpers = helper_names(graph)
    taken = {gi.ident for gi in graph.inputs} | {"self", "lengths", graph.class_name}
    inputs = {gi.name for gi in graph.inputs}
    names: dict[str, str] = {}
    keys = [(n.name, n.ident) for n in graph.nodes if n.name not in inputs]
    keys += list(port_idents(graph).items())
    for key, ident in keys:
        base = snake_case(ident)
        candidate, k = base, 1
        while (
            candidate in taken
            or candidate in helpers
            or keyword.iskeyword(candidate)
            or keyword.issoftkeyword(candidate)
            or hasattr(builtins, candidate)
            or candidate in RESERVED
        ):
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate)
        names[key] = candidate
    return names


def chain_variable(taken: set[str]) -> str:
    """The variable values flow through from one line to the next: ``x``, unless a
    layer or input already has that name."""
    for name in ("x", "y", "z"):
        if name not in taken:
            return name
    k = 1
    while f"x_{k}" in taken:
        k += 1
    return f"x_{k}"


def render_model(graph: Graph, lean: bool = True) -> str:
    """The complete, black-formatted model.py for a named graph.

    ``lean=False``: every layer's value keeps its own variable until forward returns
    (more memory, same results); ``verify`` runs that form to compare each layer.
    """
    idents = {gi.name: gi.ident for gi in graph.inputs}
    idents.update({n.name: n.ident for n in graph.nodes})
    idents.update(local_names(graph))  # forward's variables, in snake_case
    input_idents = {gi.name: gi.ident for gi in graph.inputs}
    aliases: dict[str, int] = {}
    for node in graph.nodes:
        args = [idents[src] for src in node.inputs]
        if not node.attrs.get("output_ports"):
            expr = forward_expression(node, args)
            if expr in args:
                aliases[node.name] = args.index(expr)
    plan = forward_plan.plan_forward(graph, aliases, lean)
    chain = chain_variable(set(idents.values()) | {"self", "lengths"})

    def variable(value: forward_plan.Value) -> str:
        if value in plan.chained:
            return chain
        if value.producer is None:
            return input_idents[value.name]
        return idents[value.name]

    init_lines: list[str] = []
    helpers: set[str] = set()
    for node in graph.nodes:
        init_lines += render_node(node, [idents[src] for src in node.inputs]).init
        helpers.update(render_helpers(node))
    forward_lines: list[str] = []
    for index, line in enumerate(plan.lines):
        targets = [variable(v) for v in line.results]
        rendered = render_node(line.node, [variable(v) for v in line.args], targets)
        forward_lines += rendered.forward
        dead = plan.dead_after.get(index)
        if dead:
            forward_lines.append("del " + ", ".join(variable(v) for v in dead))
    outputs = [variable(v) for v in plan.outputs]
    predict_returns = [
        forward_expression(head, [name]) if head is not None else name
        for head, name in zip(plan.heads, outputs, strict=True)
    ]
    # A classifier's final linear layer: the module docstring shows how to replace it.
    tune_head = None
    if len(plan.outputs) == 1 and plan.heads[0] is not None:
        producer = plan.outputs[0].producer
        head = graph.nodes[producer] if producer is not None else None
        if head is not None and head.op == "linear":
            tune_head = {
                "ident": head.ident,
                "in_features": head.attrs["in_features"],
                "out_features": head.attrs["out_features"],
            }
    checks = forward_checks(graph)
    if any(line.startswith("check_lengths(") for line in checks):
        checks_module: Any = environment().get_template("layers/_checks.jinja").module
        helpers.add(str(checks_module.check_lengths()).strip("\n"))
    helper_list = sorted(helpers, key=_helper_order)
    body_text = "\n".join(init_lines + forward_lines + predict_returns + helper_list)
    layouts = sorted({gi.info.layout for gi in graph.inputs})
    preprocess = [
        str(layer_template("input").preprocess(n)).strip("\n")
        for n in graph.nodes
        if n.op == "input" and "preprocess" in n.attrs
    ]
    context = {
        "graph": graph,
        "init_lines": init_lines,
        "forward_lines": forward_lines,
        "outputs": outputs,
        # What predict returns: forward's outputs, with the final softmax where forward
        # stops before it.
        "predict_returns": predict_returns,
        "heads": plan.heads,
        "tune_head": tune_head,
        # MATLAB names of the outputs (layer or layer/port), for the forward docstring.
        "output_names": list(graph.outputs),
        "output_infos": [output_info(graph, o) for o in graph.outputs],
        # Sizes as formulas of the input's unknown H, W ("2H"), where an importer worked them out.
        "output_symbols": [
            graph.node(o).attrs.get("symbolic_shape") if "/" not in o else None
            for o in graph.outputs
        ],
        # "all": every state_dict key has a stored value; "partial": some; "none": no weights file.
        "weights_mode": weights.weights_mode(graph),
        "untrained_keys": tuple(weights.missing_keys(graph)),
        "uses_functional": "F." in body_text,
        "layouts": layouts,
        "IMAGE": IMAGE,
        "FEATURE": FEATURE,
        "SEQUENCE": SEQUENCE,
        "VOLUME": VOLUME,
        "IMAGE_SEQUENCE": IMAGE_SEQUENCE,
        "n_layers": len(graph.nodes),
        "helpers": helper_list,
        # MatConvNet: the preprocess() method (what the calling code does before forward).
        "preprocess_methods": preprocess,
        # Buffers declared on the class so that type checkers know they are tensors.
        "buffer_names": [
            m.group(1)
            for line in init_lines
            if (m := re.match(r"self\.register_buffer\(['\"](\w+)['\"]", line))
        ],
        # Variable-length sequence batches: forward takes the true lengths.
        "uses_lengths": any(n.attrs.get("uses_lengths") for n in graph.nodes),
        # ValueErrors for misuse, at the top of forward (codegen/input_checks.py).
        "input_checks": checks,
    }
    source = environment().get_template("model.py.jinja").render(**context)
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise TemplateError(
            f"rendered model.py is not valid Python ({exc}):\n{source}"
        ) from None
    # black leaves comments and docstrings alone: wrap them, then let black check.
    formatted = black.format_str(source, mode=BLACK_MODE)
    return black.format_str(wrap_text(formatted), mode=BLACK_MODE)
