"""`mat2torch inspect --json`: strict JSON with the documented schema-1 fields."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codegen import cli, inspect_json
from codegen.testing import dltwriter as w
from tests.conftest import REPO, corpus_file

pytestmark = pytest.mark.filterwarnings("ignore")

NETWORK_KEYS = {
    "path",
    "kind",
    "error",
    "layers",
    "inputs",
    "outputs",
    "parameters",
    "trained",
    "nonfinite_weights",
}


def _json(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[str, dict]:
    assert cli.main(["inspect", "--json", str(path)]) == 0
    text = capsys.readouterr().out

    # Strict JSON: the standard parser refuses NaN/Infinity literals when asked to.
    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token}")

    return text, json.loads(text, parse_constant=refuse)


def test_ccn_net_report(capsys: pytest.CaptureFixture[str]) -> None:
    text, doc = _json(capsys, corpus_file("dltoolbox", "ccn_net.mat"))
    assert doc["schema"] == 1 and doc["file"] == "ccn_net.mat"
    assert doc["nothing_found"] is None
    assert text == json.dumps(doc, sort_keys=True, indent=2) + "\n"  # keys sorted
    (net,) = doc["networks"]
    assert set(net) == NETWORK_KEYS
    assert net["kind"] == "SeriesNetwork" and net["error"] is None
    assert net["trained"] is True and net["nonfinite_weights"] is None
    assert net["inputs"] == [
        {"name": "imageinput", "description": "image C×H×W = 3×150×150"}
    ]
    conv = next(la for la in net["layers"] if la["name"] == "conv_1")
    assert conv["class"] == "nnet.cnn.layer.Convolution2DLayer"
    assert conv["op"] == "conv2d"
    assert conv["properties"]["kernel_size"] == [10, 10]
    assert net["parameters"] > 0


def test_nonfinite_values_are_strings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = np.ones((2, 3), np.float32)
    weights[0, 1] = np.nan
    layers = [
        w.feature_input("in", 3),
        w.fully_connected("fc", weights=weights, bias=np.zeros(2, np.float32)),
        w.regression_output("out"),
    ]
    path = tmp_path / "odd.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    text, doc = _json(capsys, path)
    (net,) = doc["networks"]
    assert "'fc' weight (1 of 6)" in net["nonfinite_weights"]
    assert "NaN," not in text and "Infinity," not in text.replace('"Infinity"', "")
    # layer settings are checked to be finite when read; any non-finite number left
    # (a property a converter keeps as it is) is written as a string too
    doc = inspect_json.plain({"x": float("inf"), "y": float("nan")})
    assert json.loads(inspect_json.dumps(doc)) == {
        "x": "Infinity",
        "y": "NaN",
    }


def test_file_with_no_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.mat"
    w.write_mat(path, {"x": np.ones((2, 2))})
    _, doc = _json(capsys, path)
    assert doc["networks"] == [] and "data.mat" in doc["nothing_found"]


def test_unconvertible_network_has_error_and_null_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, doc = _json(capsys, corpus_file("dltoolbox", "mimo_trainedNet.mat"))
    (net,) = doc["networks"]
    assert set(net) == NETWORK_KEYS
    assert "sigmoidLayer" in net["error"]
    assert net["layers"] == [] and net["parameters"] is None


def test_schema_is_documented() -> None:
    doc = (REPO / "docs" / "inspect-json.md").read_text()
    for key in NETWORK_KEYS | {"schema", "file", "networks", "nothing_found"}:
        assert f"`{key}`" in doc, key
    assert "docs/inspect-json.md" in (REPO / "README.md").read_text()
