"""Compressed data inflated with ISA-L gives exactly zlib's values, in both readers
(scipy's and mat-io's Level-5 streams) and in the v7.3 chunk path; damaged streams are
still refused."""

from __future__ import annotations

import types
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import scipy.io

from codegen import api
from codegen.errors import ConversionError
from codegen.readers import h5lazy, inflate, mat
from codegen.readers.level5_nocopy import scipy_loadmat
from codegen.testing import mcnwriter as m
from tests.test_level5_reader import differences, tree_differences

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
REPO = Path(__file__).resolve().parents[1]

# v7 files: scipy reads the MatConvNet ones, mat-io the Deep Learning Toolbox ones
LEVEL5 = sorted(
    [
        CORPUS / "matconvnet" / "dcfnet_net.mat",
        CORPUS / "matconvnet" / "dsr_x16_net_epoch108.mat",
        CORPUS / "dltoolbox" / "ccn_net.mat",
        CORPUS / "dltoolbox" / "tsx_transformer_demo.mat",
        CORPUS / "dltoolbox" / "mimo_trainedNet.mat",
        REPO / "examples" / "tiny_cnn.mat",
    ]
)


def test_isal_is_installed() -> None:
    """A core dependency: without it everything works, twice as slowly."""
    assert inflate.library() == "isal"


def _counting_isal(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make ISA-L's entry points record their use; returns the record."""
    real = inflate._isal
    calls: list[str] = []

    def counted(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return getattr(real, name)(*args, **kwargs)

        return call

    proxy = types.SimpleNamespace(
        decompressobj=counted("decompressobj"),
        decompress=counted("decompress"),
        error=real.error,
    )
    monkeypatch.setattr(inflate, "_isal", proxy)
    return calls


def _read(path: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mat.load(path).variables


@pytest.mark.parametrize("path", LEVEL5, ids=[p.name for p in LEVEL5])
def test_level5_files_read_the_same_with_isal_and_zlib(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_isal(monkeypatch)
    fast = _read(path)
    assert "decompressobj" in calls, "the file was not inflated with ISA-L"
    monkeypatch.setattr(inflate, "_isal", None)
    calls.clear()
    reference = _read(path)
    assert calls == []
    assert sorted(fast) == sorted(reference)
    assert tree_differences(fast, reference) == []


def test_streams_are_given_back_to_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    import matio.v5._streams as matio_streams
    import scipy.io.matlab._streams as scipy_streams

    with inflate.fast_streams(*inflate.STREAM_MODULES):
        assert scipy_streams.zlib.decompressobj is inflate._isal.decompressobj
        assert matio_streams.zlib.decompressobj is inflate._isal.decompressobj
    assert scipy_streams.zlib is zlib and matio_streams.zlib is zlib
    with pytest.raises(RuntimeError), inflate.fast_streams():
        assert scipy_streams.zlib is not zlib
        raise RuntimeError
    assert scipy_streams.zlib is zlib and matio_streams.zlib is zlib
    monkeypatch.setattr(inflate, "_isal", None)
    with inflate.fast_streams():
        assert scipy_streams.zlib is zlib


def _big_variable_file(path: Path) -> tuple[np.ndarray, int]:
    """A v7 file whose one variable is a compressed stream; the byte where its
    Adler-32 (the stream's last four bytes) starts."""
    weights = np.random.default_rng(0).standard_normal((64, 64, 8), dtype=np.float32)
    scipy.io.savemat(str(path), {"net": {"w": weights}}, do_compression=True)
    data = path.read_bytes()
    size = int.from_bytes(data[132:136], "little")  # the element after the header
    assert int.from_bytes(data[128:132], "little") == 15  # miCOMPRESSED
    return weights, 136 + size - 4


def test_isal_checks_the_stream_checksum(tmp_path: Path) -> None:
    path = tmp_path / "net.mat"
    weights, checksum = _big_variable_file(path)
    stored = scipy_loadmat(str(path))["net"][0, 0]["w"]
    assert np.array_equal(stored, weights)
    data = bytearray(path.read_bytes())
    data[checksum] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(inflate.ERRORS):
        scipy_loadmat(str(path))
    # through the command's reader: one sentence naming the file
    with pytest.raises(ConversionError, match=r"^net\.mat: "):
        mat.load(path)


def test_mat_file_values_are_zlibs(tmp_path: Path) -> None:
    """The values scipy's own reader gives with zlib, read here with ISA-L."""
    path = tmp_path / "net.mat"
    _big_variable_file(path)
    reference = scipy.io.loadmat(str(path), mat_dtype=True)
    with inflate.fast_streams("scipy.io.matlab._streams"):
        fast = scipy.io.loadmat(str(path), mat_dtype=True)
    assert differences(fast["net"], reference["net"]) == []


def test_v73_chunks_inflate_the_same_with_isal_and_zlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.h5"
    data = np.random.default_rng(4).standard_normal((12, 7, 3, 3)).astype("<f4")
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("a", data=data, chunks=(4, 7, 3, 3), compression="gzip")
    got = {}
    for library in ("isal", "zlib"):
        calls = _counting_isal(monkeypatch)
        if library == "zlib":
            monkeypatch.setattr(inflate, "_isal", None)
        source = h5lazy.H5File(str(path))
        got[library] = source.read("a", (slice(0, 12), *(slice(None),) * 3))
        source.close()
        assert (calls.count("decompress") == 3) == (library == "isal")
    assert got["isal"].tobytes() == got["zlib"].tobytes() == data.tobytes()


def test_a_v73_conversion_writes_the_same_bytes_with_isal_and_zlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(2)
    layers = [
        m.conv(
            "conv1",
            rng.standard_normal((3, 3, 3, 512), dtype=np.float32),
            np.zeros(512, np.float32),
        ),
        m.relu("relu1"),
        m.conv(
            "fc",
            rng.standard_normal((8, 8, 512, 10), dtype=np.float32),
            np.zeros(10, np.float32),
        ),
        m.softmax("prob"),
    ]
    path = tmp_path / "mcn.mat"
    m.write_simplenn(path, m.simplenn(layers, (8, 8, 3), None), "v7.3")
    calls = _counting_isal(monkeypatch)
    fast = api.convert_file(path).tensors
    # the FC weights (1.3 MB) are read from the file as they are written
    assert calls.count("decompress") >= 1
    monkeypatch.setattr(inflate, "_isal", None)
    assert api.convert_file(path).tensors == fast
