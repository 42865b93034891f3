"""A bounded, deterministic subset of scripts/fuzz.py: damaged and crafted versions of
the shipped example and of small written networks give a clean conversion or a one-line
error, never a traceback, a crash, a hang or partial output."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

pytestmark = [
    pytest.mark.filterwarnings("ignore"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork"),
]


def _fuzz_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mat2torch_fuzz", REPO / "scripts" / "fuzz.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_thirty_fuzzed_inputs_are_clean() -> None:
    fuzz = _fuzz_module()
    counts = fuzz.fuzz(30, seed=12, corpus=None, timeout=120.0)
    assert sum(counts.values()) == 30
    bad = {k: counts[k] for k in ("traceback", "signal", "hang", "partial")}
    assert bad == {"traceback": 0, "signal": 0, "hang": 0, "partial": 0}, counts
    assert counts["error"] > 0  # the mutations do damage the files


def test_cases_are_deterministic(tmp_path: Path) -> None:
    fuzz = _fuzz_module()
    files = {"tiny_cnn.mat": (REPO / "examples" / "tiny_cnn.mat").read_bytes()}
    first = [(c.mutation, c.detail, c.data) for c in fuzz.cases(files, 5, 12, tmp_path)]
    again = [(c.mutation, c.detail, c.data) for c in fuzz.cases(files, 5, 12, tmp_path)]
    assert first == again
    assert len({m for m, _, _ in first}) > 2
    assert any(d != files["tiny_cnn.mat"] for m, _, d in first if m != "type-swap")


def test_a_traceback_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harness can see failures: a converter that raises is counted as a traceback."""
    fuzz = _fuzz_module()

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(fuzz.api, "convert", broken)
    case = fuzz.Case(
        0, "tiny_cnn.mat", "none", "", (REPO / "examples" / "tiny_cnn.mat").read_bytes()
    )
    outcome, detail = fuzz.run_case(case, tmp_path, 60.0)
    assert outcome == "traceback" and "KeyError" in detail
