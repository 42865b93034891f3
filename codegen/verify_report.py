"""What `mat2torch verify` compares and how it reports it: MATLAB ↔ PyTorch layouts,
the tolerance rule, the table, and the exit status (0 agree, 1 differ, 2 cannot run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codegen.errors import ConversionError
from codegen.ir import FEATURE, IMAGE, IMAGE_SEQUENCE, SEQUENCE, VOLUME

DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-6


class VerifyError(ConversionError):
    """The comparison cannot run (missing variables, untrained network, ...): exit 2."""


# --- layouts -------------------------------------------------------------------------

_TO_TORCH = {  # MATLAB dims → PyTorch dims, for a full-rank array
    IMAGE: (3, 2, 0, 1),
    FEATURE: (1, 0),
    SEQUENCE: (1, 2, 0),
    VOLUME: (4, 3, 2, 0, 1),
    IMAGE_SEQUENCE: (3, 4, 2, 0, 1),
}
_RANK = {IMAGE: 4, FEATURE: 2, SEQUENCE: 3, VOLUME: 5, IMAGE_SEQUENCE: 5}


def matlab_to_torch(array: np.ndarray, layout: str) -> np.ndarray:
    """A MATLAB-layout input (trailing singleton dimensions possibly dropped) as the
    generated model takes it. One sequence may be C×T, one image sequence H×W×C×T."""
    x = np.asarray(array, dtype=np.float32)
    if layout == SEQUENCE and x.ndim == 2:
        return np.ascontiguousarray(x.T[None])
    if layout == IMAGE_SEQUENCE and x.ndim == 4:
        return np.ascontiguousarray(x.transpose(3, 2, 0, 1)[None])
    if layout == FEATURE and x.ndim == 1:
        x = x[:, None]
    while x.ndim < _RANK[layout]:
        x = x[..., None]
    return np.ascontiguousarray(x.transpose(_TO_TORCH[layout]))


def torch_to_matlab(array: np.ndarray, layout: str | None) -> np.ndarray:
    """A PyTorch-layout value as MATLAB holds it (layout told by the rank when unknown)."""
    a = np.asarray(array, dtype=np.float64)
    if layout is None or _RANK[layout] != a.ndim:
        layout = {2: FEATURE, 3: SEQUENCE, 4: IMAGE, 5: layout or VOLUME}.get(a.ndim)
        if layout is None:
            return a
    return a.transpose(np.argsort(_TO_TORCH[layout]))


def _squeeze(a: np.ndarray) -> np.ndarray:
    return a.reshape([d for d in a.shape if d != 1])


# --- comparison ----------------------------------------------------------------------


@dataclass
class Row:
    kind: str  # "output" or "layer"
    name: str  # MATLAB name
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    passed: bool
    note: str = ""


@dataclass
class Report:
    title: str
    rows: list[Row] = field(default_factory=list)
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def first_divergence(self) -> str | None:
        for r in self.rows:
            if r.kind == "layer" and not r.passed:
                return r.name
        return None

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def compare(
    kind: str,
    name: str,
    actual: np.ndarray,
    expected: np.ndarray,
    rtol: float,
    atol: float,
    rows_first: bool = False,
) -> Row:
    """Pass when max|actual − expected| ≤ atol + rtol·max|expected|.

    Singleton dimensions are ignored (MATLAB drops trailing ones; a fully connected layer
    in an image network gives 1×1×C×N); a 2-D value may be N×C (``predict`` of a
    SeriesNetwork or DAGNetwork returns scores one observation per row): ``rows_first``
    tries that arrangement first.
    """
    e = _squeeze(np.asarray(expected, dtype=np.float64))
    a = _squeeze(np.asarray(actual, dtype=np.float64))
    candidates = [a, a.T] if a.ndim == 2 else [a]
    if rows_first:
        candidates.reverse()
    match = next((c for c in candidates if c.shape == e.shape), None)
    if match is None:
        return Row(
            kind,
            name,
            tuple(np.shape(expected)),
            float("nan"),
            float("nan"),
            False,
            f"shape {tuple(np.shape(actual))} (MATLAB layout) does not match the reference "
            f"{tuple(np.shape(expected))}",
        )
    if e.size == 0:
        return Row(kind, name, tuple(np.shape(expected)), 0.0, 0.0, True)
    diff = np.abs(match - e)
    max_abs = float(np.nan_to_num(diff, nan=np.inf).max())
    scale = float(np.abs(e).max())
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else np.inf)
    ok = bool(max_abs <= atol + rtol * scale)
    return Row(kind, name, tuple(np.shape(expected)), max_abs, max_rel, ok)


def format_report(report: Report) -> str:
    header = (
        "compared",
        "MATLAB name",
        "shape (MATLAB)",
        "max abs err",
        "max rel err",
        "",
    )
    lines = [report.title, ""]
    table = [header]
    for r in report.rows:
        table.append(
            (
                r.kind,
                r.name,
                "×".join(str(d) for d in r.shape) or "scalar",
                f"{r.max_abs:.3g}",
                f"{r.max_rel:.3g}",
                ("pass" if r.passed else "FAIL") + (f"  {r.note}" if r.note else ""),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.append("")
    lines.append(
        f"tolerance: max abs err <= {report.atol:g} + {report.rtol:g} × max |reference|"
    )
    lines += report.notes
    first = report.first_divergence
    if first is not None:
        lines.append(f"first layer where they diverge: {first!r}")
    if report.passed:
        lines.append(f"PASS: {len(report.rows)} comparisons agree.")
    else:
        failed = sum(not r.passed for r in report.rows)
        lines.append(f"FAIL: {failed} of {len(report.rows)} comparisons disagree.")
    return "\n".join(lines)
