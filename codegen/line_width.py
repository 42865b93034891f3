"""Keep the comments and docstrings of a generated file within black's 88 columns.

black shortens code lines but never touches comments or docstrings, and text from the
templates gets longer once it is indented inside a class or filled in with names from
the file. After black, this pass rewraps, within 88 columns:

* each full-line comment that is too long, into several comment lines at its indent;
* a trailing comment that makes its line too long, moved above the line first;
* each docstring paragraph holding a line that is too long (paragraphs end at blank
  lines, list items and changes of indent); other paragraphs keep their line breaks.

Words longer than a whole line (a sha256, say) are never split: they stand alone on
their line, which may then exceed 88 columns; so does a ``# MATLAB layer '...'`` comment
holding a very long MATLAB name, kept whole on its line.
"""

from __future__ import annotations

import io
import re
import textwrap
import tokenize

WIDTH = 88
_ITEM = re.compile(r"^(\s*)([-*] |\d+\. )")


# Short bracketed groups ("(N, T, C)", "[125 125 3]") and "name = value" stay on one line.
_GROUP = r"\([^()]{1,30}\)|\[[^\[\]]{1,30}\]"
_KEEP = re.compile(rf"\S+ = (?:{_GROUP}|\S+)|{_GROUP}")
_GLUE = "\x00"


def _wrap(text: str, first: str, rest: str) -> list[str]:
    glued = _KEEP.sub(lambda m: m.group(0).replace(" ", _GLUE), text)
    lines = textwrap.wrap(
        glued,
        width=WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(_GLUE, " ") for line in lines]


# The comment naming a layer's original MATLAB name stays one line, however long: it is
# how a reader (or a script) maps the attribute back to the MATLAB layer.
_NAME_COMMENT = "# MATLAB layer "


def _wrap_comment(line: str) -> list[str]:
    indent = line[: len(line) - len(line.lstrip())]
    if line.lstrip().startswith(_NAME_COMMENT):
        return [line]
    text = line.lstrip()[1:].strip()
    return _wrap(text, indent + "# ", indent + "# ") or [line]


def _paragraphs(lines: list[str]) -> list[list[str]]:
    """Blank lines, list items and indent changes start a new paragraph."""
    groups: list[list[str]] = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        previous = groups[-1] if groups else None
        starts = (
            previous is None
            or not line.strip()
            or not previous[-1].strip()
            or _ITEM.match(line) is not None
            or (
                indent != len(previous[-1]) - len(previous[-1].lstrip())
                and not (
                    _ITEM.match(previous[0])
                    and indent == len(_ITEM.match(previous[0]).group(0))  # type: ignore[union-attr]
                )
            )
        )
        if starts:
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def _rewrap_paragraph(group: list[str]) -> list[str]:
    if all(len(line) <= WIDTH for line in group) or not group[0].strip():
        return group
    item = _ITEM.match(group[0])
    first = (
        item.group(0) if item else group[0][: len(group[0]) - len(group[0].lstrip())]
    )
    rest = " " * len(first)
    text = " ".join(line.strip() for line in group)
    if item:
        text = text[len(item.group(2)) :]
    return _wrap(text, first, rest) or group


def _wrap_docstring(lines: list[str]) -> list[str]:
    """Lines of one docstring (the first holds the opening quotes, the last the closing)."""
    if all(len(line) <= WIDTH for line in lines):
        return lines
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    quotes = lines[0].lstrip()[:3]
    body = list(lines)
    closing = body[-1].rstrip().endswith(quotes) and (len(body) > 1 or len(body[0]) > 6)
    if closing:
        body[-1] = body[-1].rstrip()[:-3]
    out: list[str] = []
    for group in _paragraphs(body):
        out += _rewrap_paragraph(group)
    while len(out) > 1 and not out[-1].strip():
        out.pop()
    if closing:
        if len(out) > 1 or len(out[-1]) + 3 > WIDTH:
            out.append(indent + quotes)
        else:
            out[-1] += quotes
    return out


def _docstring_spans(source: str) -> list[tuple[int, int]]:
    """(first, last) 0-based line numbers of each triple-quoted string statement."""
    spans = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.STRING or not tok.string.startswith(('"""', "'''")):
            continue
        before = tokens[i - 1].type if i else tokenize.NEWLINE
        after = tokens[i + 1].type if i + 1 < len(tokens) else tokenize.NEWLINE
        if before in (
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.NEWLINE,
            tokenize.NL,
            tokenize.COMMENT,
        ) and after in (tokenize.NEWLINE, tokenize.ENDMARKER):
            spans.append((tok.start[0] - 1, tok.end[0] - 1))
    return spans


def _trailing_comments(source: str) -> dict[int, int]:
    """0-based line → column where a comment after code starts."""
    found: dict[int, int] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            line = tok.line[: tok.start[1]]
            if line.strip():
                found[tok.start[0] - 1] = tok.start[1]
    return found


def wrap_text(source: str) -> str:
    """``source`` with its comments and docstrings wrapped within 88 columns."""
    lines = source.split("\n")
    spans = {first: last for first, last in _docstring_spans(source)}
    trailing = _trailing_comments(source)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i in spans:
            out += _wrap_docstring(lines[i : spans[i] + 1])
            i = spans[i] + 1
            continue
        pragma = i in trailing and line[trailing[i] :].startswith(("# type:", "# noqa"))
        if len(line) > WIDTH and i in trailing and not pragma:
            code, comment = line[: trailing[i]].rstrip(), line[trailing[i] :]
            indent = code[: len(code) - len(code.lstrip())]
            out += [*_wrap_comment(indent + comment), code]
        elif len(line) > WIDTH and line.lstrip().startswith("#"):
            out += _wrap_comment(line)
        else:
            out.append(line)
        i += 1
    return "\n".join(out)
