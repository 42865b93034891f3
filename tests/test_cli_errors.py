"""The command line on inputs and outputs that are not what it expects: one line on
stderr, the right exit code, nothing written, and a traceback only with --debug."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from codegen import api, cli

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "examples" / "tiny_cnn.mat"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    return code, err


def test_a_directory_as_input_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(capsys, "convert", str(tmp_path), "-o", str(tmp_path / "out"))
    assert code == 2
    assert "is a directory" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_pipe_as_input_is_refused_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "net.mat"
    os.mkfifo(fifo)
    code, err = run(capsys, "inspect", str(fifo))
    assert code == 2
    assert "not a regular file" in err


@pytest.mark.parametrize("kind", ["file", "proc"])
def test_an_output_directory_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    if kind == "file":
        out = tmp_path / "taken"
        out.write_text("a file, not a directory")
    else:
        out = Path("/proc/mat2torch-test")
    code, err = run(capsys, "convert", str(TINY), "-o", str(out))
    assert code == 2, err
    assert "cannot write" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    if kind == "file":
        assert out.read_text() == "a file, not a directory"
        assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_an_unexpected_error_is_one_line_that_says_it_is_a_bug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(api, "convert", broken)
    code, err = run(capsys, "convert", str(TINY), "-o", str(tmp_path / "o"))
    assert code == 1
    assert "internal error (KeyError" in err and "bug" in err and "--debug" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(KeyError):
        cli.main(["--debug", "convert", str(TINY), "-o", str(tmp_path / "o")])


def test_a_file_name_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = os.fsencode(str(tmp_path)) + b"/r\xe9seau.mat"
    shutil.copyfile(TINY, raw)
    name = os.fsdecode(raw)
    code = cli.main(["convert", name, "-o", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (tmp_path / "out" / "model.py").is_file()
    missing = os.fsdecode(os.fsencode(str(tmp_path)) + b"/absent\xff.mat")
    code, err = run(capsys, "inspect", missing)
    assert code == 2 and "no such file" in err
