"""Level-5 files without classdef objects are read with scipy (lower peak memory than
mat-io's reader); the values must be exactly what mat-io gives, or mat-io is used."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import scipy.sparse
from matio import load_from_mat

from codegen.readers import mat
from codegen.readers.level5_nocopy import scipy_loadmat
from codegen.testing import dltwriter as w

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
REPO = Path(__file__).resolve().parents[1]


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two read values differ: Python type, dtype, shape, memory order, values."""
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} vs {type(b).__name__}"]
    if not isinstance(a, np.ndarray):
        return [] if a == b else [f"{path}: {a!r} vs {b!r}"]
    if a.dtype != b.dtype or a.shape != b.shape:
        return [f"{path}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"]
    found: list[str] = []
    if a.dtype.names:
        for index in np.ndindex(a.shape):
            for key in a.dtype.names:
                found += differences(
                    a[key][index], b[key][index], f"{path}{index}.{key}"
                )
    elif a.dtype == object:
        for index in np.ndindex(a.shape):
            found += differences(a[index], b[index], f"{path}{{{index}}}")
    elif not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
        found.append(f"{path}: values differ")
    elif a.size > 1 and a.flags.f_contiguous != b.flags.f_contiguous:
        found.append(f"{path}: memory order differs")
    return found


def both(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = load_from_mat(str(path))
    return mat._plain_level5(path), {
        k: v for k, v in reference.items() if not k.startswith("__")
    }


def zoo(path: Path) -> None:
    """Every plain MATLAB type MatConvNet files hold, including the awkward ones."""
    layer = {
        "name": "conv1",
        "type": "conv",
        "weights": np.array(
            [[np.ones((3, 3, 2, 4), np.float32), np.zeros((4, 1), np.float32)]],
            dtype=object,
        ),
        "pad": np.array([[1.0, 1.0, 0.0, 2.0]]),  # doubles MATLAB stores as uint8
        "precious": np.array([[True]]),
        "opts": np.empty((0, 0), dtype=object),
        "block": {},  # a struct with no fields
        "ints": np.array([[3, 4]], np.int32),
        "text": "relu",
        "empty_text": "",
        "big": np.full((1, 1), 3e9),
    }
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = layer, {"name": "pool", "type": "pool"}
    scipy.io.savemat(str(path), {"net": {"layers": cell, "meta": {"x": 1.5}}})


@pytest.mark.parametrize(
    "path",
    [
        CORPUS / "matconvnet" / "dcfnet_net.mat",
        CORPUS / "matconvnet" / "dsr_x16_net_epoch108.mat",
        "zoo",
    ],
    ids=["dcfnet", "dsr_dagnn", "zoo"],
)
def test_scipy_values_are_mat_io_values(path: Path | str, tmp_path: Path) -> None:
    if path == "zoo":
        path = tmp_path / "zoo.mat"
        zoo(path)
    assert isinstance(path, Path)
    fast, reference = both(path)
    assert fast is not None, "a plain Level-5 file should be read with scipy"
    assert sorted(fast) == sorted(reference)
    found = [d for k in reference for d in differences(fast[k], reference[k], k)]
    assert found == []


def test_the_comparison_can_fail() -> None:
    a = {"x": np.array([[1.0]])}
    assert differences(a["x"], np.array([[1]], np.uint8)) != []
    assert differences(
        np.empty((1, 1), object), mat.EmptyMatStruct(np.empty((1, 1), object))
    )


def test_files_with_objects_sparse_or_hdf5_are_left_to_mat_io(tmp_path: Path) -> None:
    dlt = REPO / "examples" / "tiny_cnn.mat"  # a subsystem: classdef objects
    assert mat._plain_level5(dlt) is None
    v73 = CORPUS / "matconvnet" / "dncnn_sigma25.mat"
    assert mat._plain_level5(v73) is None
    sparse = tmp_path / "sparse.mat"
    scipy.io.savemat(str(sparse), {"s": scipy.sparse.eye(3).tocsc()})
    assert mat._plain_level5(sparse) is None
    # ...and mat.load still reads them (with mat-io).
    assert "s" in mat.load(sparse).variables
    assert "net" in mat.load(dlt).variables


def test_dlt_file_written_by_the_project_is_read_by_mat_io(tmp_path: Path) -> None:
    path = tmp_path / "net.mat"
    w.write_mat(path, {"layers": w.layer_array([w.relu("r")])})
    assert mat._plain_level5(path) is None


@pytest.mark.parametrize(
    "path",
    [
        CORPUS / "matconvnet" / "dcfnet_net.mat",
        CORPUS / "matconvnet" / "dsr_x16_net_epoch108.mat",
        "zoo",
    ],
    ids=["dcfnet", "dsr_dagnn", "zoo"],
)
def test_reading_without_copies_gives_scipy_mat_dtype_values(
    path: Path | str, tmp_path: Path
) -> None:
    """Down to memory order: only the copy scipy's ``mat_dtype`` makes is left out."""
    if path == "zoo":
        path = tmp_path / "zoo.mat"
        zoo(path)
    assert isinstance(path, Path)
    reference = scipy.io.loadmat(str(path), mat_dtype=True)
    fast = scipy_loadmat(str(path))
    assert sorted(fast) == sorted(reference)
    found = [d for k in reference for d in differences(fast[k], reference[k], k)]
    assert found == []
    for key, value in fast.items():
        if isinstance(value, np.ndarray) and not key.startswith("__"):
            assert value.flags.f_contiguous == reference[key].flags.f_contiguous


def test_nested_arrays_are_not_copied_when_read(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "big.mat"
    big = np.arange(2 << 20, dtype=np.float32).reshape(1024, 2048)
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = big
    scipy.io.savemat(str(path), {"net": {"layers": cell}})
    peaks = []
    for read in (
        lambda: scipy_loadmat(str(path)),
        lambda: scipy.io.loadmat(str(path), mat_dtype=True),
    ):
        tracemalloc.start()
        values = read()
        peaks.append(tracemalloc.get_traced_memory()[1] / big.nbytes)
        tracemalloc.stop()
        stored = values["net"][0, 0]["layers"][0, 0]
        assert stored.dtype == np.float32 and np.array_equal(stored, big)
    assert peaks[0] < 1.5 < 1.9 < peaks[1]


def test_nested_complex_arrays_are_left_to_mat_io(tmp_path: Path) -> None:
    path = tmp_path / "complex.mat"
    scipy.io.savemat(
        str(path),
        {"net": {"w": np.array([[1 + 2j, 3 - 1j]], np.complex64), "x": 1.0}},
    )
    assert mat._plain_level5(path) is None
    values = mat.load(path).variables["net"][0, 0]["w"]
    assert values.dtype.kind == "c" and values[0, 1] == 3 - 1j


def tree_differences(
    a: Any, b: Any, path: str = "", seen: set[int] | None = None
) -> list[str]:
    """Where two values read by mat-io differ, objects and tables included; arrays
    down to dtype and memory order."""
    import pandas as pd
    from matio.utils.matclass import MatlabOpaque

    seen = set() if seen is None else seen
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} vs {type(b).__name__}"]
    if id(a) in seen:
        return []
    if isinstance(a, MatlabOpaque):
        seen.add(id(a))
        if a.classname != b.classname:
            return [f"{path}: class {a.classname} vs {b.classname}"]
        return tree_differences(a.properties, b.properties, f"{path}.", seen)
    if isinstance(a, dict):
        seen.add(id(a))
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} vs {list(b)}"]
        return [d for k in a for d in tree_differences(a[k], b[k], f"{path}{k}", seen)]
    if isinstance(a, (pd.DataFrame, pd.Series, pd.Categorical)):
        return [] if repr(a) == repr(b) else [f"{path}: {a!r} vs {b!r}"]
    if isinstance(a, np.ndarray):
        if (a.dtype, a.shape) != (b.dtype, b.shape):
            return [f"{path}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"]
        if (a.flags.f_contiguous, a.flags.c_contiguous) != (
            b.flags.f_contiguous,
            b.flags.c_contiguous,
        ):
            return [f"{path}: memory order"]
        found: list[str] = []
        if a.dtype.names:
            seen.add(id(a))
            for index in np.ndindex(a.shape):
                for key in a.dtype.names:
                    found += tree_differences(
                        a[key][index], b[key][index], f"{path}{index}.{key}", seen
                    )
        elif a.dtype == object:
            seen.add(id(a))
            for index in np.ndindex(a.shape):
                found += tree_differences(
                    a[index], b[index], f"{path}{{{index}}}", seen
                )
        elif a.dtype.kind in "fc":
            if not np.array_equal(a, b, equal_nan=True):
                found.append(f"{path}: values")
        elif not np.array_equal(a, b):
            found.append(f"{path}: values")
        return found
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return tree_differences(vars(a), vars(b), f"{path}.", seen)
    return [] if repr(a) == repr(b) else [f"{path}: {a!r} vs {b!r}"]


MATIO_FILES = sorted(
    [
        *(CORPUS / "dltoolbox").glob("*.mat"),
        *(CORPUS / "shallow").glob("*.mat"),
        *REPO.glob("examples/*.mat"),
    ]
)


@pytest.mark.parametrize("path", MATIO_FILES, ids=[p.name for p in MATIO_FILES])
def test_mat_io_reads_the_same_values_without_copies(path: Path) -> None:
    from codegen.readers.level5_nocopy import matio_without_copies
    from codegen.readers.matio_fix import patched_load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with patched_load():
            reference = load_from_mat(str(path))
        with patched_load(), matio_without_copies():
            fast = load_from_mat(str(path))
    assert tree_differences(fast, reference) == []


def test_the_tree_comparison_can_fail() -> None:
    a = {"x": np.ones((2, 3), np.float32), "y": np.array([[1.0]])}
    assert tree_differences(a, {**a, "x": np.ones((2, 3), np.float64)})
    assert tree_differences(a, {**a, "x": np.asfortranarray(a["x"]) + 0})
    assert tree_differences(a, {**a, "y": np.array([[2.0]])})
    assert tree_differences(a, dict(a)) == []


def test_files_read_without_mat_io_do_not_import_its_readers(tmp_path: Path) -> None:
    """mat-io's readers (and pandas) are imported only when a file needs them, and are
    then the same classes the rest of the code checks against."""
    import subprocess
    import sys

    plain = tmp_path / "zoo.mat"
    zoo(plain)
    script = (
        "import sys\n"
        "from codegen import cli\n"
        f"assert cli.main(['convert', {str(plain)!r}, '-o', {str(tmp_path / 'a')!r}, "
        "'-q', '--stub-unsupported']) in (0, 1)\n"
        "print('pandas' in sys.modules, 'matio.matio' in sys.modules)\n"
        "from codegen.readers import mat\n"
        "from matio.utils.matclass import MatlabOpaque\n"
        f"net = mat.load({str(REPO / 'examples' / 'tiny_cnn.mat')!r}).variables['net']\n"
        "print('pandas' in sys.modules, type(net) is MatlabOpaque)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True", "True"]
