"""BatchView: progress of many runs (done, failed, total, throughput, time left).

Usage (parallel runs)::

    from smolkernel.widgets import BatchView

    batch = BatchView(total=len(tasks), title="Evaluating")
    display(batch)
    for result in results_as_they_come:
        batch.record(result.success)      # thread-safe; redraws at most 10 times a second
    batch.finish()                        # final snapshot (automatic when all are recorded)
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as w

from ._render import BOX, GREEN, RED, format_seconds
from ._snapshot import SnapshotView
from ._throttle import Throttle

__all__ = ["BatchView"]


class BatchView(SnapshotView):
    """A progress bar with done, failed and total, throughput and time left.

    Args:
        total: how many runs the batch holds.
        title: shown before the figures.
        interval: minimum seconds between two redraws.
        keep_widget: keep the live widget in the output once finished.
    """

    def __init__(self, total: int, title: str = "Batch", *, interval: float = 0.1, keep_widget: bool = False) -> None:
        super().__init__(keep_widget=keep_widget)
        self.total = total
        self.title = title
        self.done = 0
        """Runs that ended with an answer."""
        self.failed = 0
        """Runs that failed."""
        self.running = 0
        """Runs under way (counted by ``started()``)."""
        self.tokens = 0
        """Tokens spent by the finished runs."""
        self.cost: float | None = None
        """Dollars of the finished runs whose price is known."""
        self.started = time.monotonic()
        self.ended: float | None = None
        self._lock = threading.Lock()
        self.bar = w.IntProgress(value=0, min=0, max=max(total, 1))
        self.label = w.HTML()
        self.widget = w.VBox([self.bar, self.label])
        self.widget.add_class("smolkernel-batch-view")
        self._throttle = Throttle(self._redraw, interval)
        self._redraw()

    @property
    def finished(self) -> int:
        """Runs that ended either way."""
        return self.done + self.failed

    @property
    def elapsed(self) -> float:
        """Seconds since the batch began (until it ended)."""
        return (self.ended or time.monotonic()) - self.started

    @property
    def throughput(self) -> float:
        """Runs finished per second."""
        return self.finished / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def time_left(self) -> float | None:
        """Estimated seconds until every run has finished (None before the first)."""
        if not self.finished or self.throughput == 0:
            return None
        return (self.total - self.finished) / self.throughput

    def started(self) -> None:
        """Count one more run under way (thread-safe)."""
        with self._lock:
            self.running += 1
        self._throttle.request()

    def record(self, success: bool = True, *, tokens: int = 0, cost: float | None = None) -> None:
        """Count one finished run, its tokens and cost (thread-safe); the last one finishes the batch."""
        with self._lock:
            if success:
                self.done += 1
            else:
                self.failed += 1
            self.running = max(self.running - 1, 0)
            self.tokens += tokens
            if cost is not None:
                self.cost = (self.cost or 0.0) + cost
            complete = self.finished >= self.total
        if complete:
            self.finish()
        else:
            self._throttle.request()

    def update(self, *, done: int | None = None, failed: int | None = None) -> None:
        """Set the counts directly (thread-safe)."""
        with self._lock:
            self.done = self.done if done is None else done
            self.failed = self.failed if failed is None else failed
        self._throttle.request()

    def finish(self) -> None:
        """Stop the clock, redraw and rewrite the output with the final snapshot."""
        with self._lock:
            if self.ended is None:
                self.ended = time.monotonic()
        self._throttle.flush()
        self._throttle.cancel()
        self.refresh_snapshot(final=True)

    def _redraw(self) -> None:
        with self._lock:
            self.bar.value = min(self.finished, self.bar.max)
            self.bar.bar_style = "danger" if self.failed else "success" if self.ended else ""
            self.label.value = self._figures_html()

    def _figures(self) -> str:
        left = self.time_left
        eta = "" if left is None or self.ended else f" · {format_seconds(left)} left"
        running = f", {self.running} running" if self.running and not self.ended else ""
        tokens = f" · {self.tokens} tokens" if self.tokens else ""
        cost = f" · ${self.cost:.4f}" if self.cost is not None else ""
        return (
            f"{self.finished}/{self.total} ({self.done} done, {self.failed} failed{running}){tokens}{cost} · "
            f"{self.throughput:.2f} runs/s · {format_seconds(self.elapsed)}{eta}"
        )

    def _figures_html(self) -> str:
        failed = f"<b style='color:{RED}'>{self.failed} failed</b>" if self.failed else "0 failed"
        text = html.escape(self._figures()).replace(f"{self.failed} failed", failed, 1)
        return f"<span class='sk-batch'>{html.escape(self.title)}: {text}</span>"

    def to_html(self) -> str:
        """The bar and figures as static HTML."""
        share = 100 * self.done / max(self.total, 1)
        fail = 100 * self.failed / max(self.total, 1)
        bar = (
            f"<div style='width:300px;height:10px;background:#eee;display:flex'>"
            f"<div style='width:{share:.1f}%;background:{GREEN}'></div><div style='width:{fail:.1f}%;background:{RED}'></div></div>"
        )
        return f"<div class='smolkernel-batch-view' style='{BOX}font-family:sans-serif;font-size:13px'>{bar}{self._figures_html()}</div>"

    def to_text(self) -> str:
        """The figures as plain text with a text bar."""
        filled = int(30 * self.finished / max(self.total, 1))
        return f"{self.title}: [{'#' * filled}{'.' * (30 - filled)}] {self._figures()}"
