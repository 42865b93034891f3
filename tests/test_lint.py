"""House habits, enforced: ruff and black on the project's code, mypy on codegen/."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

SOURCES = ["codegen", "tests", "scripts", "examples"]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", *SOURCES],
        ["black", "--check", "--quiet", *SOURCES],
        ["mypy", "codegen"],
    ],
    ids=["ruff", "black", "mypy"],
)
def test_linters_pass(command: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", *command], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
