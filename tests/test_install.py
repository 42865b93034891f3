"""The installed (non-editable) package works from anywhere, templates included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_installed_console_script_converts_the_shipped_example(tmp_path: Path) -> None:
    script = Path(sys.prefix) / "bin" / "mat2torch"
    assert (
        script.exists()
    ), "mat2torch is not installed here; set up with `bash scripts/setup.sh test`"
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import codegen.emit as e; print(e.__file__); print(e.templates_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    module_file, templates = probe.stdout.split("\n")[:2]
    assert "site-packages" in module_file and "site-packages" in templates, probe.stdout
    proc = subprocess.run(
        [
            str(script),
            "convert",
            str(REPO / "examples" / "tiny_cnn.mat"),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "model.py").read_text() == (
        REPO / "generated_examples" / "tiny_cnn" / "model.py"
    ).read_text()


def test_every_package_is_listed_for_the_wheel() -> None:
    """A package missing from pyproject's list silently drops out of a non-editable install."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "codegen").rglob("__init__.py")
    }
    found |= {"codegen.templates", "codegen.templates.layers"}
    assert found == listed
