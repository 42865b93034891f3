"""Fuzz the converter with damaged and crafted .mat files; count the outcomes.

    python scripts/fuzz.py --count 500 --seed 1 [--corpus DIR] [--show traceback,signal]

Inputs: examples/tiny_cnn.mat, the small networks of codegen.testing.hostile, and every
.mat file under --corpus (default ../shared/corpus when present). Mutations: truncation,
bit flips, zeroed and random blocks, size bombs (a length or dimension set huge), and type
swaps (one layer field replaced by NaN, Inf, text, a cell, ...). Case i of seed s is always
the same input. Each case converts in a forked child (under an address-space limit) so
that a crash or hang is counted, not suffered. Outcomes:

  converted   exit 0 and a model.py that parses
  error       one-line ConversionError, nothing written
  traceback   any other exception
  signal      the child died of a signal (e.g. SIGSEGV in the C reader)
  hang        still running at --timeout
  partial     output files left behind by a failed conversion (or an unparsable model.py)
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codegen import api, isolate  # noqa: E402
from codegen.errors import ConversionError  # noqa: E402
from codegen.testing import dltwriter as w  # noqa: E402
from codegen.testing import hostile  # noqa: E402

OUTCOMES = ("converted", "error", "traceback", "signal", "hang", "partial")
MUTATIONS = (*hostile.BYTE_MUTATIONS, "type-swap")


@dataclass
class Case:
    index: int
    source: str  # file name or network name
    mutation: str
    detail: str
    data: bytes


def base_files(corpus: Path | None, workdir: Path) -> dict[str, bytes]:
    """Name → bytes of every unmutated input."""
    files = {"tiny_cnn.mat": (REPO / "examples" / "tiny_cnn.mat").read_bytes()}
    for name, build in hostile.NETWORKS.items():
        path = workdir / f"{name}.mat"
        w.write_mat(path, {"net": build()})
        files[path.name] = path.read_bytes()
    if corpus is not None and corpus.is_dir():
        for path in sorted(corpus.rglob("*.mat")):
            files[str(path.relative_to(corpus))] = path.read_bytes()
    return files


def cases(
    files: dict[str, bytes], seed: int, count: int, workdir: Path
) -> Iterator[Case]:
    swaps = list(hostile.field_swaps())
    names = sorted(files)
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        mutation = rng.choice(MUTATIONS)
        if mutation == "type-swap":
            swap = rng.choice(swaps)
            path = workdir / "swap.mat"
            w.write_mat(path, {"net": swap.build()})
            yield Case(
                index, f"{swap.network}.mat", mutation, str(swap), path.read_bytes()
            )
            continue
        name = rng.choice(names)
        case_seed = rng.randrange(2**32)
        data = hostile.mutate_bytes(files[name], mutation, case_seed)
        yield Case(index, name, mutation, f"seed {case_seed}", data)


def _child(path: Path, out: Path, report: int) -> None:
    """Convert; write a one-line report to the pipe; exit with the outcome's code."""
    code, text = 3, ""
    try:
        warnings.simplefilter("ignore")
        isolate._limit_memory(isolate.budget_for(str(path), None))
        api.convert(path, out)
        code = 0
    except ConversionError as exc:
        code, text = 2, str(exc)
    except BaseException as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        text = (
            f"{type(exc).__name__}: {exc} at {Path(frame.filename).name}:{frame.lineno}"
        )
    finally:
        os.write(report, text.encode("utf-8", "backslashreplace")[:2000])
        os._exit(code)


# Peak resident memory of the children that converted inputs under 10 MB (KiB, as
# getrusage reports it on Linux); the summary line prints it.
PEAK_RSS_KIB = {"under_10mb": 0}


def run_case(case: Case, workdir: Path, timeout: float) -> tuple[str, str]:
    """(outcome, detail) of converting ``case`` in a forked child."""
    path = workdir / "case.mat"
    out = workdir / "out"
    shutil.rmtree(out, ignore_errors=True)
    path.write_bytes(case.data)
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(path, out, write_end)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            if len(case.data) < 10 << 20:
                peak = PEAK_RSS_KIB["under_10mb"]
                PEAK_RSS_KIB["under_10mb"] = max(peak, usage.ru_maxrss)
            break
        time.sleep(0.005)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        return "hang", f"still running after {timeout:g} s"
    text = os.read(read_end, 4000).decode("utf-8", "replace")
    os.close(read_end)
    assert status is not None
    if os.WIFSIGNALED(status):
        return "signal", signal.Signals(os.WTERMSIG(status)).name
    code = os.WEXITSTATUS(status)
    left = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if code == 0:
        try:
            ast.parse((out / "model.py").read_text())
        except (OSError, SyntaxError) as exc:
            return "partial", f"model.py unusable: {exc}"
        return "converted", ""
    if left:
        return "partial", f"left {left} ({text})"
    if code == 2:
        return (
            ("error", text)
            if "\n" not in text
            else ("traceback", "multi-line: " + text)
        )
    return "traceback", text


def fuzz(
    count: int,
    seed: int,
    corpus: Path | None = None,
    timeout: float = 60.0,
    show: tuple[str, ...] = (),
) -> Counter[str]:
    counts: Counter[str] = Counter({o: 0 for o in OUTCOMES})
    with tempfile.TemporaryDirectory(prefix="mat2torch-fuzz-") as tmp:
        workdir = Path(tmp)
        files = base_files(corpus, workdir)
        for case in cases(files, seed, count, workdir):
            outcome, detail = run_case(case, workdir, timeout)
            counts[outcome] += 1
            if outcome in show:
                print(
                    f"{outcome:9} #{case.index} {case.source} {case.mutation} {case.detail}: {detail}"
                )
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    default_corpus = REPO.parent / "shared" / "corpus"
    parser.add_argument(
        "--corpus",
        type=Path,
        default=default_corpus if default_corpus.is_dir() else None,
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument(
        "--show", default="traceback,signal,hang,partial", help="outcomes to list"
    )
    args = parser.parse_args()
    start = time.monotonic()
    counts = fuzz(
        args.count, args.seed, args.corpus, args.timeout, tuple(args.show.split(","))
    )
    print(
        f"{args.count} inputs (seed {args.seed}) in {time.monotonic() - start:.0f} s: "
        + ", ".join(f"{o} {counts[o]}" for o in OUTCOMES)
        + f"; peak RSS of a conversion of an input under 10 MB: "
        f"{PEAK_RSS_KIB['under_10mb'] / 1024:.0f} MiB"
    )
    bad = sum(counts[o] for o in ("traceback", "signal", "hang", "partial"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
