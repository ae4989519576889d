"""Coalesce bursts of updates into at most one per interval, thread-safely.

A streamed reply arrives as hundreds of small events a second. Sending a
widget update for each would flood the frontend (every update is a comm
message through the kernel's IOPub socket), so views mark themselves dirty
and ask a ``Throttle`` to run their redraw: the first request runs at once,
later ones within ``interval`` are merged into one trailing run by a timer,
and ``flush()`` runs now (step end, run end).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Run ``action`` at most once per ``interval`` seconds, never dropping the last request.

    Args:
        action: what to run (a view's redraw); called without the throttle's lock held.
        interval: minimum seconds between two runs triggered by ``request``.
        clock: a monotonic clock (tests may pass a fake one).
    """

    def __init__(self, action: Callable[[], None], interval: float = 0.1, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._action = action
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._timer: threading.Timer | None = None
        self._pending = False
        self.runs = 0
        """How many times ``action`` ran."""
        self.requests = 0
        """How many times a run was asked for."""

    def request(self) -> None:
        """Ask for a run: now if the interval has passed, else once the interval is over."""
        with self._lock:
            self.requests += 1
            wait = self._last + self.interval - self._clock()
            if wait > 0 or self._timer is not None:
                self._pending = True
                if self._timer is None:
                    self._timer = threading.Timer(max(wait, 0.0), self._fire)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._last = self._clock()
        self._run()

    def flush(self) -> None:
        """Run now, cancelling any pending trailing run."""
        with self._lock:
            self.requests += 1
            self._cancel_timer()
            self._pending = False
            self._last = self._clock()
        self._run()

    def cancel(self) -> None:
        """Drop any pending run (the view is closing)."""
        with self._lock:
            self._cancel_timer()
            self._pending = False

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        with self._lock:
            if self._timer is None or threading.current_thread() is not self._timer:
                return  # cancelled or superseded by a flush
            self._timer = None
            if not self._pending:
                return
            self._pending = False
            self._last = self._clock()
        self._run()

    def _run(self) -> None:
        self.runs += 1
        self._action()
