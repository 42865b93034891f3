"""Weights of v7.3 (HDF5) files read lazily: the same outputs as reading them at once,
each large dataset decompressed once, NaN and Inf still reported."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from codegen import api, arrays
from codegen.errors import ConversionError
from codegen.readers import h5lazy, mat
from codegen.testing import dltwriter as w
from codegen.testing import mcnwriter as m

CORPUS = Path("/work/shared/corpus")
SMALL = 256  # bytes: nearly every single-precision array is lazy and deferred


def _weights(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _dlt_file(path: Path, bad: bool = False) -> Path:
    rng = np.random.default_rng(1)
    conv1, conv2 = _weights(rng, 3, 3, 3, 8), _weights(rng, 3, 3, 8, 1)
    fc = _weights(rng, 6, 6, 1, 5)
    if bad:
        conv1[1, 2, 0, 5] = np.nan
        fc[0, 3, 0, 4] = np.inf
        fc[5, 5, 0, 0] = -np.inf
    layers = [
        w.image_input("input", (6, 6, 3), "none"),
        w.conv2d("conv1", conv1, _weights(rng, 1, 1, 8), padding=(1, 1, 1, 1)),
        w.relu("relu1"),
        # one filter: MATLAB stores 3×3×8, the trailing 1 dropped
        w.conv2d("conv2", conv2, _weights(rng, 1, 1, 1), padding=(1, 1, 1, 1)),
        w.fully_connected("fc", fc, _weights(rng, 1, 1, 5)),
        w.softmax("prob"),
        w.classification_output("output", [f"c{i}" for i in range(5)]),
    ]
    w.write_mat(path, {"net": w.series_network(layers)}, version="v7.3")
    return path


def _mcn_file(path: Path) -> Path:
    rng = np.random.default_rng(2)
    layers = [
        m.conv("conv1", _weights(rng, 3, 3, 3, 16), _weights(rng, 16), pad=1),
        m.relu("relu1"),
        m.max_pool("pool1"),
        m.conv("fc", _weights(rng, 4, 4, 16, 7), _weights(rng, 7)),
        m.softmax("prob"),
    ]
    mean = np.arange(8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)  # stays eager
    m.write_simplenn(path, m.simplenn(layers, (8, 8, 3), mean), "v7.3")
    return path


def _files(tmp_path: Path) -> list[Path]:
    return [
        CORPUS / "matconvnet" / "dncnn_sigma25.mat",
        CORPUS / "matconvnet" / "dncnn_dagnn_epoch50.mat",
        _dlt_file(tmp_path / "dlt.mat"),
        _dlt_file(tmp_path / "dlt_bad.mat", bad=True),
        _mcn_file(tmp_path / "mcn.mat"),
    ]


def _lazy_values(conversion: api.Conversion) -> list[Any]:
    return [
        v
        for n in conversion.graph.nodes
        for v in (*n.params.values(), *n.buffers.values())
        if getattr(v, "lazy", False)
    ]


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h5lazy, "LAZY_BYTES", SMALL)
    monkeypatch.setattr(arrays, "DEFER_BYTES", SMALL)


def test_lazy_reads_write_the_files_eager_reads_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in _files(tmp_path):
        monkeypatch.setattr(h5lazy, "LAZY_BYTES", 1 << 62)
        monkeypatch.setattr(arrays, "DEFER_BYTES", SMALL)
        eager = api.convert_file(path)
        assert not _lazy_values(eager)
        monkeypatch.setattr(h5lazy, "LAZY_BYTES", SMALL)
        lazy = api.convert_file(path)
        assert len(_lazy_values(lazy)) >= 2, path.name
        assert lazy.tensors == eager.tensors, path.name
        assert lazy.source == eager.source, path.name
        assert lazy.readme == eager.readme, path.name
        assert lazy.warnings == eager.warnings, path.name


def test_only_weights_stay_in_the_file(tmp_path: Path, small_thresholds: None) -> None:
    """The average image (and anything else that is not a weight) is a numpy array."""
    file = mat.load(_mcn_file(tmp_path / "mcn.mat"))
    lazy, eager = [], []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, h5lazy.H5Array):
            lazy.append(path)
        elif isinstance(value, np.ndarray) and value.dtype.names:
            for rec in value.ravel(order="F"):
                for key in value.dtype.names:
                    walk(rec[key], f"{path}.{key}")
        elif isinstance(value, np.ndarray) and value.dtype == object:
            for item in value.ravel(order="F"):
                walk(item, f"{path}{{}}")
        elif isinstance(value, np.ndarray) and value.nbytes >= SMALL:
            eager.append(path)

    walk(file.variables["net"], "net")
    assert lazy == ["net.layers{}.weights{}"] * 2
    assert "net.meta.normalization.averageImage" in eager


def test_nonfinite_values_in_lazy_weights_are_reported(
    tmp_path: Path, small_thresholds: None
) -> None:
    path = _dlt_file(tmp_path / "bad.mat", bad=True)
    result = api.convert(path, tmp_path / "out")
    assert _lazy_values(result)
    notes = [n for n in result.warnings if "NaN or Inf" in n]
    assert len(notes) == 1
    assert "'conv1' weight (1 of 216)" in notes[0]
    assert "'fc' weight (2 of 180)" in notes[0]
    source = (tmp_path / "out" / "model.py").read_text()
    assert "'conv1' weight (1 of 216)" in source
    # inspect counts without writing, and finds the same
    report = api.inspect_file(path)
    assert "'fc' weight (2 of 180)" in report["networks"][0]["nonfinite"]


def test_each_large_dataset_is_decompressed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads of a lazy dataset are chunk-aligned hyperslabs that together cover it
    once, and mat-io never reads it."""
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 2048)  # several blocks per array
    monkeypatch.setattr(arrays, "DEFER_BYTES", SMALL)
    monkeypatch.setattr(h5lazy, "LAZY_BYTES", SMALL)
    reads: dict[str, list[Any]] = defaultdict(list)
    original_read = h5lazy.H5File.read

    def counting_read(self: Any, ref: Any, selection: Any = None) -> np.ndarray:
        with h5py.File(self.path, "r") as f:
            reads[f[ref].name].append(selection)
        return original_read(self, ref, selection)

    monkeypatch.setattr(h5lazy.H5File, "read", counting_read)
    from matio.v7.matreader7 import MatRead7

    eager: list[str] = []
    original_numeric = MatRead7.read_numeric

    def counting_numeric(self: Any, obj: Any, is_empty: int = 0) -> Any:
        eager.append(obj.name)
        return original_numeric(self, obj, is_empty)

    monkeypatch.setattr(MatRead7, "read_numeric", counting_numeric)
    for path in (
        CORPUS / "matconvnet" / "dncnn_sigma25.mat",
        _dlt_file(tmp_path / "dlt.mat", bad=True),
        _mcn_file(tmp_path / "mcn.mat"),
    ):
        reads.clear()
        eager.clear()
        result = api.convert(path, tmp_path / f"out_{path.stem}")
        assert result.warnings is not None
        assert not set(reads) & set(eager)
        by_rows = [n for n, s in reads.items() if None not in s]
        assert len(by_rows) >= 2
        with h5py.File(path, "r") as f:
            for name, selections in reads.items():
                dataset = f[name]
                if None in selections:  # read whole (not a weight written by rows)
                    assert selections == [None], name
                    continue
                covered = np.zeros(dataset.shape, dtype=np.int64)
                for selection in selections:
                    covered[selection] += 1
                    for axis, part in enumerate(selection):
                        if part != slice(None) and dataset.chunks:
                            assert part.start % dataset.chunks[axis] == 0, name
                assert np.all(covered == 1), name


def test_h5array_views_match_numpy(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    data = np.arange(4 * 3 * 5 * 2, dtype=np.float32).reshape(4, 3, 5, 2)
    with h5py.File(path, "w") as f:
        f.create_dataset("/#refs#/a", data=data, chunks=(2, 3, 1, 2), compression=4)
    array = h5lazy.H5Array(
        h5lazy.H5File(str(path)), "/#refs#/a", data.shape, data.dtype, (2, 3, 1, 2)
    )
    matlab = data.T  # what mat-io returns
    assert array.shape == matlab.shape and array.size == matlab.size
    np.testing.assert_array_equal(np.asarray(array), matlab)
    cases = [
        (array.transpose(3, 2, 0, 1), matlab.transpose(3, 2, 0, 1)),
        (array.reshape((2, 5, 12), order="F"), matlab.reshape((2, 5, 12), order="F")),
        (
            array.reshape((30, 4), order="F").T,
            matlab.reshape((30, 4), order="F").T,
        ),
        (
            array.reshape((30, 4), order="F")
            .T.T.reshape((2, 5, 3, 4), order="F")
            .transpose(3, 2, 0, 1),
            matlab.reshape((30, 4), order="F")
            .reshape((2, 5, 3, 4), order="F")
            .transpose(3, 2, 0, 1),
        ),
        (
            array.reshape(2, 5, 3, 4, 1, order="F"),
            matlab.reshape(2, 5, 3, 4, 1, order="F"),
        ),
    ]
    for lazy, expected in cases:
        np.testing.assert_array_equal(np.asarray(lazy), expected)
        step = lazy.block_rows(1)
        if step is not None:
            blocks = [lazy.rows(s, s + step) for s in range(0, lazy.shape[0], step)]
            np.testing.assert_array_equal(np.concatenate(blocks), expected)
    # anything else reads the array and works on that
    np.testing.assert_array_equal(array * 2, matlab * 2)
    np.testing.assert_array_equal(array[1], matlab[1])
    np.testing.assert_array_equal(array.ravel(order="F"), matlab.ravel(order="F"))
    np.testing.assert_array_equal(array.reshape((60, 2)), matlab.reshape((60, 2)))
    assert array.astype(np.float64).dtype == np.float64
    assert float(np.asarray(array).sum()) == float(data.sum())


@pytest.mark.parametrize(
    "options",
    [
        {"compression": "gzip"},
        {"compression": "gzip", "shuffle": True},  # another filter: h5py reads
        {},  # contiguous: h5py reads
    ],
    ids=["deflate", "shuffle", "contiguous"],
)
def test_chunks_are_inflated_in_threads_exactly_as_h5py_reads_them(
    tmp_path: Path, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.h5"
    rng = np.random.default_rng(4)
    data = rng.standard_normal((10, 7, 3, 3)).astype(">f4")  # big-endian, edge chunks
    data[3, 2, 1, 0] = np.nan
    chunks = (4, 3, 1, 2) if options else None
    with h5py.File(path, "w", userblock_size=512) as f:  # MATLAB's 512-byte header
        f.create_dataset("a", data=data, chunks=chunks, **options)
    inflated: list[Any] = []
    original = h5lazy._inflate

    def counted(*args: Any) -> Any:
        result = original(*args)
        inflated.append(result is not None)
        return result

    monkeypatch.setattr(h5lazy, "_inflate", counted)
    source = h5lazy.H5File(str(path))
    everything = (slice(None),) * 3
    for selection in [
        (slice(0, 4), *everything),
        (slice(4, 10), *everything),  # the edge chunk
        (slice(0, 10), slice(3, 7), slice(None), slice(0, 2)),
        (slice(1, 5), *everything),  # not on a chunk boundary: h5py reads
    ]:
        got = source.read("a", selection)
        expected = data[selection]
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()
    source.close()
    assert inflated == ([True] * 3 if options == {"compression": "gzip"} else [])


def test_verify_and_convert_all_work_on_lazily_read_weights(
    tmp_path: Path, small_thresholds: None
) -> None:
    from codegen import cli

    for path in (
        CORPUS / "matconvnet" / "dncnn_dagnn_epoch50.mat",
        _dlt_file(tmp_path / "dlt.mat"),
    ):
        assert cli.main(["verify", str(path), "--random", "2"]) == 0
        outcomes = api.convert_all(path, tmp_path / f"all_{path.stem}")
        assert [o.error for o in outcomes] == [None]
        single = api.convert(
            path, tmp_path / f"one_{path.stem}", variable=outcomes[0].variable
        )
        folder = tmp_path / f"all_{path.stem}" / outcomes[0].folder
        for name in ("model.py", "model.safetensors"):
            assert (folder / name).read_bytes() == (
                tmp_path / f"one_{path.stem}" / name
            ).read_bytes()
        assert _lazy_values(single)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_inflates_with_its_own_threads(tmp_path: Path) -> None:
    import os

    path = tmp_path / "data.h5"
    data = np.arange(64 * 6, dtype=np.float32).reshape(64, 6)
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=data, chunks=(8, 6), compression="gzip")
    source = h5lazy.H5File(str(path))
    assert np.array_equal(source.read("a", (slice(0, 16), slice(None))), data[:16])
    assert h5lazy._POOL is not None  # the parent's threads exist now
    pid = os.fork()
    if pid == 0:  # the child: must not wait on threads it does not have
        child = h5lazy.H5File(str(path))
        ok = np.array_equal(child.read("a", (slice(16, 64), slice(None))), data[16:])
        os._exit(0 if ok else 1)
    import time

    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:  # waiting on threads that do not exist
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child never finished reading")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_a_file_saved_again_during_conversion_is_refused(
    tmp_path: Path, small_thresholds: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lazy weights are read after the file was hashed: if MATLAB saves the file again
    meanwhile, the weights would not be the recorded sha256's. Nothing is written."""
    path = _dlt_file(tmp_path / "dlt.mat")
    original = h5lazy.H5File.read
    touched: list[bool] = []

    def read_and_save_again(self: Any, *args: Any) -> Any:
        if not touched:
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
            touched.append(True)
        return original(self, *args)

    monkeypatch.setattr(h5lazy.H5File, "read", read_and_save_again)
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match=r"^dlt\.mat changed while it was being"):
        api.convert(path, out)
    assert touched
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
    # unchanged, the same file converts
    monkeypatch.setattr(h5lazy.H5File, "read", original)
    api.convert(path, out)
    assert (out / "model.safetensors").exists()


def test_an_unchanged_file_passes_the_check(tmp_path: Path) -> None:
    file = mat.load(_dlt_file(tmp_path / "dlt.mat"))
    file.check_unchanged()
    (tmp_path / "dlt.mat").write_bytes((tmp_path / "dlt.mat").read_bytes() + b"\0")
    with pytest.raises(ConversionError, match="changed while"):
        file.check_unchanged()
