"""Stored weights with NaN or Inf (a diverged network) are converted as stored, and said
loudly: on the command line, in the generated header and by inspect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen import api, cli
from codegen.testing import dltwriter as w

pytestmark = pytest.mark.filterwarnings("ignore")


def _network(tmp_path: Path, bad: float) -> Path:
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((4, 6)).astype(np.float32)
    weights[1, 2] = bad
    layers = [
        w.feature_input("in", 6),
        w.fully_connected("fc", weights=weights, bias=np.zeros(4, np.float32)),
        w.regression_output("out"),
    ]
    path = tmp_path / "diverged.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_weights_are_reported_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: float
) -> None:
    path = _network(tmp_path, bad)
    assert cli.main(["convert", str(path), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "NaN or Inf" in err and "'fc' weight (1 of 24)" in err
    source = (tmp_path / "out" / "model.py").read_text()
    assert "WARNING" in source and "'fc' weight (1 of 24)" in source
    assert cli.main(["inspect", str(path)]) == 0
    assert "WARNING" in capsys.readouterr().out
    report = api.inspect_file(path)
    assert "'fc' weight (1 of 24)" in report["networks"][0]["nonfinite"]


def test_finite_weights_say_nothing(tmp_path: Path) -> None:
    path = _network(tmp_path, 0.5)
    result = api.convert_file(path)
    assert not any("NaN" in note for note in result.warnings)
    assert "WARNING" not in result.source
    assert api.inspect_file(path)["networks"][0]["nonfinite"] is None


def test_deferred_weights_are_counted_while_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copied only when written, the weights are counted then, and model.py made after."""
    from codegen import arrays

    monkeypatch.setattr(arrays, "DEFER_BYTES", 16)
    path = _network(tmp_path, np.inf)
    result = api.convert(path, tmp_path / "out")
    fc = next(n for n in result.graph.nodes if n.params)
    assert isinstance(fc.params["weight"], arrays.DeferredCopy)
    assert fc.params["weight"].nonfinite == 1  # counted by the writer
    assert any("'fc' weight (1 of 24)" in note for note in result.warnings)
    source = (tmp_path / "out" / "model.py").read_text()
    assert "WARNING" in source and "'fc' weight (1 of 24)" in source
    monkeypatch.setattr(arrays, "DEFER_BYTES", 1 << 40)
    assert api.convert_file(path).source == source
