"""The command line converts in a child process: a crash (signal), a hang or a memory
limit becomes one sentence and exit status 2, with nothing written and no staging
directory left behind."""

from __future__ import annotations

import os
import resource
import signal
import time
from pathlib import Path

import pytest

from codegen import api, cli, isolate, output
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "tiny_cnn.mat"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _convert(tmp_path: Path, *extra: str) -> int:
    return cli.main(["convert", str(EXAMPLE), "-o", str(tmp_path / "out"), *extra])


def test_a_crash_in_the_reader_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(api, "convert", crash)
    assert _convert(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "mat2torch: error: tiny_cnn.mat: mat2torch's reader crashed on this file "
        "(SIGSEGV); the file is damaged or crafted. Nothing was written."
    ]
    assert not (tmp_path / "out").exists()


def test_a_child_killed_while_staging_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def killed(src: str, dst: str) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(os, "replace", killed)
    assert _convert(tmp_path) == 2
    assert "SIGKILL" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []  # the staging directory is gone


def test_a_termination_signal_is_not_called_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def terminated(*args: object, **kwargs: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(api, "convert", terminated)
    assert _convert(tmp_path) == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert err.strip() == "mat2torch: stopped by SIGTERM; nothing was written."


def test_a_hang_is_stopped_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def hang(*args: object, **kwargs: object) -> None:
        time.sleep(60)

    monkeypatch.setattr(api, "convert", hang)
    start = time.monotonic()
    assert _convert(tmp_path, "--timeout", "1") == 2
    assert time.monotonic() - start < 30  # generous: stopped at ~1 s, not after 60
    err = capsys.readouterr().err
    assert "took longer than 1 seconds" in err and len(err.strip().splitlines()) == 1


def test_the_child_runs_under_an_address_space_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def report(*args: object, **kwargs: object) -> None:
        print("limit", resource.getrlimit(resource.RLIMIT_AS)[0])
        raise MemoryError

    monkeypatch.setattr(api, "convert", report)
    assert _convert(tmp_path, "--max-memory", "64M") == 2
    captured = capsys.readouterr()
    limit = int(captured.out.split()[1])
    assert limit != resource.RLIM_INFINITY and limit < isolate._vsize() + (64 << 20) + (
        3 << 30
    )
    assert "needs more memory than --max-memory allows" in captured.err


def test_output_and_warnings_reach_the_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _convert(tmp_path) == 0
    said = capsys.readouterr().out
    assert "Wrote" in said and "model.safetensors" in said and "README.md" in said
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["README.md", "model.py", "model.safetensors"]
    assert not any(n.startswith(output.STAGING_PREFIX) for n in names)
