"""Files that declare more than they hold, or nest deeper than any network, are refused
with one sentence before mat-io reads them (its C reader would allocate the declared size,
or recurse until the stack overflows: a segfault)."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from codegen import cli
from codegen.errors import ConversionError
from codegen.readers import bounds, mat
from codegen.testing import hostile
from tests.conftest import REPO, corpus_file


def _refused(
    tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str], *extra: str
) -> str:
    path = tmp_path / "bad.mat"
    path.write_bytes(data)
    code = cli.main(["convert", str(path), "-o", str(tmp_path / "out"), *extra])
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
    # zeros: not an array, seen from the first 8 inflated bytes
    assert "compressed element" in err and "does not hold a MATLAB array" in err
    # an array tag declaring 64 MiB: refused from its tag, against the budget
    tag = struct.pack("<II", 14, 64 << 20)
    packed = zlib.compress(tag + bytes(1 << 20), 9)
    bomb = hostile.level5_file(struct.pack("<II", 15, len(packed)) + packed)
    (tmp_path / "again").mkdir()
    err = _refused(tmp_path / "again", bomb, capsys, "--max-memory", "16M")
    assert "compressed element" in err and "64.0 MiB" in err and "16.0 MiB" in err


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


# A fresh interpreter runs the command line on each bomb and reports the peak resident
# memory of its children (the conversion and the process it forks), in KiB.
_PEAK = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "codegen.cli", "convert", sys.argv[1],
                       "-o", sys.argv[2]], capture_output=True, text=True)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stderr.strip())
"""


def _v73_declaring(path: Path, count: int) -> None:
    """A v7.3 file (HDF5 behind MATLAB's 512-byte header) whose one variable declares
    ``count`` doubles that were never written: a few KB on disk."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        dataset = f.create_dataset("x", shape=(count, 1), dtype="f8")
        dataset.attrs["MATLAB_class"] = np.bytes_(b"double")
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    )
    with open(path, "r+b") as handle:
        handle.write(
            header.ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0200) + b"IM"
        )


@pytest.mark.parametrize(
    "bomb",
    ["declared 8 GB", "3.2 GB of compressed zeros", "cells 6,000 deep", "v7.3 8 GB"],
)
def test_bombs_are_refused_in_little_memory(tmp_path: Path, bomb: str) -> None:
    path = tmp_path / "bomb.mat"
    if bomb == "declared 8 GB":
        path.write_bytes(hostile.declared_array((1 << 20, 1 << 10)))
    elif bomb == "3.2 GB of compressed zeros":
        path.write_bytes(hostile.compressed_bomb(3_200_000_000))
    elif bomb == "cells 6,000 deep":
        path.write_bytes(hostile.nested_cells(6000))
    else:
        _v73_declaring(path, 1 << 30)
    assert path.stat().st_size < 20 << 20
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    first, _, message = done.stdout.partition("\n")
    code, peak_kib = (int(v) for v in first.split())
    assert code == 2 and message.startswith("mat2torch: error: bomb.mat: "), message
    assert "\n" not in message.strip()
    assert peak_kib < 500 * 1024, f"{bomb}: peak {peak_kib / 1024:.0f} MiB"
    assert not (tmp_path / "out").exists()
