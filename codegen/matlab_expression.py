"""A parser for MATLAB anonymous functions' expression grammar: text → syntax tree.

Used on FunctionLayer text read from a file, so it only ever parses: a regular-
expression tokenizer (numbers, names, operators; anything else — quotes, brackets,
semicolons, ``!``, ``%`` — is an error) and a precedence-climbing parser that builds
plain dicts. It accepts one parameter (``@(X) expr``), numbers, the parameter, calls of
the names it is given, and the operators below; what a tree means is decided elsewhere.

MATLAB precedence, highest first: parentheses; power ``.^ ^`` (left-associative; an
exponent may carry a unary sign, ``2^-X``); unary ``+ -``; ``.* ./ * /``; ``+ -``;
comparisons ``< <= > >= == ~=``. A dot before an operator belongs to the operator
(``2.^X`` is ``2 .^ X``), as in MATLAB.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any


class Untranslatable(ValueError):
    """The function is not an elementwise expression this translator accepts."""


# --- tokens --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t]+)
  | (?P<number>(?:\d+(?:\.(?![*/^\\'])\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z][A-Za-z0-9_]*)
  | (?P<op>\.\*|\./|\.\^|<=|>=|==|~=|[-+*/^<>(),@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # number, name, op, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise Untranslatable(f"unexpected character {text[pos]!r} at {pos + 1}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", pos))
    return tokens


# --- syntax tree ---------------------------------------------------------------------
# Nodes are dicts: {"kind": "num", "value": float} | {"kind": "param"} |
# {"kind": "neg", "arg": node} | {"kind": "bin", "op": "+", "left": .., "right": ..} |
# {"kind": "cmp", "op": "<", ...} | {"kind": "call", "func": "exp", "args": [..]}.

_BINARY = {  # token → (precedence, kind)
    "<": (1, "cmp"),
    "<=": (1, "cmp"),
    ">": (1, "cmp"),
    ">=": (1, "cmp"),
    "==": (1, "cmp"),
    "~=": (1, "cmp"),
    "+": (2, "bin"),
    "-": (2, "bin"),
    ".*": (3, "bin"),
    "./": (3, "bin"),
    "*": (3, "bin"),
    "/": (3, "bin"),
    ".^": (5, "bin"),
    "^": (5, "bin"),
}
_UNARY_PRECEDENCE = 4


class Parser:
    """Precedence climbing over MATLAB's operator table (all binary operators are
    left-associative in MATLAB, power included)."""

    def __init__(self, text: str, functions: Collection[str]) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.param = ""
        self.functions = frozenset(functions)  # names that may be called

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, text: str | None = None) -> Token:
        token = self.tokens[self.i]
        if text is not None and token.text != text:
            raise Untranslatable(
                f"expected {text!r} at {token.pos + 1}, found {token.text or 'the end'!r}"
            )
        self.i += 1
        return token

    def function(self) -> dict[str, Any]:
        """``@(param) expression``: one parameter, the whole text."""
        self.take("@")
        self.take("(")
        name = self.take()
        if name.kind != "name":
            raise Untranslatable("the function must take exactly one named input")
        self.param = name.text
        self.take(")")
        tree = self.expression(0)
        if self.peek().kind != "end":
            raise Untranslatable(
                f"unexpected {self.peek().text!r} at {self.peek().pos + 1}"
            )
        return tree

    def expression(self, min_precedence: int) -> dict[str, Any]:
        left = self.unary() if min_precedence <= _UNARY_PRECEDENCE else self.primary()
        while True:
            token = self.peek()
            found = _BINARY.get(token.text) if token.kind == "op" else None
            if found is None or found[0] < min_precedence:
                return left
            precedence, kind = found
            self.take()
            if precedence == 5:  # an exponent may carry a sign: 2^-X
                right = self.power_operand()
            else:
                right = self.expression(precedence + 1)
            left = {"kind": kind, "op": token.text, "left": left, "right": right}

    def power_operand(self) -> dict[str, Any]:
        if self.peek().text in ("-", "+"):
            sign = self.take().text
            arg = self.power_operand()
            return {"kind": "neg", "arg": arg} if sign == "-" else arg
        return self.primary()

    def unary(self) -> dict[str, Any]:
        if self.peek().text in ("-", "+"):
            sign = self.take().text
            arg = self.expression(_UNARY_PRECEDENCE)
            return {"kind": "neg", "arg": arg} if sign == "-" else arg
        return self.expression(_UNARY_PRECEDENCE + 1)

    def primary(self) -> dict[str, Any]:
        token = self.take()
        if token.kind == "number":
            return {"kind": "num", "value": float(token.text)}
        if token.text == "(":
            inner = self.expression(0)
            self.take(")")
            return inner
        if token.kind == "name":
            if token.text == self.param:
                if self.peek().text == "(":
                    raise Untranslatable(f"indexing into {self.param!r}")
                return {"kind": "param"}
            if token.text in self.functions:
                self.take("(")
                args = [self.expression(0)]
                while self.peek().text == ",":
                    self.take(",")
                    args.append(self.expression(0))
                self.take(")")
                return {"kind": "call", "func": token.text, "args": args}
            raise Untranslatable(
                f"{token.text!r} is neither the input {self.param!r} nor a supported "
                "function"
            )
        raise Untranslatable(f"unexpected {token.text or 'end'!r} at {token.pos + 1}")


def parse(text: str, functions: Collection[str]) -> dict[str, Any]:
    """The syntax tree of ``@(param) expression``; Untranslatable when it is not one."""
    return Parser(text.strip(), functions).function()
