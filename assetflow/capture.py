"""What assets print and log while they run, kept per attempt instead of mixed into a run's output.

While a run goes, :func:`redirect` replaces ``sys.stdout`` and ``sys.stderr`` by
streams that hand each write to the :class:`Output` of the attempt running in
the writing thread (set with :func:`capturing`), and pass every other thread's
writes through to the streams they replaced. A handler on the root logger does
the same with logging records. The replacement is process-wide and counted, so
runs in several threads of one process share it, and it is undone when the
last one ends.

Worker processes run one job at a time, so they also capture their file
descriptors 1 and 2 (what C code and child processes write); see
:mod:`assetflow.executors.pool`.

Example:
    >>> out = Output()
    >>> with redirect(), capturing(out):
    ...     print("hello")
    >>> out.text()
    'hello\\n'
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

#: Bytes of output kept per attempt: the last ones, which hold the error's context.
LIMIT = 64 * 1024

_local = threading.local()


class Output:
    """What one attempt printed and logged; only the last :data:`LIMIT` bytes are kept."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._cut = False
        self._lock = threading.Lock()  # threads the asset starts may write too

    def write(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            if self._size > 2 * self._limit:
                # Characters are at least one byte: keeping `limit` of them keeps enough.
                joined = "".join(self._parts)[-self._limit :]
                self._parts, self._size, self._cut = [joined], len(joined), True

    def text(self) -> str | None:
        """The output, or None if nothing was written; a cut is said on the first line."""
        with self._lock:
            joined = "".join(self._parts)
            cut = self._cut
        if not joined:
            return None
        return clip(joined, self._limit, cut=cut)


def clip(text: str, limit: int = LIMIT, *, cut: bool = False) -> str:
    """``text``'s last ``limit`` bytes (UTF-8), with a first line saying so if cut."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit and not cut:
        return text
    kept = data[-limit:].decode("utf-8", "ignore")
    return f"[output cut: only the last {limit // 1024} KiB are kept]\n{kept}"


def current() -> Output | None:
    """The output this thread's writes go to, if it is running an attempt."""
    output: Output | None = getattr(_local, "output", None)
    return output


@contextlib.contextmanager
def capturing(output: Output) -> Iterator[Output]:
    """Send this thread's prints and logging records to ``output`` (needs :func:`redirect`)."""
    previous = current()
    _local.output = output
    try:
        yield output
    finally:
        _local.output = previous


class _Stream:
    """A ``sys.stdout``/``sys.stderr`` stand-in that writes to the thread's output, if any."""

    def __init__(self, passthrough: TextIO) -> None:
        self.passthrough = passthrough

    def write(self, text: str) -> int:
        output = current()
        if output is None:
            return self.passthrough.write(text)
        output.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if current() is None:
            self.passthrough.flush()

    def isatty(self) -> bool:
        return current() is None and self.passthrough.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, buffer, ...
        return getattr(self.passthrough, name)


class _Handler(logging.Handler):
    """Logging records of a capturing thread go to its output; others as if we were absent."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        output = current()
        if output is not None:
            output.write(self.format(record) + "\n")
            return
        # Where no other handler hears it, logging would have used its last resort.
        last = logging.lastResort
        if last is not None and record.levelno >= last.level and not self._heard(record.name):
            last.handle(record)

    def _heard(self, name: str) -> bool:
        """Whether a handler other than this one gets records of logger ``name``."""
        logger: logging.Logger | None = (
            logging.getLogger(name) if name != "root" else logging.getLogger()
        )
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False


_lock = threading.Lock()
_users = 0
_saved: tuple[Any, Any] | None = None
_handler: _Handler | None = None


@contextlib.contextmanager
def redirect() -> Iterator[None]:
    """Install the capturing streams and logging handler for the duration of the block."""
    global _users, _saved, _handler
    with _lock:
        if _users == 0:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout = _Stream(sys.stdout)
            sys.stderr = _Stream(sys.stderr)
            _handler = _Handler()
            logging.getLogger().addHandler(_handler)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                assert _saved is not None and _handler is not None
                # Put back only what is still ours: something may have replaced it since.
                if isinstance(sys.stdout, _Stream):
                    sys.stdout = _saved[0]
                if isinstance(sys.stderr, _Stream):
                    sys.stderr = _saved[1]
                logging.getLogger().removeHandler(_handler)
                _saved, _handler = None, None


__all__ = ["LIMIT", "Output", "capturing", "clip", "current", "redirect"]
