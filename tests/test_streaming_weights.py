"""The safetensors writer (no torch), and a conversion that never imports torch."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from codegen import weights

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "examples" / "tiny_cnn.mat"


def _dicts() -> list[tuple[dict[str, np.ndarray], dict[str, str] | None]]:
    rng = np.random.default_rng(0)
    mixed = {
        "b.weight": rng.standard_normal((3, 4, 2)).astype(np.float32),
        "a": rng.standard_normal(5),
        "count": np.array([7], dtype=np.int64),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "half": rng.standard_normal(3).astype(np.float16),
        "bytes": np.arange(5, dtype=np.uint8),
        "flags": np.array([True, False, True]),
        "i32": np.arange(-3, 3, dtype=np.int32),
        "u64": np.arange(4, dtype=np.uint64),
        "i8": np.arange(-2, 2, dtype=np.int8),
        "i16": np.arange(3, dtype=np.int16),
        "u16": np.arange(3, dtype=np.uint16),
        "u32": np.arange(3, dtype=np.uint32),
    }
    odd_names = {
        "é.weight": np.ones((2, 2), np.float32),
        "z": np.zeros(1, np.float32),
        "A": np.full(3, 4.0, np.float32),
        "a_b": np.ones((1, 1, 1), np.float64),
    }
    return [
        (mixed, {"source": 'net.mat sha256=ab "quoted" \\ back\nline\ttab é'}),
        (mixed, None),
        (odd_names, {"source": "x"}),
        ({"x": np.ones(1, np.float32)}, None),  # header padded to a multiple of 8
        ({"xy": np.ones((2, 3), np.float32)}, {"k": "\x01\x1f\x7f"}),
        ({}, None),
        ({}, {"source": "nothing"}),
    ]


@pytest.mark.parametrize("case", range(len(_dicts())))
def test_writer_bytes_equal_the_reference_library(case: int) -> None:
    tensors, metadata = _dicts()[case]
    expected = st_save(tensors, metadata=metadata)
    assert weights.safetensors_bytes(tensors, metadata) == expected
    handle = io.BytesIO()
    weights.write_safetensors(handle, tensors, metadata)
    assert handle.getvalue() == expected


def test_big_endian_arrays_are_written_little_endian() -> None:
    value = np.arange(6, dtype=">f4").reshape(2, 3)
    loaded = st_load(weights.safetensors_bytes({"w": value}))
    assert loaded["w"].dtype == np.float32
    np.testing.assert_array_equal(loaded["w"], value)


def test_unsupported_dtype_is_refused() -> None:
    with pytest.raises(TypeError, match="complex"):
        weights.safetensors_bytes({"c": np.ones(2, np.complex64)})


class LazyArray:
    """An array-like that knows its shape and dtype and counts when it is read."""

    def __init__(self, value: np.ndarray, log: list[str], name: str) -> None:
        self.shape = value.shape
        self.dtype = value.dtype
        self._value, self._log, self._name = value, log, name

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self._log.append(self._name)
        return self._value


def test_lazy_values_are_read_once_each_after_the_header() -> None:
    log: list[str] = []
    rng = np.random.default_rng(1)
    arrays = {
        "w": rng.standard_normal((4, 3)).astype(np.float32),
        "b": rng.standard_normal(4).astype(np.float32),
        "n": np.array([3], dtype=np.int64),
    }
    lazy = {k: LazyArray(v, log, k) for k, v in arrays.items()}

    class Recorder(io.BytesIO):
        def write(self, data: Any) -> int:
            log.append(f"write {len(memoryview(data).cast('B'))}")
            return super().write(data)

    handle = Recorder()
    weights.write_safetensors(handle, lazy, {"source": "s"})
    assert handle.getvalue() == st_save(arrays, metadata={"source": "s"})
    # The header is written before any value is read; then read, write, read, write.
    assert log[0].startswith("write ") and log[1:] == [
        "n",
        "write 8",
        "b",
        "write 16",
        "w",
        "write 48",
    ]


def test_graph_weights_stream_equals_bytes_and_loads() -> None:
    from codegen import api

    result = api.convert_file(TINY)
    handle = io.BytesIO()
    result.write_weights(handle)
    assert handle.getvalue() == result.tensors
    loaded = st_load(result.tensors)
    assert loaded["bn1.num_batches_tracked"].shape == (1,)
    assert set(loaded) == set(weights.expected_keys(result.graph))
    header = json.loads(
        result.tensors[8 : 8 + int.from_bytes(result.tensors[:8], "little")]
    )
    assert header["__metadata__"]["source"].startswith("tiny_cnn.mat sha256=")


def test_cli_convert_does_not_import_torch(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from codegen import cli\n"
        f"code = cli.main(['convert', {str(TINY)!r}, '-o', {str(tmp_path)!r}])\n"
        "assert code == 0, code\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
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
    assert done.stdout.strip().splitlines()[-1] == "[]"
    golden = REPO / "generated_examples" / "tiny_cnn" / "model.safetensors"
    assert (tmp_path / "model.safetensors").read_bytes() == golden.read_bytes()


def test_deferred_copy_writes_the_same_bytes_block_by_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codegen import arrays

    monkeypatch.setattr(arrays, "DEFER_BYTES", 0)
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 3 * 60 * 4)  # three rows a block
    rng = np.random.default_rng(2)
    stored = np.asfortranarray(rng.standard_normal((5, 4, 3, 10)).astype(np.float32))
    view = stored.transpose(3, 2, 0, 1)  # a MATLAB H×W×C×Out FC as (Out, C, H, W)
    deferred = arrays.f32_deferred(view, (10, 60))
    assert isinstance(deferred, arrays.DeferredCopy)
    expected = np.ascontiguousarray(view).reshape(10, 60)
    assert deferred.shape == (10, 60) and deferred.dtype == np.float32
    blocks = list(deferred.chunks_c_order())
    assert [b.shape[0] for b in blocks] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(blocks), expected)
    np.testing.assert_array_equal(np.asarray(deferred), expected)
    assert weights.safetensors_bytes({"w": deferred}) == st_save({"w": expected})
    # A contiguous, small or non-float32 view is copied at once: a plain array.
    assert isinstance(arrays.f32_deferred(np.ones((4, 3))), np.ndarray)


def test_nonfinite_values_are_counted_through_deferred_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codegen import arrays

    monkeypatch.setattr(arrays, "DEFER_BYTES", 0)
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 16)
    stored = np.ones((4, 6), np.float32)
    stored[1, 2] = np.nan
    stored[3, 5] = np.inf
    deferred = arrays.f32_deferred(stored.T)
    assert isinstance(deferred, arrays.DeferredCopy)
    assert weights._count_nonfinite(deferred) == 2


@pytest.mark.parametrize("case", range(len(_dicts())))
def test_threaded_writer_gives_the_same_bytes(
    case: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weights, "THREADED_BYTES", 0)
    tensors, metadata = _dicts()[case]
    assert weights.safetensors_bytes(tensors, metadata) == st_save(
        tensors, metadata=metadata
    )


def test_threaded_writer_reports_a_write_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "THREADED_BYTES", 0)

    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            if self.tell() > 0:
                raise OSError(28, "No space left on device")
            return super().write(data)

    tensors = {f"t{i}": np.ones(1000, np.float32) for i in range(20)}
    with pytest.raises(OSError, match="No space left"):
        weights.write_safetensors(Full(), tensors)


def test_finite_values_whose_sum_overflows_are_not_counted() -> None:
    big = np.full(1000, 3e38, np.float32)  # every value finite; their sum is not
    assert weights._count_nonfinite(big) == 0
    big[[3, 500]] = [np.nan, -np.inf]
    assert weights._count_nonfinite(big) == 2
    assert weights._count_nonfinite(np.asfortranarray(np.ones((3, 4)))) == 0


@pytest.mark.parametrize(
    "path",
    [
        TINY,
        REPO.parent / "shared" / "corpus" / "dltoolbox" / "ccn_net.mat",
        REPO.parent / "shared" / "corpus" / "matconvnet" / "dncnn_sigma25.mat",
        REPO.parent / "shared" / "corpus" / "matconvnet" / "dcfnet_net.mat",
    ],
    ids=["tiny_cnn", "ccn_net", "dncnn_v73", "dcfnet_v5"],
)
def test_deferred_and_immediate_copies_write_identical_files(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codegen import api, arrays

    monkeypatch.setattr(arrays, "DEFER_BYTES", 1 << 62)
    immediate = api.convert_file(path)
    monkeypatch.setattr(arrays, "DEFER_BYTES", 0)
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 4096)  # many blocks per tensor
    monkeypatch.setattr(weights, "THREADED_BYTES", 0)
    deferred = api.convert_file(path)
    kinds = {
        type(v).__name__
        for n in deferred.graph.nodes
        for v in n.params.values()
        if v is not None
    }
    assert "DeferredCopy" in kinds
    assert deferred.source == immediate.source
    assert deferred.tensors == immediate.tensors
