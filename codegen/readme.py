"""README.md beside model.py: what a reviewer needs to check a conversion in a pull request.

The layer table, the graph drawn as a mermaid flowchart and the list of MATLAB conventions
the conversion translated, all taken from the named graph and from what its templates
render. Deterministic like model.py; every string from the file passes through
``code_span`` (markdown) or ``mermaid_label`` (flowchart) and cannot break either.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from codegen import emit, weights
from codegen.ir import (
    FEATURE,
    IMAGE,
    IMAGE_SEQUENCE,
    SEQUENCE,
    VOLUME,
    Graph,
    Node,
    TensorInfo,
)

# A graph with at most this many nodes is drawn in full; a bigger one has its long
# single-file chains collapsed to their first and last layer around one summary node.
FULL_GRAPH_NODES = 24
COLLAPSE_CHAINS_LONGER_THAN = 4
CLASS_LIST_LIMIT = 40
# The README's first line: how convert tells its own README from a project's.
MARKER = "<!-- Written by mat2torch beside model.py; regenerated with it. -->"
# Characters a mermaid label may hold as they are; any other becomes an entity code.
_MERMAID_SAFE = set(" -_.,:()/+*=!?'[]{}")


def code_span(text: str) -> str:
    """``text`` as one inline markdown code span that is also safe inside a table cell."""
    text = emit.comment_text(text).replace("|", "\\|")
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def mermaid_label(text: str) -> str:
    """``text`` for inside a quoted mermaid label: letters, digits and plain punctuation
    stay; everything else (quotes, markup, control, zero-width and direction marks)
    becomes a numeric entity code, so no file can change the diagram's structure."""
    out = []
    for ch in text:
        if (
            ch.isalnum() and unicodedata.category(ch)[0] in "LN"
        ) or ch in _MERMAID_SAFE:
            out.append(ch)
        else:
            out.append(f"#{ord(ch)};")
    return "".join(out)


def shape_text(info: TensorInfo | None) -> str:
    """(N, C, H, W)-style size in PyTorch order, as the class docstring writes it."""
    if info is None:
        return "?"
    dims = ["?" if s is None else str(s) for s in info.shape]
    if info.layout in (IMAGE, VOLUME):
        return f"(N, {', '.join(dims)})"
    if info.layout == FEATURE:
        return f"(N, {dims[0] if dims else '?'})"
    if info.layout == IMAGE_SEQUENCE:
        return f"(N, T, {', '.join(dims)})"
    if info.layout == SEQUENCE:
        return f"(N, T, {dims[0] if dims else '?'})"
    return "?"


def layout_text(info: TensorInfo) -> str:
    return {
        IMAGE: "images, PyTorch N×C×H×W (MATLAB H×W×C×N)",
        FEATURE: "features, N×C (MATLAB C×N)",
        SEQUENCE: "sequences, batch first N×T×C (MATLAB C×T per sequence)",
        VOLUME: "volumes, PyTorch N×C×D×H×W (MATLAB H×W×D×C×N)",
        IMAGE_SEQUENCE: "image sequences, N×T×C×H×W (MATLAB H×W×C×T per sequence)",
    }.get(info.layout, info.layout)


def _rendered(node: Node, idents: dict[str, str] | None = None) -> emit.Rendered:
    idents = idents or {}
    args = [idents.get(src, f"in{i}") for i, src in enumerate(node.inputs)]
    return emit.render_node(node, args)


def _code_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.lstrip().startswith("#")]


def construct(node: Node, idents: dict[str, str] | None = None) -> str:
    """What the layer became in PyTorch: the module class it is an instance of, else the
    call or expression its forward line computes."""
    rendered = _rendered(node, idents)
    init = "\n".join(line.strip() for line in _code_lines(rendered.init))
    try:
        statements = ast.parse(init).body if init else []
    except SyntaxError:
        statements = []
    for stmt in statements:
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.value, ast.Call)
            and any(
                isinstance(t, ast.Attribute) and t.attr == node.ident
                for t in stmt.targets
            )
        ):
            return ast.unparse(stmt.value.func)
    for line in _code_lines(rendered.forward):
        _, _, expr = line.partition(" = ")
        try:
            tree = ast.parse(expr.strip(), mode="eval").body
        except SyntaxError:
            continue
        if isinstance(tree, ast.Call):
            return ast.unparse(tree.func)
        text = ast.unparse(tree)
        return text if len(text) <= 60 else text[:57] + "..."
    if any("register_buffer" in line for line in rendered.init):
        return "buffers"
    return "(identity)"


def comments(node: Node) -> list[str]:
    """The translation comments the node's lines carry (the name comment left out)."""
    rendered = _rendered(node)
    found = []
    text = "\n".join(line.strip() for line in rendered.init + rendered.forward)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text + "\n").readline))
    except (tokenize.TokenError, IndentationError):
        tokens = []
    for token in tokens:
        if token.type == tokenize.COMMENT:
            comment = token.string.lstrip("#").strip()
            if comment and not comment.startswith("MATLAB layer "):
                found.append(comment)
    return found


def parameter_count(node: Node) -> str:
    arrays = list(node.params.values())
    if not arrays:
        return ""
    if any(a is None for a in arrays):
        return "untrained"
    return f"{sum(int(a.size) for a in arrays if a is not None):,}"


@dataclass(frozen=True)
class Row:
    name: str
    matlab_class: str
    ident: str
    construct: str
    output: str
    parameters: str


def variable_idents(graph: Graph) -> dict[str, str]:
    """MATLAB layer (or layer/port) name → the variable forward holds it in."""
    idents = {gi.name: gi.ident for gi in graph.inputs}
    idents.update({n.name: n.ident for n in graph.nodes})
    idents.update(emit.port_idents(graph))
    return idents


def layer_rows(graph: Graph, source: str = "") -> list[Row]:
    """One row per layer; the Python name only where model.py has it (an attribute,
    buffers or a variable): a value that flows through the reused ``x`` has none."""
    idents = variable_idents(graph)
    rows = []
    for node in graph.nodes:
        infos = node.attrs.get("output_infos")
        output = (
            "; ".join(shape_text(i) for i in infos) if infos else shape_text(node.out)
        )
        symbolic = node.attrs.get("symbolic_shape")
        if symbolic and node.out is not None:
            # sizes as formulas of the input's H and W where the file fixes none
            output = shape_text(TensorInfo(node.out.layout, tuple(symbolic)))
        rows.append(
            Row(
                node.name,
                node.matlab_class,
                (
                    node.ident
                    if not source or re.search(rf"\b{re.escape(node.ident)}", source)
                    else ""
                ),
                construct(node, idents),
                output,
                parameter_count(node),
            )
        )
    return rows


# --------------------------------------------------------------------------- mermaid


def _chains(graph: Graph, edges: list[tuple[str, str]]) -> list[list[str]]:
    """Maximal runs a→b→…→z where each link is b's only input and a's only consumer."""
    outs: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    ins: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for a, b in edges:
        outs[a].append(b)
        ins[b].append(a)

    def linked(a: str) -> bool:
        return len(outs[a]) == 1 and len(ins[outs[a][0]]) == 1

    chains, seen = [], set()
    for node in graph.nodes:
        name = node.name
        if name in seen:
            continue
        starts = not (len(ins[name]) == 1 and linked(ins[name][0]))
        if not starts:
            continue
        chain = [name]
        while linked(chain[-1]) and outs[chain[-1]][0] not in seen:
            chain.append(outs[chain[-1]][0])
        seen.update(chain)
        chains.append(chain)
    return chains


def mermaid(graph: Graph) -> str:
    """A top-down flowchart: one box per layer (name and MATLAB class), long chains of a
    big graph collapsed, outputs marked."""
    names = [n.name for n in graph.nodes]
    index = {name: i for i, name in enumerate(names)}
    edges: list[tuple[str, str]] = []
    for node in graph.nodes:
        for src in node.inputs:
            layer = src if src in index else src.rpartition("/")[0]
            if (
                layer != node.name
                and layer in index
                and (layer, node.name) not in edges
            ):
                edges.append((layer, node.name))
    shown = {name: f"n{i}" for name, i in index.items()}
    boxes: list[str] = []
    hidden: dict[str, str] = {}
    if len(names) > FULL_GRAPH_NODES:
        for k, chain in enumerate(_chains(graph, edges)):
            if len(chain) > COLLAPSE_CHAINS_LONGER_THAN:
                middle = chain[1:-1]
                for name in middle:
                    hidden[name] = f"c{k}"
                label = (
                    f"{mermaid_label(middle[0])} …<br/>… {mermaid_label(middle[-1])}"
                    f"<br/>({len(middle)} layers)"
                )
                boxes.append(f'    c{k}["{label}"]')
    outputs = {o if o in index else o.rpartition("/")[0] for o in graph.outputs}
    lines = ["flowchart TD"]
    by_name = {n.name: n for n in graph.nodes}
    for name in names:
        if name in hidden:
            continue
        node = by_name[name]
        short = node.matlab_class.rsplit(".", 1)[-1]
        label = f"{mermaid_label(name)}<br/>{mermaid_label(short)}"
        open_, close = (
            ("([", "])") if name in outputs or node.op == "input" else ("[", "]")
        )
        lines.append(f'    {shown[name]}{open_}"{label}"{close}')
    lines.extend(boxes)
    drawn: list[str] = []
    for a, b in edges:
        ida, idb = hidden.get(a, shown[a]), hidden.get(b, shown[b])
        if ida == idb:
            continue
        edge = f"    {ida} --> {idb}"
        if edge not in drawn:
            drawn.append(edge)
    lines.extend(drawn)
    return "\n".join(lines)


# --------------------------------------------------------------------------- conventions


def conventions(graph: Graph) -> list[str]:
    """Markdown bullets: each MATLAB convention this conversion translated, with the
    layers it touches, then what was left out, stubbed or suspicious."""
    grouped: dict[str, list[str]] = {}
    for node in graph.nodes:
        for comment in comments(node):
            grouped.setdefault(comment, [])
            if node.name not in grouped[comment]:
                grouped[comment].append(node.name)
    bullets = []
    for comment, layers in grouped.items():
        listed = ", ".join(code_span(n) for n in layers[:8])
        if len(layers) > 8:
            listed += f" and {len(layers) - 8} more"
        bullets.append(f"- {emit.comment_text(comment)} ({listed})")
    if graph.dropped:
        listed = ", ".join(
            f"{code_span(n)} ({code_span(c.rsplit('.', 1)[-1])})"
            for n, c in graph.dropped
        )
        bullets.append(
            f"- Training-only layers left out (they do not take part in inference): {listed}"
        )
    stubs = [n for n in graph.nodes if n.op == "stub"]
    if stubs:
        listed = ", ".join(code_span(n.name) for n in stubs)
        bullets.append(
            f"- Stubs that raise NotImplementedError until their code is ported: {listed}"
        )
    bad = weights.nonfinite_note(graph)
    if bad:
        bullets.append(f"- WARNING: {emit.comment_text(bad)}")
    mode = weights.weights_mode(graph)
    if mode != "all":
        bullets.append(
            "- UNTRAINED: the file stores no values for "
            + ("any weight" if mode == "none" else "some weights (UNTRAINED_KEYS)")
            + "; those keep PyTorch's default initialisation."
        )
    for note in graph.notes:
        text = emit.comment_text(note)
        said = (
            graph.dropped
            and "left out" in text
            and all(repr(name) in note for name, _ in graph.dropped)
        )
        if not said and not any(text in b for b in bullets):
            bullets.append(f"- {text}")
    return bullets


def render_readme(graph: Graph, source: str) -> str:
    """README.md for a rendered model.py (``source``) of a named graph."""
    idents = variable_idents(graph)
    inputs = [
        (gi.ident, shape_text(gi.info), layout_text(gi.info)) for gi in graph.inputs
    ]
    outputs = [
        (idents.get(o, o), shape_text(emit.output_info(graph, o)))
        for o in graph.outputs
    ]
    has_predict = "def predict(" in source
    classes = list(graph.classes or ())
    context = {
        "graph": graph,
        "title": code_span(graph.class_name),
        "source_name": code_span(graph.source_name),
        "variable": code_span(graph.variable),
        "command": code_span(graph.command),
        "inputs": [(code_span(a), b, c) for a, b, c in inputs],
        "outputs": [(code_span(a), b) for a, b in outputs],
        "call": "model.predict" if has_predict else "model",
        "args": ", ".join(gi.ident for gi in graph.inputs),
        "rows": [
            Row(
                code_span(r.name),
                code_span(r.matlab_class),
                code_span(r.ident) if r.ident else "",
                code_span(r.construct),
                r.output,
                r.parameters,
            )
            for r in layer_rows(graph, source)
        ],
        "mermaid": mermaid(graph),
        "conventions": conventions(graph),
        "classes": [code_span(c) for c in classes[:CLASS_LIST_LIMIT]],
        "more_classes": max(0, len(classes) - CLASS_LIST_LIMIT),
        "has_weights": weights.weights_mode(graph) != "none",
        "parameters": f"{sum(int(a.size) for n in graph.nodes for a in n.params.values() if a is not None):,}",
    }
    return emit.environment().get_template("README.md.jinja").render(**context)


def is_ours(path: Path) -> bool:
    """Whether an existing README.md is one mat2torch wrote (and may replace)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline().rstrip("\n") == MARKER
    except OSError:
        return False
