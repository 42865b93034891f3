"""Run one command-line conversion in a forked child process.

mat-io's reader is C: a file crafted past the checks in :mod:`codegen.readers.bounds` can
still crash it (a segfault) or make it allocate without end. The child does the whole
job, writing the outputs itself (no weights cross a pipe), under an address-space limit;
the parent waits with a timeout and turns a signal death, a timeout or an exhausted
memory limit into one sentence and exit status 2. The staging directory a killed child
leaves behind is removed by the parent. Platforms without fork run in-process.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import io
import os
import select
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from codegen import output
from codegen.readers.bounds import GIB, default_budget

# Address space the child may use beyond what it has when forked (code, libraries,
# Python objects) and the file's own budget: working copies while converting.
SLACK = 2 * GIB


def _real_fd(stream: TextIO, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _vsize() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(budget: int) -> None:
    try:
        import resource
    except ImportError:  # not POSIX
        return
    current = _vsize()
    if not current:
        return
    limit = current + budget + SLACK
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def budget_for(file: str, max_memory: int | None) -> int:
    if max_memory is not None:
        return max_memory
    try:
        return default_budget(os.stat(file).st_size)
    except OSError:
        return default_budget(0)


def run(
    job: Callable[[], int],
    *,
    file: str,
    out_dir: str | None,
    budget: int,
    timeout: float,
    error: Callable[[str], None],
) -> int:
    """``job()`` in a child process; its exit status, or 2 with one sentence on a crash."""
    if not hasattr(os, "fork"):
        return job()
    streams = (sys.stdout, sys.stderr)
    direct = _real_fd(sys.stdout, 1) and _real_fd(sys.stderr, 2)
    pipes = [] if direct else [os.pipe(), os.pipe()]
    for stream in streams:
        stream.flush()
    gc.freeze()  # the child's collections then leave the parent's objects unshared-free
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            if pipes:
                for (read_end, write_end), name in zip(
                    pipes, ("stdout", "stderr"), strict=True
                ):
                    os.close(read_end)
                    setattr(
                        sys,
                        name,
                        io.TextIOWrapper(
                            os.fdopen(write_end, "wb"),
                            encoding="utf-8",
                            errors="backslashreplace",
                            line_buffering=True,
                        ),
                    )
            faulthandler.disable()  # a crash is reported by the parent, in one line
            _limit_memory(budget)
            code = job()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # the job reports its own errors
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    gc.unfreeze()
    return _wait(pid, pipes, streams, file, out_dir, timeout, error)


def _wait(
    pid: int,
    pipes: list[tuple[int, int]],
    streams: tuple[TextIO, TextIO],
    file: str,
    out_dir: str | None,
    timeout: float,
    error: Callable[[str], None],
) -> int:
    readers = {}
    for (read_end, write_end), stream in zip(pipes, streams[: len(pipes)], strict=True):
        os.close(write_end)
        readers[read_end] = stream
    previous = signal.signal(signal.SIGTERM, lambda s, f: os.kill(pid, signal.SIGTERM))
    deadline = time.monotonic() + timeout
    status = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _drain(readers)
                _clean(pid, out_dir)
                error(
                    f"mat2torch: error: {Path(file).name}: converting took longer than "
                    f"{timeout:g} seconds and was stopped; the file may be damaged or "
                    "crafted to hang the reader (raise the limit with --timeout). "
                    "Nothing was written."
                )
                return 2
            if readers:
                _relay(readers, min(left, 0.5))
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                _drain(readers)
                break
            if not readers:
                time.sleep(min(left, 0.01))
    except KeyboardInterrupt:  # Ctrl-C reached the child too; let it finish cleanly
        try:
            os.kill(pid, signal.SIGINT)
            _done, status = os.waitpid(pid, 0)
        except OSError:
            pass
        _clean(pid, out_dir)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        for read_end in list(readers):
            os.close(read_end)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        _clean(pid, out_dir)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", -1)):
            error(f"mat2torch: stopped by {name}; nothing was written.")
            return 128 + number
        error(
            f"mat2torch: error: {Path(file).name}: mat2torch's reader crashed on this file "
            f"({name}); the file is damaged or crafted. Nothing was written."
        )
        return 2
    return os.WEXITSTATUS(status)


def _relay(readers: dict[int, TextIO], timeout: float) -> bool:
    """Copy what the child wrote to its pipes (waiting up to ``timeout`` for some);
    False when nothing came."""
    if not readers:
        return False
    ready, _, _ = select.select(list(readers), [], [], timeout)
    for fd in ready:
        data = os.read(fd, 65536)
        if not data:
            os.close(fd)
            del readers[fd]
            continue
        stream = readers[fd]
        stream.write(data.decode("utf-8", "backslashreplace"))
        stream.flush()
    return bool(ready)


def _drain(readers: dict[int, TextIO]) -> None:
    """After the child is gone: everything left in the pipes, then their end."""
    while readers and _relay(readers, 0.1):
        pass


def _clean(pid: int, out_dir: str | None) -> None:
    """Remove the staging directory a killed child left in the output directory."""
    if out_dir is None:
        return
    try:
        leftovers = list(Path(out_dir).glob(f"{output.STAGING_PREFIX}{pid}-*"))
    except OSError:
        return
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
