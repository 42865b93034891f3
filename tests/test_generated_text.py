"""Generated files read well in review: no line over black's 88 columns (comments and
docstrings included, which black leaves alone) and no comment that merely repeats its
line.

A comment *repeats* its line when every word in it, apart from the words "MATLAB" and
"layer", is a word of the identifiers on the code line it annotates (the line it ends,
or the next code line for a comment on a line of its own), comparing lowercase words
split at underscores and any other non-alphanumeric character. ``# MATLAB layer
'conv-1'`` above ``self.conv_1 = nn.Conv2d(...)`` repeats; ``# MATLAB layer '1x1'``
above ``self.layer_1x1 = ...`` does too; ``# MATLAB normalizes over channels`` does
not.

Checked on every generated_examples/*/model.py and on corpus networks converted afresh.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from codegen import api
from codegen.line_width import wrap_text
from tests.conftest import REPO, corpus_file

EXAMPLES = sorted((REPO / "generated_examples").glob("*/model.py"))
# (folder, file, variable)
FRESH = [
    ("dltoolbox", "arfrns_TrainedNet.mat", None),
    ("dltoolbox", "ibpinn_net.mat", None),
    ("dltoolbox", "specsense_trainedNet.mat", None),
    ("dltoolbox", "vikas_net.mat", "net"),
    ("dltoolbox", "korniarp_lgraph.mat", "mygraph"),
]
BOILERPLATE = {"matlab", "layer"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def repeating_comments(source: str) -> list[str]:
    """Comments whose words are all words of their code line's identifiers."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    names_by_line: dict[int, set[str]] = {}
    for tok in tokens:
        if tok.type == tokenize.NAME:
            names_by_line.setdefault(tok.start[0], set()).update(_words(tok.string))
    code_lines = sorted(names_by_line)
    # A comment wrapped over several lines is one comment: a line continues the one
    # above when that one had no room left for its first word.
    comments: list[tuple[int, str]] = []
    previous: tokenize.TokenInfo | None = None
    for tok in (t for t in tokens if t.type == tokenize.COMMENT):
        first = (tok.string[1:].split() or [""])[0]
        if (
            previous is not None
            and previous.start == (tok.start[0] - 1, tok.start[1])
            and len(previous.line.rstrip("\n")) + 1 + len(first) > 88
        ):
            comments[-1] = (tok.start[0], comments[-1][1] + " " + tok.string[1:])
        else:
            comments.append((tok.start[0], tok.string))
        previous = tok
    found = []
    for row, text in comments:
        line = source.splitlines()[row - 1]
        if not line[: line.index("#")].strip():  # on a line of its own: the next code
            row = next((r for r in code_lines if r > row), row)
        words = _words(text) - BOILERPLATE
        if words and words <= names_by_line.get(row, set()):
            found.append(f"{row}: {text}")
    return found


def too_long(source: str) -> list[str]:
    return [
        f"{i}: ({len(line)}) {line}"
        for i, line in enumerate(source.splitlines(), 1)
        if len(line) > 88
    ]


@pytest.fixture(scope="module", params=FRESH, ids=lambda p: p[1])
def fresh_source(request: pytest.FixtureRequest) -> str:
    folder, name, variable = request.param
    return api.convert_file(corpus_file(folder, name), variable).source


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_fit_88_columns_and_comments_add_something(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert not too_long(source)
    assert not repeating_comments(source)


def test_fresh_conversions_fit_88_columns_and_comments_add_something(
    fresh_source: str,
) -> None:
    assert not too_long(fresh_source)
    assert not repeating_comments(fresh_source)


def test_the_checks_can_fail() -> None:
    source = (
        "class A:\n"
        "    def f(self) -> None:\n"
        "        # MATLAB layer 'conv-1'\n"
        "        self.conv_1 = 1  # conv 1\n"
        "        # MATLAB layer '1conv'\n"
        "        self.layer_1conv = 2  # MATLAB normalizes over channels\n"
        f"        # {'word ' * 20}\n"
    )
    assert [c.split(": ", 1)[1] for c in repeating_comments(source)] == [
        "# MATLAB layer 'conv-1'",
        "# conv 1",
        "# MATLAB layer '1conv'",
    ]
    assert [line.split(":")[0] for line in too_long(source)] == ["7"]


def test_wrapping_keeps_every_word_and_is_stable() -> None:
    comment = "    # " + " ".join(f"word{i}" for i in range(40))
    doc = '    """' + " ".join(f"text{i}" for i in range(40)) + '."""'
    source = f"def f() -> None:\n{doc}\n{comment}\n    return None\n"
    wrapped = wrap_text(source)
    assert not too_long(wrapped)
    assert wrap_text(wrapped) == wrapped
    for i in range(40):
        assert f"word{i}" in wrapped and f"text{i}" in wrapped
    # Short bracketed groups and `name = value` stay whole.
    text = "    # " + "x " * 35 + "shape (N, T, C) and bias_hh = 0 end"
    assert "(N, T, C)" in wrap_text(text) and "bias_hh = 0" in wrap_text(text)


def test_a_long_call_with_a_subscript_becomes_two_statements() -> None:
    """black would split ``up = self.up(...)[...]`` into a lone ``[``, items and ``]``."""
    from codegen.emit import _assignment

    expr = "self.Decoder_Stage_1_UpConv(Decoder_Stage_1_ReLU_2)[:, :, 1:-1, 1:-1]"
    assert _assignment("Decoder_Stage_1_UpConv", expr) == [
        "Decoder_Stage_1_UpConv = self.Decoder_Stage_1_UpConv(Decoder_Stage_1_ReLU_2)",
        "Decoder_Stage_1_UpConv = Decoder_Stage_1_UpConv[:, :, 1:-1, 1:-1]",
    ]
    assert _assignment("up", "self.up(x)[:, :, 1:]") == ["up = self.up(x)[:, :, 1:]"]
