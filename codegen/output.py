"""Writing model.py and model.safetensors as a pair.

Both files are staged in one temporary directory beside the targets, then moved into
place weights first and model.py last. model.py names the conversion (source file, its sha256,
variable) that the weights file records in its metadata, and its ``load_model()`` checks
the default weights file against it, so a reader
never silently gets a new model.py with old weights, or old weights with a new model.py,
even if the moves are interrupted between them. The temporary directory is removed on
every exit Python controls: an exception, Ctrl-C, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import BinaryIO

STAGING_PREFIX = ".mat2torch-"


class _Terminated(SystemExit):
    """A termination signal arrived while files were staged: exit (128 + signal)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated(128 + signum)


@contextmanager
def _signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise (so ``finally`` clauses run) instead of
    killing the process outright. Only the main thread can install handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    previous = {}
    for name in wanted:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, _raise_terminated)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def write_pair(
    model_py: Path,
    source: bytes | Callable[[], bytes],
    weights: Path,
    tensors: bytes | Callable[[BinaryIO], None],
    extra: dict[Path, bytes | Callable[[], bytes]] | None = None,
) -> None:
    """Write ``model_py`` (and ``weights`` unless ``tensors`` is empty), all or nothing.

    ``tensors`` is the weights file's bytes, or a function that streams them to a handle
    (a large network's weights are never held in memory as one file). ``source`` and
    the ``extra`` texts may be functions giving the bytes: they are called after the
    weights are written (what is learnt while writing can go into model.py).

    ``extra`` files (the README) are moved after the weights and before model.py. With
    no tensors an earlier weights file at ``weights`` is removed after model.py is in
    place: an untrained model.py never reads a default weights file.
    """
    with _signals_raise():
        prefix = (
            f"{STAGING_PREFIX}{os.getpid()}-"  # a crashed process's is found by pid
        )
        staging = Path(tempfile.mkdtemp(dir=model_py.parent, prefix=prefix))
        try:
            staged: list[tuple[Path, bytes | Callable[[BinaryIO], None], Path]] = []
            if tensors:
                staged.append((staging / weights.name, tensors, weights))
            for target, text in (extra or {}).items():
                staged.append((staging / target.name, _writer(text), target))
            staged.append((staging / model_py.name, _writer(source), model_py))
            for tmp, content, _ in staged:
                # a new file: ordinary permissions (0o666 & ~umask), unlike mkstemp's 0o600
                with open(tmp, "xb") as handle:
                    if callable(content):
                        content(handle)
                    else:
                        handle.write(content)
            for tmp, _, target in staged:  # weights first, model.py last
                os.replace(tmp, target)
            if not tensors and weights.exists():
                weights.unlink()
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _writer(content: bytes | Callable[[], bytes]) -> bytes | Callable[[BinaryIO], None]:
    """Bytes as they are; a function giving bytes as one writing them to a handle."""
    if not callable(content):
        return content
    make = content

    def write(handle: BinaryIO) -> None:
        handle.write(make())

    return write
