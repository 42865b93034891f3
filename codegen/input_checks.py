"""The checks at the top of a generated ``forward``: misuse gets one clear ValueError.

Without them, a wrong input fails deep inside PyTorch (``index out of range in self``
for a sequence longer than a position embedding, ``'list' object has no attribute
'cpu'`` for lengths passed as a list). Each check is an ``if``/``raise`` whose message
says what was expected and what came; all of them compile with torch.jit.script and
export with torch.export (shape tests on static dimensions, data tests on ``lengths``
only when it is given).

Names in the checks are the forward's own arguments (legalised identifiers) and numbers:
nothing from the file reaches the generated code as text.
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen.ir import FEATURE, IMAGE, IMAGE_SEQUENCE, SEQUENCE, VOLUME, Graph

# Batch-first dimensions of each layout; the channels follow N (and T).
_DIMS = {
    IMAGE: ("N", "C", "H", "W"),
    FEATURE: ("N", "C"),
    SEQUENCE: ("N", "T", "C"),
    VOLUME: ("N", "C", "D", "H", "W"),
    IMAGE_SEQUENCE: ("N", "T", "C", "H", "W"),
}
# Layers that change the number of time steps: T at the input says nothing after them.
_TIME_CHANGING = ("conv1d", "conv_transpose1d", "max_pool1d", "avg_pool1d")


# Room for a message literal in ``raise ValueError(...)`` once black has split it.
_MESSAGE_WIDTH = 88 - 16 - 3


def _literal(text: str) -> str:
    """An f-string literal when ``text`` has {expressions}, else a plain one."""
    return f'f"{text}"' if "{" in text else f'"{text}"'


@dataclass(frozen=True)
class Check:
    condition: str
    # f-string bodies ({expressions} allowed, no quotes), joined into one message.
    message: tuple[str, ...]

    def lines(self) -> list[str]:
        whole = "".join(self.message)
        if len(whole) <= _MESSAGE_WIDTH:
            text = _literal(whole)
        else:
            text = " ".join(_literal(part) for part in self.message)
        return [f"if {self.condition}:", f"    raise ValueError({text})"]


def _input_check(ident: str, layout: str, channels: int | None) -> Check:
    dims = list(_DIMS[layout])
    axis = dims.index("C")
    if channels is not None:
        dims[axis] = str(channels)
    wanted = f"({', '.join(dims)})"
    condition = f"{ident}.dim() != {len(dims)}"
    if channels is not None:
        condition += f" or {ident}.shape[{axis}] != {channels}"
    return Check(
        condition,
        (f"{ident}: expected a tensor {wanted}, ", f"got {{list({ident}.shape)}}"),
    )


def forward_checks(graph: Graph) -> list[str]:
    """Source lines (before black) for the top of ``forward``."""
    checks = [
        _input_check(gi.ident, gi.info.layout, gi.info.shape[0])
        for gi in graph.inputs
        if gi.info.layout in _DIMS
    ]
    timed = [
        gi.ident for gi in graph.inputs if gi.info.layout in (SEQUENCE, IMAGE_SEQUENCE)
    ]
    lines = [line for check in checks for line in check.lines()]
    if timed and any(n.attrs.get("uses_lengths") for n in graph.nodes):
        lines.append(f"check_lengths(lengths, {timed[0]})")
    if len(timed) == 1 and not any(n.op in _TIME_CHANGING for n in graph.nodes):
        for node in graph.nodes:
            if node.op == "position_embedding":
                limit = int(node.attrs["max_position"])
                check = Check(
                    f"{timed[0]}.shape[1] > {limit}",
                    (
                        f"{timed[0]}: {{{timed[0]}.shape[1]}} time steps, more than ",
                        f"the {limit} positions {node.ident} embeds",
                    ),
                )
                lines += check.lines()
    return lines
