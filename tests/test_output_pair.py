"""model.py and model.safetensors are written as a pair: staged together, moved weights
first and model.py last, ordinary permissions, no temporary files left on any exit, and a
mismatched pair is refused by load_model."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from codegen import api, cli
from codegen.testing import dltwriter as w
from tests.conftest import import_generated

pytestmark = pytest.mark.filterwarnings("ignore")


def _network(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    layers = [
        w.feature_input("in", 3),
        w.fully_connected(
            "fc",
            weights=rng.standard_normal((2, 3)).astype(np.float32),
            bias=np.zeros(2, np.float32),
        ),
        w.regression_output("out"),
    ]
    w.write_mat(path, {"net": w.series_network(layers)})
    return path


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_outputs_get_ordinary_permissions(
    tmp_path: Path, umask: None, mask: int
) -> None:
    src = _network(tmp_path / "n.mat", 1)
    os.umask(mask)
    api.convert(src, tmp_path / "out")
    for name in ("model.py", "model.safetensors"):
        mode = stat.S_IMODE((tmp_path / "out" / name).stat().st_mode)
        assert mode == 0o666 & ~mask, (name, oct(mode))


def _entries(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


def test_a_crash_between_the_moves_leaves_no_temporary_files_and_no_silent_pair(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    api.convert(_network(tmp_path / "a.mat", 1), out)
    assert import_generated(out).load_model() is not None

    calls = []
    real_replace = os.replace

    def crash_on_model_py(src: str, dst: str) -> None:
        calls.append(dst)
        if Path(dst).name == "model.py":
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_model_py)
    code = cli.main(
        [
            "convert",
            str(_network(tmp_path / "b.mat", 2)),
            "-o",
            str(out),
            "--force",
            "--in-process",  # the replacement os.replace records its calls here
        ]
    )
    monkeypatch.undo()
    assert code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    # weights first, the README next, model.py last
    assert [Path(c).name for c in calls] == [
        "model.safetensors",
        "README.md",
        "model.py",
    ]
    assert _entries(out) == ["README.md", "model.py", "model.safetensors"]
    # the old model.py now sits beside the new weights: load_model refuses the pair
    module = import_generated(out)
    with pytest.raises(RuntimeError, match="was not written with"):
        module.load_model()
    # converting again repairs it
    api.convert(tmp_path / "b.mat", out, force=True)
    assert import_generated(out).load_model() is not None


def test_replaced_weights_are_refused_by_default_and_loadable_by_path(
    tmp_path: Path,
) -> None:
    api.convert(_network(tmp_path / "a.mat", 1), tmp_path / "a")
    api.convert(_network(tmp_path / "b.mat", 2), tmp_path / "b")
    os.replace(
        tmp_path / "b" / "model.safetensors", tmp_path / "a" / "model.safetensors"
    )
    module = import_generated(tmp_path / "a")
    with pytest.raises(RuntimeError, match="was not written with"):
        module.load_model()
    module.load_model(tmp_path / "a" / "model.safetensors")  # explicit path: allowed


def test_sigterm_while_staging_removes_the_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    real_replace = os.replace

    def terminated(src: str, dst: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        real_replace(src, dst)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(os, "replace", terminated)
    with pytest.raises(SystemExit) as info:
        api.convert(_network(tmp_path / "a.mat", 1), out)
    assert info.value.code == 128 + signal.SIGTERM
    assert _entries(out) == []
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored


def test_an_untrained_conversion_removes_old_weights(tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.convert(_network(tmp_path / "a.mat", 1), out)
    layers = [
        w.feature_input("in", 3),
        w.fully_connected("fc", weights=None, bias=None, output_size=2),
        w.regression_output("out"),
    ]
    w.write_mat(tmp_path / "u.mat", {"net": w.series_network(layers)})
    api.convert(tmp_path / "u.mat", out, force=True)
    assert _entries(out) == ["README.md", "model.py"]
    assert "WEIGHTS_SOURCE" not in (out / "model.py").read_text()
