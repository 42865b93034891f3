"""Top-level variables that hold data only (numbers, text, logicals) are listed from
their headers, never decoded, when a file is read for its networks: the listing says
what a full read would, and conversions are unchanged."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io

from codegen import api
from codegen.errors import ConversionError
from codegen.readers import listing, mat
from codegen.testing import dltwriter as w
from codegen.testing import mcnwriter as m

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
REPO = Path(__file__).resolve().parents[1]
FILES = sorted(
    [
        *CORPUS.glob("*/*.mat"),
        REPO / "examples" / "tiny_cnn.mat",
    ]
)


def _full(path: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mat.load(path).variables


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_listing_says_what_a_full_read_says(path: Path) -> None:
    found = listing.top_level(path)
    assert found is not None, "every corpus file's headers can be listed"
    full = _full(path)
    assert sorted(n for n, _ in found) == sorted(full)
    for name, entry in found:
        value = full[name]
        if entry is None:
            # objects (string arrays too), structs and cells: read; plain numbers
            # and logicals never are
            assert not (
                isinstance(value, np.ndarray) and value.dtype.kind in "fiubc"
            ), name
        else:
            assert entry.description == mat.describe_variable(value), name


def _dlt_with_data(path: Path, version: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    layers = [
        w.image_input("input", (4, 4, 2), "none"),
        w.conv2d(
            "conv",
            rng.standard_normal((3, 3, 2, 3), dtype=np.float32),
            np.zeros((1, 1, 3), np.float32),
            padding=(1, 1, 1, 1),
        ),
        w.relu("relu"),
    ]
    data = rng.standard_normal((50, 40))
    w.write_mat(
        path,
        {
            "XTrain": data,
            "net": w.series_network(layers),
            "labels": np.array([[True, False]]),
        },
        version=version,  # type: ignore[arg-type]
    )
    return data


@pytest.mark.parametrize("version", ["v7", "v7.3"])
def test_data_beside_a_network_is_not_read(
    tmp_path: Path, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "net.mat"
    _dlt_with_data(path, version)
    asked: list[Any] = []
    original = mat.load_from_mat

    def spy(file: str, names: list[str] | None = None) -> dict[str, Any]:
        asked.append(names)
        return original(file, names)

    monkeypatch.setattr(mat, "load_from_mat", spy)
    read = mat.load(path, networks_only=True)
    assert asked == [["net"]]
    assert read.variables["XTrain"] == listing.NotRead("double 50×40")
    assert read.variables["labels"] == listing.NotRead("logical 1×2")
    selective = api.convert_file(path)
    # the same conversion as reading everything
    monkeypatch.setattr(mat, "top_level", lambda p: None)
    asked.clear()
    everything = api.convert_file(path)
    assert asked == [None]
    assert selective.source == everything.source
    assert selective.tensors == everything.tensors


def test_matconvnet_data_beside_the_net_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read with scipy (no MATLAB objects): the same listing applies."""
    rng = np.random.default_rng(1)
    layers = [
        m.conv(
            "conv1",
            rng.standard_normal((3, 3, 3, 4), dtype=np.float32),
            np.zeros(4, np.float32),
            pad=1,
        ),
        m.relu("relu1"),
    ]
    path = tmp_path / "mcn.mat"
    m.write_simplenn(path, m.simplenn(layers, (8, 8, 3)), "v5")
    values = scipy.io.loadmat(str(path))
    values = {k: v for k, v in values.items() if not k.startswith("__")}
    values["images"] = rng.standard_normal((8, 8, 3, 20))
    scipy.io.savemat(str(path), values)
    asked: list[Any] = []
    original = mat.scipy_loadmat

    def spy(file: str, names: list[str] | None = None) -> dict[str, Any]:
        asked.append(names)
        return original(file, names)

    monkeypatch.setattr(mat, "scipy_loadmat", spy)
    read = mat.load(path, networks_only=True)
    assert asked == [["net"]]
    assert read.variables["images"] == listing.NotRead("double 8×8×3×20")
    assert api.convert_file(path).graph.nodes


def test_a_file_of_data_only_is_described_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.mat"
    scipy.io.savemat(str(path), {"X": np.ones((3, 18)), "name": "run 4"})
    monkeypatch.setattr(
        mat, "scipy_loadmat", lambda *a: pytest.fail("nothing needed reading")
    )
    with pytest.raises(ConversionError) as error:
        api.convert_file(path)
    assert "'X' (double 3×18); 'name' (char)" in str(error.value)


def test_unexpected_layouts_are_read_whole(tmp_path: Path) -> None:
    not_mat = tmp_path / "x.mat"
    not_mat.write_bytes(b"hello" * 40)
    assert listing.top_level(not_mat) is None
    truncated = tmp_path / "t.mat"
    data = (CORPUS / "dltoolbox" / "ccn_net.mat").read_bytes()
    truncated.write_bytes(data[:136])  # a header and one tag, no array header
    assert listing.top_level(truncated) is None
