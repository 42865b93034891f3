"""Shared test helpers: where the real corpus lives, and how to run a generated model."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DLT = CORPUS / "dltoolbox"
MCN = CORPUS / "matconvnet"


def corpus_file(*parts: str) -> Path:
    """A real MATLAB-saved file from ../shared/corpus (skips only if the corpus is absent)."""
    path = CORPUS.joinpath(*parts)
    if not CORPUS.is_dir():
        pytest.skip(f"the real-network corpus is not present at {CORPUS}")
    assert path.is_file(), f"corpus file missing: {path}"
    return path


def import_generated(directory: Path) -> ModuleType:
    """Import directory/model.py as a fresh module (never from this project's packages)."""
    name = f"generated_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, directory / "model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def convert_and_load(mat_path: Path, out_dir: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    """Convert with the public API, import the generated file, load weights strictly."""
    from codegen.api import convert

    convert(mat_path, out_dir, **kwargs)  # type: ignore[arg-type]
    module = import_generated(out_dir)
    return module, module.load_model(out_dir / "model.safetensors")
