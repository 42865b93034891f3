"""A one-line progress report on stderr, for conversions that take more than a second.

The work reports what it is doing with :func:`stage` and :func:`advance`; those cost
nothing unless the command line made a reporter active with :func:`shown_on`, which it
does only when stderr is a terminal (and not with ``--quiet``). The line appears after
a second, is redrawn a few times a second by a background thread, and is erased when
the work ends, so what the command prints afterwards is unchanged.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TextIO

DELAY = 1.0  # seconds before the line first appears
PERIOD = 0.2


class _Reporter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.text = ""
        self.done = 0
        self.total = 0
        self.drawn = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if self.stop.wait(DELAY):
            return
        while not self.stop.is_set():
            self.draw()
            self.stop.wait(PERIOD)

    def line(self) -> str:
        with self.lock:
            text, done, total = self.text, self.done, self.total
        elapsed = time.monotonic() - self.start
        bar = ""
        if total > 0:
            share = min(done / total, 1.0)
            filled = int(share * 20)
            bar = f" [{'#' * filled}{'.' * (20 - filled)}] {share:4.0%}"
        return f"mat2torch: {text}{bar} {elapsed:5.1f} s"

    def draw(self) -> None:
        try:
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()
            self.drawn = True
        except (OSError, ValueError):  # the terminal went away: stop drawing
            self.stop.set()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        if self.drawn:
            with contextlib.suppress(OSError, ValueError):
                self.stream.write("\r\x1b[K")
                self.stream.flush()


_active: _Reporter | None = None


def stage(text: str, total: int = 0) -> None:
    """Now doing ``text``; ``total`` units (bytes) to do, 0 when unknown."""
    reporter = _active
    if reporter is not None:
        with reporter.lock:
            reporter.text, reporter.done, reporter.total = text, 0, total


def advance(amount: int) -> None:
    reporter = _active
    if reporter is not None:
        with reporter.lock:
            reporter.done += amount


@contextlib.contextmanager
def shown_on(stream: TextIO | None) -> Iterator[None]:
    """Report progress on ``stream`` while active; ``None`` reports nothing."""
    global _active
    if stream is None or _active is not None:
        yield
        return
    reporter = _Reporter(stream)
    _active = reporter
    reporter.thread.start()
    try:
        yield
    finally:
        _active = None
        reporter.close()
