"""Conversion cost against the cost of merely reading the same file.

    python scripts/benchmark.py            # VGG-16-sized networks (138 M parameters)
    python scripts/benchmark.py --small    # the same architecture, narrow: seconds
    python scripts/benchmark.py --json     # the figures as JSON on stdout

Writes four networks with the project's writers — a Deep Learning Toolbox
SeriesNetwork as v7 and v7.3, a MatConvNet SimpleNN as v5 and v7.3 — then, each in a
fresh interpreter, reads every file with the fastest plain reader (mat-io for DLT v7,
scipy for v5, h5py for v7.3, keeping every array) and converts it with the command
line. Reported: wall time and peak RSS of each, and conversion / reading as ratios.
Also the shipped tiny network's `convert` and `inspect` wall times. Timings depend on
the machine and on what else runs on it; compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codegen.testing import dltwriter as w  # noqa: E402
from codegen.testing import mcnwriter as m  # noqa: E402

VGG16 = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
)

READERS = {
    "mat-io": (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from matio import load_from_mat\n"
        "values = load_from_mat(PATH)\n"
    ),
    "scipy": "import scipy.io\nvalues = scipy.io.loadmat(PATH)\n",
    "h5py": (
        "import h5py\n"
        "values = []\n"
        "def keep(name, obj):\n"
        "    if isinstance(obj, h5py.Dataset):\n"
        "        values.append(obj[()])\n"
        "with h5py.File(PATH, 'r') as f:\n"
        "    f.visititems(keep)\n"
    ),
}

# name, file, reader, time-ratio target, RSS-ratio target
CASES = (
    ("DLT SeriesNetwork v7", "dlt_v7.mat", "mat-io", 1.3, 1.0),
    ("DLT SeriesNetwork v7.3", "dlt_v73.mat", "h5py", 1.3, 1.1),
    ("MatConvNet SimpleNN v5", "mcn_v5.mat", "scipy", 1.3, 1.1),
    ("MatConvNet SimpleNN v7.3", "mcn_v73.mat", "h5py", 1.3, 1.1),
)


@dataclass
class Run:
    wall: float  # seconds
    peak_rss: int  # bytes
    cpu: float  # user + system seconds: steadier than wall time on a busy machine


@dataclass
class Case:
    name: str
    file_mb: float
    reader: str
    read: Run
    convert: Run
    time_ratio: float
    rss_ratio: float
    cpu_ratio: float
    time_target: float
    rss_target: float


def _architecture(small: bool) -> tuple[int, list[Any], tuple[int, int]]:
    """Input side, the conv/pool plan and the two hidden FC widths (+ classes)."""
    if small:
        plan = [c if c == "M" else max(int(c) // 16, 2) for c in VGG16]
        return 32, plan, (64, 10)
    return 224, list(VGG16), (4096, 1000)


def _weights(small: bool, seed: int = 0) -> dict[str, Any]:
    """Random weights in MATLAB layout, shared by the DLT and MatConvNet files."""
    rng = np.random.default_rng(seed)
    side, plan, (hidden, classes) = _architecture(small)
    convs, cin = [], 3
    for item in plan:
        if item == "M":
            side //= 2
            continue
        cout = int(item)
        f = rng.standard_normal((3, 3, cin, cout), dtype=np.float32)
        f *= np.float32(np.sqrt(2.0 / (9 * cin)))
        convs.append((f, rng.standard_normal(cout, dtype=np.float32) * 0.01))
        cin = cout
    fcs = []
    for shape in (
        (side, side, cin, hidden),
        (1, 1, hidden, hidden),
        (1, 1, hidden, classes),
    ):
        f = rng.standard_normal(shape, dtype=np.float32)
        f *= np.float32(np.sqrt(2.0 / np.prod(shape[:3])))
        fcs.append((f, rng.standard_normal(shape[3], dtype=np.float32) * 0.01))
    return {"plan": plan, "convs": convs, "fcs": fcs, "classes": classes}


def _dlt_network(small: bool, wts: dict[str, Any]) -> Any:
    side = _architecture(small)[0]
    layers = [
        w.image_input(
            "input",
            (side, side, 3),
            "zerocenter",
            mean=np.array([123.68, 116.779, 103.939], np.float32).reshape(1, 1, 3),
        )
    ]
    convs = iter(wts["convs"])
    block, index, pool = 1, 1, 1
    for item in wts["plan"]:
        if item == "M":
            layers.append(w.max_pool2d(f"pool{pool}", (2, 2), stride=(2, 2)))
            pool, block, index = pool + 1, block + 1, 1
            continue
        f, b = next(convs)
        name = f"conv{block}_{index}"
        layers += [
            w.conv2d(name, f, b.reshape(1, 1, -1), padding=(1, 1, 1, 1)),
            w.relu(f"relu{block}_{index}"),
        ]
        index += 1
    for k, (f, b) in enumerate(wts["fcs"], start=6):
        layers.append(w.fully_connected(f"fc{k}", f, b.reshape(1, 1, -1)))
        if k < 8:
            layers += [w.relu(f"relu{k}"), w.dropout(f"drop{k}")]
    classes = [f"class{i}" for i in range(wts["classes"])]
    layers += [w.softmax("prob"), w.classification_output("output", classes)]
    return w.series_network(layers)


def _mcn_network(small: bool, wts: dict[str, Any]) -> dict[str, Any]:
    side = _architecture(small)[0]
    layers: list[dict[str, Any]] = []
    convs = iter(wts["convs"])
    block, index, pool = 1, 1, 1
    for item in wts["plan"]:
        if item == "M":
            layers.append(m.max_pool(f"pool{pool}"))
            pool, block, index = pool + 1, block + 1, 1
            continue
        f, b = next(convs)
        layers += [
            m.conv(f"conv{block}_{index}", f, b, pad=1),
            m.relu(f"relu{block}_{index}"),
        ]
        index += 1
    for k, (f, b) in enumerate(wts["fcs"], start=6):
        layers.append(m.conv(f"fc{k}", f, b))
        if k < 8:
            layers.append(m.relu(f"relu{k}"))
    layers.append(m.softmax("prob"))
    mean = np.array([123.68, 116.779, 103.939], np.float32).reshape(1, 1, 3)
    return m.simplenn(layers, (side, side, 3), mean)


def write_files(folder: Path, small: bool) -> None:
    """The four files, unless ``folder`` has them already (they are slow to write)."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = [f for _, f, *_ in CASES if not (folder / f).exists()]
    if not missing:
        return
    wts = _weights(small)
    targets = {
        "dlt_v7.mat": lambda p: w.write_mat(p, {"net": _dlt_network(small, wts)}),
        "dlt_v73.mat": lambda p: w.write_mat(
            p, {"net": _dlt_network(small, wts)}, version="v7.3"
        ),
        "mcn_v5.mat": lambda p: m.write_simplenn(p, _mcn_network(small, wts), "v5"),
        "mcn_v73.mat": lambda p: m.write_simplenn(p, _mcn_network(small, wts), "v7.3"),
    }
    for name in missing:
        tmp = folder / f".{name}.partial"
        targets[name](tmp)
        os.replace(tmp, folder / name)


def measure(argv: Sequence[str], cwd: Path | None = None) -> Run:
    """Wall time and peak RSS of a fresh process (its own, from wait4's rusage)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(
            f"benchmark: {' '.join(argv)} failed:\n{err.decode(errors='replace')}"
        )
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, usage.ru_maxrss * 1024, cpu)  # ru_maxrss is in KiB on Linux


def _best(argv: Sequence[str], repeat: int) -> Run:
    runs = [measure(argv) for _ in range(repeat)]
    return Run(
        min(r.wall for r in runs),
        min(r.peak_rss for r in runs),
        min(r.cpu for r in runs),
    )


def run(small: bool, workdir: Path, repeat: int) -> dict[str, Any]:
    write_files(workdir, small)
    cases = []
    for name, file, reader, time_target, rss_target in CASES:
        path = workdir / file
        read_code = READERS[reader].replace("PATH", repr(str(path)))
        read = _best([sys.executable, "-c", read_code], repeat)
        out = workdir / f"out_{path.stem}"
        cli = [sys.executable, "-m", "codegen.cli", "convert", str(path)]
        conv = _best([*cli, "-o", str(out), "--force", "--quiet"], repeat)
        cases.append(
            Case(
                name,
                path.stat().st_size / 1e6,
                reader,
                read,
                conv,
                conv.wall / read.wall,
                conv.peak_rss / read.peak_rss,
                conv.cpu / read.cpu,
                time_target,
                rss_target,
            )
        )
    tiny = REPO / "examples" / "tiny_cnn.mat"
    cli = [sys.executable, "-m", "codegen.cli"]
    tiny_convert = _best(
        [*cli, "convert", str(tiny), "-o", str(workdir / "out_tiny"), "--force", "-q"],
        max(repeat, 3),
    )
    tiny_inspect = _best([*cli, "inspect", str(tiny)], max(repeat, 3))
    return {
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "small": small,
        "cases": [asdict(c) for c in cases],
        "tiny_convert_wall": tiny_convert.wall,
        "tiny_inspect_wall": tiny_inspect.wall,
        "tiny_convert_target": 1.0,
        "tiny_inspect_target": 0.7,
    }


def _table(report: dict[str, Any]) -> str:
    gib = 1024**3
    lines = [
        f"{'file':<26}{'MB':>7}  {'reader':<7}{'read s':>8}{'read GiB':>9}"
        f"{'conv s':>8}{'conv GiB':>9}  {'time ×':>7}{'RSS ×':>7}{'CPU ×':>7}  target",
    ]
    for c in report["cases"]:
        ok = c["time_ratio"] <= c["time_target"] and c["rss_ratio"] <= c["rss_target"]
        lines.append(
            f"{c['name']:<26}{c['file_mb']:>7.1f}  {c['reader']:<7}"
            f"{c['read']['wall']:>8.2f}{c['read']['peak_rss'] / gib:>9.2f}"
            f"{c['convert']['wall']:>8.2f}{c['convert']['peak_rss'] / gib:>9.2f}"
            f"  {c['time_ratio']:>7.2f}{c['rss_ratio']:>7.2f}{c['cpu_ratio']:>7.2f}  "
            f"≤{c['time_target']}× / ≤{c['rss_target']}× {'met' if ok else 'MISSED'}"
        )
    lines.append(
        f"tiny_cnn.mat: convert {report['tiny_convert_wall']:.2f} s "
        f"(target < {report['tiny_convert_target']} s), inspect "
        f"{report['tiny_inspect_wall']:.2f} s (target < {report['tiny_inspect_target']} s)"
    )
    load = ", ".join(f"{x:.1f}" for x in report["load_average"])
    lines.append(
        f"machine: {report['cpus']} CPUs, load average {load} at the end (time ratios "
        "are only meaningful on an otherwise idle machine; CPU × is steadier)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--small", action="store_true", help="a narrow network: seconds"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the written networks here and reuse them next time",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement (the best is kept)"
    )
    args = parser.parse_args(argv)
    if args.workdir is not None:
        report = run(args.small, args.workdir, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="mat2torch-bench-") as tmp:
            report = run(args.small, Path(tmp), args.repeat)
    print(json.dumps(report, indent=2) if args.json else _table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
