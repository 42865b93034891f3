"""Files that declare more than they hold, or nest deeper than any network, are refused
with one sentence before mat-io reads them (its C reader would allocate the declared size,
or recurse until the stack overflows: a segfault)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from codegen import cli
from codegen.errors import ConversionError
from codegen.readers import bounds, mat
from codegen.testing import hostile
from tests.conftest import REPO, corpus_file

# Generous: the point is "refused before allocating or recursing", not speed.
QUICK = 10.0


def _refused(
    tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str], *extra: str
) -> str:
    path = tmp_path / "bad.mat"
    path.write_bytes(data)
    start = time.monotonic()
    code = cli.main(["convert", str(path), "-o", str(tmp_path / "out"), *extra])
    assert time.monotonic() - start < QUICK
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith(
        "mat2torch: error: bad.mat: "
    )
    assert not (tmp_path / "out").exists()
    return err


def test_cells_nested_thousands_deep_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(tmp_path, hostile.nested_cells(6000), capsys)
    assert f"more than {bounds.MAX_DEPTH} levels deep" in err


def test_cells_nested_deep_in_the_subsystem_data_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mat-io parses the subsystem bytes (objects' contents) as a MAT stream of their own."""
    err = _refused(tmp_path, hostile.nested_in_subsystem(20000), capsys)
    assert f"more than {bounds.MAX_DEPTH} levels deep" in err
    (tmp_path / "ok.mat").write_bytes(hostile.nested_in_subsystem(5))
    assert "x" in mat.load(tmp_path / "ok.mat").variables


def test_nesting_within_the_bound_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.mat"
    path.write_bytes(hostile.nested_cells(50))
    assert "c" in mat.load(path).variables


@pytest.mark.parametrize(
    "dims", [(100000, 100000), (2**31 - 1, 2**31 - 1, 2**31 - 1), (1, 2**31 - 1)]
)
def test_an_array_declaring_a_huge_size_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dims: tuple[int, ...]
) -> None:
    err = _refused(tmp_path, hostile.declared_array(dims), capsys)
    assert "--max-memory" in err and "GiB" in err


def test_a_negative_size_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(tmp_path, hostile.declared_array((1, -5)), capsys)
    assert "negative size" in err


def test_a_compression_bomb_is_refused_at_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(
        tmp_path, hostile.compressed_bomb(64 << 20), capsys, "--max-memory", "16M"
    )
    assert "compressed element" in err and "16.0 MiB" in err


def test_an_element_longer_than_the_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(hostile.declared_array((1, 1)))
    data[132:136] = (1 << 30).to_bytes(4, "little")  # the variable's byte count
    err = _refused(tmp_path, bytes(data), capsys)
    assert "but only" in err and "truncated or damaged" in err


def test_the_budget_is_an_option(tmp_path: Path) -> None:
    data = hostile.declared_array((1000, 1000))  # declares 7.6 MiB in a tiny file
    bounds.check_level5(data, "x.mat")  # within the default 1 GiB + 4 × size
    with pytest.raises(ConversionError, match="more than the 1.0 MiB"):
        bounds.check_level5(data, "x.mat", budget=1 << 20)
    assert cli._size("8G") == 8 << 30 and cli._size("500M") == 500 << 20
    assert cli._size("1234") == 1234


def test_real_files_pass(tmp_path: Path) -> None:
    """Including v7.3 files (HDF5 after a Level-5-like header), which are not walked."""
    from codegen.testing import dltwriter as w

    v73 = tmp_path / "v73.mat"
    layers = [w.feature_input("in", 3), w.relu("r"), w.regression_output("out")]
    w.write_mat(v73, {"net": w.series_network(layers)}, version="v7.3")
    files = [
        REPO / "examples" / "tiny_cnn.mat",
        corpus_file("dltoolbox", "ccn_net.mat"),
    ]
    for path in [*files, v73]:
        bounds.check_level5(path.read_bytes(), path.name)
