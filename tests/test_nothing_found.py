"""A file with no convertible network: the error names what the file holds and why none
of it is a network this release converts (real files from ../shared/corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen import api, cli
from codegen.errors import ConversionError
from tests.conftest import corpus_file


def test_data_only_file_says_what_it_found() -> None:
    path = corpus_file("shallow", "autoenc_cheo__data.mat")
    with pytest.raises(ConversionError) as err:
        api.convert_file(path)
    text = str(err.value)
    assert "'NData' (double 6000×79)" in text and "save('net.mat','net')" in text
    assert "shallow network objects" in text


def test_data_and_cell_only_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["inspect", str(corpus_file("shallow", "ocr__A.mat"))]) == 0
    assert "'A' (double 256×1000)" in capsys.readouterr().out
    classes = corpus_file("dltoolbox", "fuma28_classes.mat")
    code = cli.main(["convert", str(classes), "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "'classes' (cell 8×1)" in err
    assert len(err.strip().splitlines()) == 1
