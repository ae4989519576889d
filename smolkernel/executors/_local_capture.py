"""Capture what generated code prints, per thread, without stealing other threads' output.

``contextlib.redirect_stdout`` swaps ``sys.stdout`` for the whole process, so
while an agent runs in a worker thread, output of the notebook's other
threads (ipykernel's, a progress bar's) would land in the agent's log. Here,
instead, ``sys.stdout`` and ``sys.stderr`` are replaced by a router while at
least one run is capturing: a write from a thread that is capturing goes to
that thread's buffer, any other write goes to the stream that was there
before. When the last capture ends the original streams are put back (unless
someone replaced them in the meantime; then they are left alone).

Generated code also gets its own ``print`` (see ``capturing_print``), which
looks the buffer up the same way, so printing is captured even if a library
swaps ``sys.stdout`` during the run. Output of threads that the generated
code starts itself is not captured; it goes to the original streams.
"""

from __future__ import annotations

import builtins
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from .base import truncate

__all__ = ["LogBuffer", "capture_thread_output", "capturing_print"]


class LogBuffer:
    """One run's stdout and stderr, in order, bounded in memory.

    Keeps everything up to ``keep`` characters; beyond that it keeps the
    first and the last ``keep // 2`` characters and counts what it dropped, so
    a ``while True: print(...)`` loop cannot exhaust memory before its timeout.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.keep = max(4 * limit, 4096) if limit > 0 else 0
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self._total = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Append ``text``; return its length, like a stream."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        written = len(text)
        with self._lock:
            self._total += len(text)
            if not self.keep or self._head_len + len(text) <= self.keep // 2:
                self._head.append(text)
                self._head_len += len(text)
            else:
                room = self.keep // 2 - self._head_len
                if room > 0:
                    self._head.append(text[:room])
                    self._head_len += room
                    text = text[room:]
                self._tail = (self._tail + text)[-(self.keep // 2):]
        return written

    def flush(self) -> None:
        """Nothing to flush; present so the buffer can stand in for a stream."""

    def getvalue(self) -> str:
        """Everything written, cut to ``limit`` characters with base.truncate's marker."""
        with self._lock:
            head = "".join(self._head)
            stored = len(head) + len(self._tail)
            if stored == self._total:
                return truncate(head + self._tail, self.limit)
            # Part of the middle was never stored: cut the same way as truncate(), counting it too.
            keep_head = self.limit * 2 // 3
            keep_tail = self.limit - keep_head
            dropped = self._total - keep_head - keep_tail
            return f"{head[:keep_head]}\n[... output truncated: {dropped} characters omitted ...]\n{self._tail[-keep_tail:]}"


class _StreamRouter:
    """Stands in for ``sys.stdout``/``sys.stderr``; routes writes by thread."""

    def __init__(self, original: TextIO | None):
        self.original = original

    def write(self, text: str) -> int:
        buffer = _targets.get(threading.get_ident())
        if buffer is not None:
            return buffer.write(text)
        if self.original is None:
            return len(text)
        return self.original.write(text)

    def flush(self) -> None:
        if threading.get_ident() not in _targets and self.original is not None:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


_lock = threading.Lock()
_targets: dict[int, LogBuffer] = {}
"""Thread id -> the buffer its output goes to (process-wide, like sys.stdout itself)."""


@contextmanager
def capture_thread_output(buffer: LogBuffer) -> Iterator[LogBuffer]:
    """Send the calling thread's ``sys.stdout``/``sys.stderr`` writes to ``buffer``."""
    thread_id = threading.get_ident()
    with _lock:
        _targets[thread_id] = buffer
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _StreamRouter):
                setattr(sys, name, _StreamRouter(current))
    try:
        yield buffer
    finally:
        with _lock:
            _targets.pop(thread_id, None)
            if not _targets:
                for name in ("stdout", "stderr"):
                    current = getattr(sys, name)
                    if isinstance(current, _StreamRouter):
                        setattr(sys, name, current.original)


def capturing_print(*values: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False) -> None:
    """``print`` for generated code: to the run's log when the thread is capturing."""
    if file is None:
        buffer = _targets.get(threading.get_ident())
        if buffer is not None:
            sep = " " if sep is None else sep
            end = "\n" if end is None else end
            buffer.write(sep.join(str(v) for v in values) + end)
            return
    builtins.print(*values, sep=sep, end=end, file=file, flush=flush)


capturing_print.__name__ = capturing_print.__qualname__ = "print"
capturing_print.__doc__ = builtins.print.__doc__
