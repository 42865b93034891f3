"""Every file in the real corpus: each network found converts, or fails with one sentence.

Not an accuracy check (the per-network tests do that against MATLAB's oracles); this
guards against tracebacks, half-written output and multi-line errors on any real file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codegen import api
from codegen.errors import ConversionError
from codegen.readers import mat
from tests.conftest import CORPUS

FILES = sorted(CORPUS.glob("*/*.mat")) if CORPUS.is_dir() else []


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_network_converts_or_fails_in_one_sentence(path: Path) -> None:
    report = api.inspect_file(path)  # must not raise for any real file
    assert report["file"] == path.name
    for found in mat.find_networks(mat.load(path).variables):
        try:
            result = api.convert_file(path, variable=found.path)
        except ConversionError as exc:
            message = str(exc)
            assert "\n" not in message and path.name in message, message
            continue
        ast.parse(result.source)
        assert result.graph.nodes


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 20, f"expected the real corpus at {CORPUS}"
