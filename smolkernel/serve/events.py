"""EventWriter: a run's events, numbered in order and written to the store in batches.

Agents emit events from the event loop and, for managed agents, from other
threads; ``put`` may be called from any thread. One task at a time writes
them, each write taking every event queued meanwhile, so their ids (1, 2,
3, ...) follow the order they happened in, and a store that is briefly
unreachable delays the stream without losing it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from ..agents import events as ev
from .records import event_record
from .store import Store

__all__ = ["EventWriter"]

log = logging.getLogger(__name__)


class EventWriter:
    """Numbers a run's events and writes them to ``store``, a batch at a time."""

    def __init__(self, store: Store, run_id: str, last_id: int, persist: Callable[..., Awaitable[Any]]):
        self.store = store
        self.run_id = run_id
        self.next_id = last_id + 1
        self.persist = persist
        self.steps: list[dict[str, Any]] = []
        """Top-level steps seen so far (kept for a run that ends without a result)."""
        self._batch: list[tuple[str, dict[str, Any]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._writing: asyncio.Task[None] | None = None
        """Writes batches while there are events; started by the first event after a quiet spell."""

    def start(self) -> None:
        """Take events from now on (inside the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def put(self, event: ev.AgentEvent) -> None:
        """Queue an agent event (thread-safe); events that are not streamed are dropped."""
        record, loop = event_record(event), self._loop  # (close() may clear _loop from the loop's thread meanwhile)
        if record is None or loop is None:
            return
        if record[0] == "step_finished" and record[1]["depth"] == 0:
            self.steps.append(record[1]["step"])
        if threading.get_ident() == self._loop_thread:  # (asyncio.get_running_loop() makes a system call on 3.11)
            self._add(record)
        else:
            loop.call_soon_threadsafe(self._add, record)

    def _add(self, record: tuple[str, dict[str, Any]]) -> None:
        self._batch.append(record)
        if self._writing is None and self._loop is not None:
            self._writing = self._loop.create_task(self._write())

    async def _write(self) -> None:
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                events = [(self.next_id + offset, kind, data) for offset, (kind, data) in enumerate(batch)]
                self.next_id += len(events)
                try:
                    await self.persist(self.store.add_events, self.run_id, events)
                except Exception:  # the store stayed away past the retry window
                    log.exception("lost %d events of run %s", len(events), self.run_id)
        finally:
            self._writing = None

    async def close(self) -> None:
        """Return once every event put so far is written; later ones are dropped."""
        while (task := self._writing) is not None:
            await asyncio.wait({task})  # whatever became of it; raises only if the caller is cancelled
            if self._writing is task:  # cancelled before it began
                self._writing = None
        self._loop = None
