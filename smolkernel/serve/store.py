"""The run store: where runs, their events, sessions and cached results live.

Two implementations share this interface: :class:`EmbeddedStore` (SQLite on
disk; one server process; nothing to install) and :class:`RedisStore` (every
server replica shares it). A run record is a plain JSON-safe dict (see
``records.new_run``); the process executing a run is its only writer, except
for the cancel flag, which any replica may set.

Every method may raise ``StoreUnavailable`` when the backing service cannot be
reached; the API answers 503 then, and the runner retries its writes.
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["Store", "FINAL_STATUSES", "ACTIVE_STATUSES"]

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
"""Statuses after which a run never changes again."""
ACTIVE_STATUSES = frozenset({"queued", "running"})
"""Statuses of a run some server process is responsible for."""

Event = tuple[int, str, dict[str, Any]]
"""(event id, event type, data) of one run event; ids count 1, 2, 3, ..."""


class Store(abc.ABC):
    """Runs, events, sessions, result cache and server liveness, behind one interface."""

    kind: str = "store"
    """Short name shown by /healthz (``embedded`` or ``redis``)."""

    async def start(self) -> None:
        """Open connections or files."""

    async def close(self) -> None:
        """Release connections or files."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    # -- runs ---------------------------------------------------------------

    @abc.abstractmethod
    async def put_run(self, run: dict[str, Any], *, new: bool = False, events: list[Event] = ()) -> None:
        """Create (``new``) or replace the record ``run`` (keyed by ``run["run_id"]``); tracks active runs.

        ``events`` are appended to the run's stream in the same write (a
        finished run's record and its ``run_finished`` event: a reader never
        sees one without the other).
        """

    async def mark_running(self, run: dict[str, Any]) -> bool:
        """Save ``run`` (which is starting) and say whether someone asked to cancel it.

        One round trip where the store can do both at once (Redis).
        """
        await self.put_run(run)
        return await self.cancel_requested(run["run_id"])

    @abc.abstractmethod
    async def get_run(self, run_id: str) -> dict[str, Any] | None:
        """The record of ``run_id``, or None."""

    @abc.abstractmethod
    async def active_runs(self) -> list[dict[str, Any]]:
        """Every run whose status is queued or running."""

    @abc.abstractmethod
    async def recent_runs(self, owner: str | None, limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs of ``owner`` (None: runs made without a key), newest first."""

    # -- events -------------------------------------------------------------

    @abc.abstractmethod
    async def add_events(self, run_id: str, events: list[Event]) -> None:
        """Append events (ids given by the caller, increasing) to the run's stream."""

    @abc.abstractmethod
    async def read_events(self, run_id: str, after: int, timeout: float) -> list[Event]:
        """Events with id > ``after``; waits up to ``timeout`` seconds when there are none yet."""

    @abc.abstractmethod
    async def last_event_id(self, run_id: str) -> int:
        """The id of the run's latest event (0 when none)."""

    # -- cancel ---------------------------------------------------------------

    @abc.abstractmethod
    async def request_cancel(self, run_id: str) -> None:
        """Flag the run for cancellation and tell every server (the one running it acts)."""

    @abc.abstractmethod
    async def cancel_requested(self, run_id: str) -> bool:
        """True when someone asked to cancel the run."""

    async def watch_cancels(self, callback: Any) -> None:
        """Call ``callback(run_id)`` for cancel requests made through other processes (runs until cancelled)."""

    # -- sessions and cache ---------------------------------------------------

    @abc.abstractmethod
    async def get_session(self, session_id: str) -> dict[str, Any] | None:
        """A session's record (owner, runs, memory), or None."""

    @abc.abstractmethod
    async def put_session(self, session: dict[str, Any]) -> None:
        """Create or replace a session's record (keyed by ``session["session_id"]``)."""

    @abc.abstractmethod
    async def cache_get(self, key: str) -> dict[str, Any] | None:
        """A cached result that has not expired, or None."""

    @abc.abstractmethod
    async def cache_put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Cache ``value`` under ``key`` for ``ttl`` seconds."""

    # -- server liveness --------------------------------------------------------

    async def heartbeat(self, instance: str, ttl: float) -> None:
        """Say that server ``instance`` is alive for the next ``ttl`` seconds."""

    async def forget_instance(self, instance: str) -> None:
        """Say that server ``instance`` stopped (its runs may be taken over at once)."""

    @abc.abstractmethod
    async def alive_instances(self) -> set[str] | None:
        """Server instances alive now; None means "only this process" (embedded store)."""

    async def claim_orphan(self, run_id: str, instance: str) -> bool:
        """True for exactly one server that asks to take over an orphaned run."""
        return True
