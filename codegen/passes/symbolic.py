"""Sizes as formulas of an unknown input size, for docstrings: ``2H``, ``ceil(W/2)``.

Every size rule of the layers mat2torch converts (padded, strided, dilated windows,
MatConvNet's upsampling transposed convolution, crops, depth/space rearrangements) is
an integer function of the input size of the form floor((p·H + r)/q), and so are their
compositions as long as no upsampling follows a rounding down. Given the output size
measured for many input sizes, :func:`fit_dimension` finds the one such formula that
reproduces every measurement, or gives up ("?") rather than guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

# Probe sizes: far from the small sizes where a window would not fit, and a step that
# every divisor q the layers make (products of strides 2, 3, 4, 5, up to 64) divides, so
# two probes a step apart give the exact slope p/q; then q consecutive sizes pin r.
BASE_H = 4096
BASE_W = 6144
STEP = 2**6 * 3**3 * 5**2
MAX_DIVISOR = 64


def first_probes() -> list[tuple[int, int]]:
    """Two input (H, W) sizes a STEP apart; H and W differ, so the two never get confused."""
    return [(BASE_H, BASE_W), (BASE_H + STEP, BASE_W + STEP)]


def divisor(first: int | None, second: int | None) -> int | None:
    """q of the slope measured by :func:`first_probes` (None: no formula of that form)."""
    if first is None or second is None:
        return None
    q = Fraction(second - first, STEP).denominator
    return q if q <= MAX_DIVISOR else None


def more_probes(q: int) -> list[tuple[int, int]]:
    """The sizes after the first that, with it, make q consecutive ones."""
    return [(BASE_H + k, BASE_W + k) for k in range(1, q)]


def fit_dimension(ins: Sequence[int], outs: Sequence[int | None], symbol: str) -> str:
    """The formula floor((p·symbol + r)/q) that gives ``outs`` from ``ins``, as text; "?" if none."""
    if len(ins) < 2 or any(o is None for o in outs):
        return "?"
    values = [int(o) for o in outs]  # type: ignore[arg-type]
    slope = Fraction(values[-1] - values[0], ins[-1] - ins[0])
    p, q = slope.numerator, slope.denominator
    if p <= 0 or q > MAX_DIVISOR:
        return "?"
    low = q * values[0] - p * ins[0]  # floor((p·x0 + r)/q) = y0  ⇔  r ∈ [low, low + q)
    for r in range(low, low + q):
        if all((p * x + r) // q == y for x, y in zip(ins, values, strict=True)):
            return _text(p, q, r, symbol)
    return "?"


def _text(p: int, q: int, r: int, symbol: str) -> str:
    term = symbol if p == 1 else f"{p}{symbol}"
    if q == 1:
        return term if r == 0 else f"{term} + {r}" if r > 0 else f"{term} - {-r}"
    if r == 0:
        return f"floor({term}/{q})"
    if r == q - 1:
        return f"ceil({term}/{q})"
    whole, rest = divmod(r, q)  # floor((pH + r)/q) = floor((pH + rest)/q) + whole
    inner = f"floor(({term} + {rest})/{q})" if rest else f"floor({term}/{q})"
    if rest == q - 1:
        inner = f"ceil({term}/{q})"
    if whole == 0:
        return inner
    return f"{inner} + {whole}" if whole > 0 else f"{inner} - {-whole}"
