"""EventWriter: a run's events, numbered in order and written to the store in batches.

Agents emit events from the event loop and, for managed agents, from other
threads; ``put`` may be called from any thread. One drain task writes them,
so their ids (1, 2, 3, ...) follow the order they happened in, and a store
that is briefly unreachable delays the stream without losing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..agents import events as ev
from .records import event_record
from .store import Store

__all__ = ["EventWriter"]

log = logging.getLogger(__name__)


class EventWriter:
    """Numbers a run's events and writes them to ``store`` from one task."""

    def __init__(self, store: Store, run_id: str, last_id: int, persist: Callable[..., Awaitable[Any]]):
        self.store = store
        self.run_id = run_id
        self.next_id = last_id + 1
        self.persist = persist
        self.steps: list[dict[str, Any]] = []
        """Top-level steps seen so far (kept for a run that ends without a result)."""
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the drain task (inside the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._drain())

    def put(self, event: ev.AgentEvent) -> None:
        """Queue an agent event (thread-safe); events that are not streamed are dropped."""
        record = event_record(event)
        if record is None or self._loop is None:
            return
        if record[0] == "step_finished" and record[1]["depth"] == 0:
            self.steps.append(record[1]["step"])
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._queue.put_nowait(record)
        else:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, record)

    async def _drain(self) -> None:
        closing = False
        while not closing:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if batch[-1] is None or None in batch:
                closing = True
            events = []
            for item in batch:
                if item is None:
                    continue
                events.append((self.next_id, item[0], item[1]))
                self.next_id += 1
            if events:
                try:
                    await self.persist(self.store.add_events, self.run_id, events)
                except Exception:  # the store stayed away past the retry window
                    log.exception("lost %d events of run %s", len(events), self.run_id)

    async def close(self, last: tuple[str, dict[str, Any]] | None = None) -> None:
        """Write ``last`` after every queued event, then stop."""
        if self._task is None:
            return
        if last is not None:
            self._queue.put_nowait(last)
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
