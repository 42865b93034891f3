"""Which variable each forward line writes, and when a value is dropped.

A hand-written port reads ``x = self.conv1(x)``: each activation is freed as soon as the
next layer has read it. Binding every layer's output to its own local instead keeps all
of them alive until ``forward`` returns — ten times the peak memory of a deep CNN. So a
value read only by the very next line flows through one reused variable (the "chain"
variable, normally ``x``); a value needed later (a skip connection, a secondary output of
a multi-output layer) keeps its layer name and is deleted after its last use; graph
outputs keep their layer names so that ``return`` says where they come from.

A final softmax on a graph output is not part of ``forward``: ``forward`` returns the
scores before it (what ``nn.CrossEntropyLoss`` expects) and ``predict`` applies it, which
gives what MATLAB's ``predict`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen.ir import Graph, Node


@dataclass(frozen=True)
class Value:
    """One tensor forward computes: ``producer`` is the index of its node in graph.nodes
    (None for a forward argument); ``name`` is the MATLAB name ("layer" or "layer/port").
    """

    producer: int | None
    name: str


@dataclass
class Line:
    """One emitted layer: the values it reads and the values it writes (one per port)."""

    node: Node
    args: list[Value]
    results: list[Value]


@dataclass
class ForwardPlan:
    lines: list[Line]
    outputs: list[Value]  # what forward returns, in OutputNames order
    heads: list[Node | None]  # per output: the final softmax predict applies, if any
    chained: set[Value] = field(default_factory=set)
    dead_after: dict[int, list[Value]] = field(default_factory=dict)  # line → del


def final_softmaxes(graph: Graph) -> set[str]:
    """Names of softmax layers that are graph outputs and feed nothing else."""
    names = set()
    for output in graph.outputs:
        if "/" in output:
            continue
        node = graph.node(output)
        if (
            node.op == "softmax"
            and len(node.inputs) == 1
            and not node.attrs.get("output_ports")
            and not graph.consumers(node.name)
        ):
            names.add(node.name)
    return names


def plan_forward(
    graph: Graph, aliases: dict[str, int], lean: bool = True
) -> ForwardPlan:
    """``aliases``: layers whose forward expression is one of their inputs (no line of
    their own), mapped to that input's position. ``lean=False`` keeps every value under
    its layer's name until forward returns (what ``verify`` runs to compare each layer).
    """
    heads = final_softmaxes(graph)
    current = {gi.name: Value(None, gi.name) for gi in graph.inputs}
    head_inputs: dict[str, Value] = {}
    lines: list[Line] = []
    for index, node in enumerate(graph.nodes):
        args = [current[src] for src in node.inputs]
        if node.name in aliases:
            current[node.name] = args[aliases[node.name]]
            continue
        if node.name in heads:
            head_inputs[node.name] = args[0]
            continue
        ports = list(node.attrs.get("output_ports") or ())
        results = [Value(index, node.name)]
        results += [Value(index, f"{node.name}/{port}") for port in ports[1:]]
        for value in results:
            current[value.name] = value
        lines.append(Line(node, args, results))

    outputs = [head_inputs.get(o) or current[o] for o in graph.outputs]
    plan = ForwardPlan(
        lines=lines,
        outputs=outputs,
        heads=[graph.node(o) if o in heads else None for o in graph.outputs],
    )
    uses: dict[Value, list[int]] = {}
    for index, line in enumerate(lines):
        for value in line.args:
            uses.setdefault(value, []).append(index)
    if not lean:
        return plan
    returned = set(outputs)
    for index, line in enumerate(lines):
        value = line.results[0]
        readers = uses.get(value)
        if (
            len(line.results) == 1
            and value not in returned
            and readers
            and all(reader == index + 1 for reader in readers)
        ):
            plan.chained.add(value)
    for value, readers in uses.items():
        if value.producer is None or value in returned or value in plan.chained:
            continue
        plan.dead_after.setdefault(max(readers), []).append(value)
    for values in plan.dead_after.values():
        values.sort(key=lambda v: (v.producer, v.name))
    return plan
