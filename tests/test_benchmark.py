"""The benchmark command runs in its small mode and reports ratios (their values are the
machine's business, not a test's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_small_benchmark_reports_ratios(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "benchmark.py"),
            "--small",
            "--json",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["small"] is True
    names = [c["name"] for c in report["cases"]]
    assert names == [
        "DLT SeriesNetwork v7",
        "DLT SeriesNetwork v7.3",
        "MatConvNet SimpleNN v5",
        "MatConvNet SimpleNN v7.3",
    ]
    for case in report["cases"]:
        for key in ("time_ratio", "rss_ratio", "cpu_ratio"):
            assert isinstance(case[key], float) and case[key] > 0
        assert case["read"]["peak_rss"] > 0 and case["convert"]["peak_rss"] > 0
        assert case["reader"] in ("mat-io", "scipy", "h5py")
    for key in ("tiny_convert_wall", "tiny_inspect_wall"):
        assert report[key] > 0
    # Each conversion really wrote its outputs.
    for stem in ("dlt_v7", "dlt_v73", "mcn_v5", "mcn_v73"):
        out = tmp_path / f"out_{stem}"
        assert (out / "model.py").is_file() and (out / "model.safetensors").is_file()
