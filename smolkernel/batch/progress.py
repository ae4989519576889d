"""Progress of a batch: a BatchView in Jupyter, a bar in a terminal, nothing otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

from .results import TaskResult

__all__ = ["Progress", "NoProgress", "TerminalProgress", "ViewProgress", "make_progress"]


class Progress(Protocol):
    """What the engine tells about the batch as it goes."""

    def start(self, total: int, already: int) -> None:
        """The batch begins: ``total`` inputs, ``already`` of them done by an earlier run."""

    def started(self) -> None:
        """One more task is running."""

    def record(self, result: TaskResult) -> None:
        """A task finished."""

    def finish(self) -> None:
        """The batch ended."""


class NoProgress:
    """Says nothing (``progress=False``, or output that is not a terminal)."""

    def start(self, total: int, already: int) -> None:
        """Nothing."""

    def started(self) -> None:
        """Nothing."""

    def record(self, result: TaskResult) -> None:
        """Nothing."""

    def finish(self) -> None:
        """Nothing."""


class _Counts:
    def __init__(self) -> None:
        self.total = self.done = self.failed = self.running = 0
        self.tokens = 0
        self.cost: float | None = None
        self.began = time.monotonic()

    def add(self, result: TaskResult) -> None:
        self.running = max(self.running - 1, 0)
        if result.success:
            self.done += 1
        else:
            self.failed += 1
        self.tokens += result.token_usage.total_tokens
        if result.cost is not None:
            self.cost = (self.cost or 0.0) + result.cost


class TerminalProgress(NoProgress):
    """A one-line bar redrawn on ``stream`` (stderr) at most ``fps`` times a second."""

    def __init__(self, stream: TextIO | None = None, *, fps: float = 5.0, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.interval = 1.0 / fps
        self.width = width
        self.counts = _Counts()
        self._last = 0.0
        self._session_done = 0

    def start(self, total: int, already: int) -> None:
        """Draw the empty bar."""
        self.counts.total = total
        self.counts.done = already
        self.counts.began = time.monotonic()
        self._draw(force=True)

    def started(self) -> None:
        """Count a running task."""
        self.counts.running += 1

    def record(self, result: TaskResult) -> None:
        """Count a finished task and redraw when due."""
        self.counts.add(result)
        self._session_done += 1
        self._draw()

    def finish(self) -> None:
        """Draw the final bar and end the line."""
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()

    def line(self) -> str:
        """The bar and figures as text."""
        c = self.counts
        finished = c.done + c.failed
        filled = int(self.width * finished / max(c.total, 1))
        elapsed = time.monotonic() - c.began
        rate = self._session_done / elapsed if elapsed > 0 else 0.0
        eta = f" · {(c.total - finished) / rate:.0f}s left" if rate > 0 and finished < c.total else ""
        cost = f" · ${c.cost:.4f}" if c.cost is not None else ""
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {finished}/{c.total} "
            f"({c.done} done, {c.failed} failed, {c.running} running) · {c.tokens} tokens{cost} · {elapsed:.1f}s{eta}"
        )

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self.stream.write("\r" + self.line())
        self.stream.flush()


class ViewProgress(NoProgress):
    """Feeds a ``BatchView`` widget (displayed by the caller or here)."""

    def __init__(self, view: Any = None, *, title: str = "Batch", show: bool = True) -> None:
        self.view = view
        self.title = title
        self.show = show

    def start(self, total: int, already: int) -> None:
        """Make (and display) the view, counting what an earlier run did."""
        if self.view is None:
            from ..widgets import BatchView

            self.view = BatchView(total=total, title=self.title)
            if self.show:
                from IPython.display import display

                display(self.view)
        else:
            self.view.total = total
            self.view.bar.max = max(total, 1)
        if already:
            self.view.update(done=already)

    def started(self) -> None:
        """Count a running task."""
        started = getattr(self.view, "started", None)
        if callable(started):
            started()

    def record(self, result: TaskResult) -> None:
        """Count a finished task."""
        try:
            self.view.record(result.success, tokens=result.token_usage.total_tokens, cost=result.cost)
        except TypeError:  # a BatchView without token figures
            self.view.record(result.success)

    def finish(self) -> None:
        """Freeze the view with its final snapshot."""
        self.view.finish()


def _in_jupyter_kernel() -> bool:
    module = sys.modules.get("IPython")
    if module is None:
        return False
    try:
        shell = module.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def make_progress(progress: Any, *, title: str = "Batch") -> Progress:
    """The reporter for ``progress=``: True picks by where we run; False is silent.

    A ``BatchView`` (or anything with ``record``/``finish``) is fed as it is;
    an object with ``start``/``record``/``finish`` of its own is used directly.
    """
    if progress is False or progress is None:
        return NoProgress()
    if progress is True:
        if _in_jupyter_kernel():
            return ViewProgress(title=title)
        if sys.stderr is not None and sys.stderr.isatty():
            return TerminalProgress()
        return NoProgress()
    if all(hasattr(progress, name) for name in ("start", "started", "record", "finish")):
        return progress
    if hasattr(progress, "record"):
        return ViewProgress(progress)
    raise TypeError(f"progress must be True, False, a BatchView or a Progress reporter, not {type(progress).__name__}")
