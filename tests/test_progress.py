"""Progress on stderr: only on a terminal, only after a delay, erased at the end."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from codegen import cli, progress

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "examples" / "tiny_cnn.mat"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "PERIOD", 0.001)


def test_progress_is_drawn_on_a_terminal_and_erased(
    immediate: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    original = progress.advance

    def slow_advance(amount: int) -> None:  # give the drawing thread a turn
        original(amount)
        time.sleep(0.01)

    monkeypatch.setattr(progress, "advance", slow_advance)
    assert cli.main(["convert", "--in-process", str(TINY), "-o", str(tmp_path)]) == 0
    text = terminal.getvalue()
    assert "mat2torch: writing model.safetensors [" in text
    assert text.endswith("\r\x1b[K")  # the line is erased; nothing else was printed


def test_no_progress_when_stderr_is_not_a_terminal(
    immediate: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["convert", "--in-process", str(TINY), "-o", str(tmp_path)]) == 0
    assert cli.main(["inspect", "--in-process", str(TINY)]) == 0
    assert "\r" not in capsys.readouterr().err


def test_quiet_shows_no_progress_even_on_a_terminal(
    immediate: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert (
        cli.main(["convert", "--in-process", str(TINY), "-o", str(tmp_path), "--quiet"])
        == 0
    )
    assert terminal.getvalue() == ""


def test_stages_cost_nothing_without_a_reporter() -> None:
    progress.stage("anything", 10)
    progress.advance(5)  # no reporter active: nothing happens, nothing fails


def test_the_line_shows_the_share_done() -> None:
    terminal = Terminal()
    with progress.shown_on(terminal):
        progress.stage("writing model.safetensors", 200)
        progress.advance(50)
        reporter = progress._active
        assert reporter is not None
        assert (
            "writing model.safetensors [#####...............]  25%" in reporter.line()
        )
