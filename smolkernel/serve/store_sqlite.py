"""EmbeddedStore: the run store in one SQLite file, for a single server process.

WAL journal with ``synchronous=NORMAL``: a commit survives the process being
killed (``kill -9``), which is what crash safety needs. A lock file
(``flock``) keeps a second server from using the same folder at the same time.

Writes are group-committed in the event loop: the writes made during one
pass of the loop (many runs write their events and records at once) go into
one transaction at the end of that pass, and each writer's call returns once
that transaction is committed, so what a call has written is safe when it
returns. A commit only appends to the WAL file (no fsync with
``synchronous=NORMAL``): tens of microseconds, where committing in a writer
thread cost two thread hops per group, more CPU than the commits. Every
1000 pages (about 4 MB) the commit also checkpoints the WAL into the
database, with the only fsyncs: a few milliseconds. Checkpoints must run
between the loop's writes: one in another thread, running while the loop
keeps appending, never finds the WAL complete, so the WAL never starts over
and grows without end.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from ._json import dumps, loads
from .store import ACTIVE_STATUSES, Event, Store

__all__ = ["EmbeddedStore"]

Statement = tuple[str, Any, bool]
"""(SQL, parameters, executemany?) of one write."""

CHECKPOINT_PAGES = 1000
"""WAL pages after which a commit copies the WAL into the database file (SQLite's default)."""

_SCHEMA = """
create table if not exists runs (run_id text primary key, owner text, status text, created real, data text not null);
create index if not exists runs_owner on runs (owner, created);
create index if not exists runs_status on runs (status);
create table if not exists events (run_id text, id integer, type text, data text, primary key (run_id, id));
create table if not exists sessions (session_id text primary key, data text not null);
create table if not exists cache (key text primary key, data text not null, expires real);
create table if not exists cancels (run_id text primary key);
"""


class EmbeddedStore(Store):
    """Runs, events, sessions and the result cache in ``folder/smolkernel-serve.sqlite3``.

    Raises:
        ConfigurationError: another server process uses the same folder.
    """

    kind = "embedded"

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.path = self.folder / "smolkernel-serve.sqlite3"
        self._db: sqlite3.Connection | None = None
        """The one connection: reads and group commits alike run in the event loop."""
        self._lock_file: Any = None
        self._waiters: dict[str, asyncio.Event] = {}
        self._cancels: set[str] = set()
        """Runs someone asked to cancel (kept in the cancels table too, for a restart)."""
        self._pending: list[tuple[list[Statement], asyncio.Future[None]]] = []

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.folder / "server.lock", "w")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise ConfigurationError(
                f"another smolkernel server uses {self.folder}; give this one another --data-dir, or share runs through --redis"
            ) from None
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.execute(f"pragma wal_autocheckpoint={CHECKPOINT_PAGES}")
        self._db.executescript(_SCHEMA)
        self._cancels = {row[0] for row in self._db.execute("select run_id from cancels")}

    async def close(self) -> None:
        self._commit_pending()  # the writes of this loop pass
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the store is not started")
        return self._db

    async def _write(self, *statements: Statement) -> None:
        """Run ``statements`` in this loop pass's group commit; return once it is committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((list(statements), future))
        if len(self._pending) == 1:
            loop.call_soon(self._commit_pending)
        await future

    def _commit_pending(self) -> None:
        """(event loop) Commit the pending writes in one transaction; each failing group alone fails its writer."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        if self._db is None:
            errors: list[Exception | None] = [RuntimeError("the store is closed")] * len(pending)
        else:
            errors = self._commit_group([statements for statements, _ in pending])
        for (_, future), error in zip(pending, errors):
            if future.done():  # its writer was cancelled; the write is committed all the same
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    def _commit_group(self, groups: list[list[Statement]]) -> list[Exception | None]:
        """One transaction for every group; each group alone if that fails. Returns each group's error."""
        try:
            self._transaction([statement for group in groups for statement in group])
            return [None] * len(groups)
        except Exception:
            pass
        errors: list[Exception | None] = []
        for group in groups:  # so one bad write fails only its own caller
            try:
                self._transaction(group)
                errors.append(None)
            except Exception as exc:
                errors.append(exc)
        return errors

    def _transaction(self, statements: list[Statement]) -> None:
        db = self._db
        if db is None:
            raise RuntimeError("the store is closed")
        db.execute("begin")
        try:
            for sql, parameters, many in statements:
                (db.executemany if many else db.execute)(sql, parameters)
        except BaseException:
            db.execute("rollback")
            raise
        db.execute("commit")

    async def ping(self) -> None:
        self.db.execute("select 1")

    async def put_run(self, run: dict[str, Any], *, new: bool = False, events: list[Event] = ()) -> None:
        statements = [(
            "insert into runs (run_id, owner, status, created, data) values (?, ?, ?, ?, ?) "
            "on conflict (run_id) do update set status = excluded.status, data = excluded.data",  # in place: cheaper than a replace
            (run["run_id"], run.get("owner"), run["status"], run.get("created", time.time()), dumps(run)), False,
        )]
        if events:
            statements.append(self._events_statement(run["run_id"], events))
        await self._write(*statements)
        if events:
            self._wake(run["run_id"])

    async def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.db.execute("select data from runs where run_id = ?", (run_id,)).fetchone()
        return loads(row[0]) if row else None

    async def active_runs(self) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(ACTIVE_STATUSES))
        rows = self.db.execute(f"select data from runs where status in ({marks})", tuple(ACTIVE_STATUSES)).fetchall()
        return [loads(r[0]) for r in rows]

    async def recent_runs(self, owner: str | None, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "select data from runs where owner is ? order by created desc limit ?", (owner, limit)
        ).fetchall()
        return [loads(r[0]) for r in rows]

    async def add_events(self, run_id: str, events: list[Event]) -> None:
        await self._write(self._events_statement(run_id, events))
        self._wake(run_id)

    @staticmethod
    def _events_statement(run_id: str, events: list[Event]) -> Statement:
        return "insert or replace into events (run_id, id, type, data) values (?, ?, ?, ?)", [(run_id, i, kind, dumps(data)) for i, kind, data in events], True

    def _wake(self, run_id: str) -> None:
        """Wake the readers waiting for the run's next events."""
        waiter = self._waiters.pop(run_id, None)
        if waiter is not None:
            waiter.set()

    def _events_after(self, run_id: str, after: int) -> list[Event]:
        rows = self.db.execute("select id, type, data from events where run_id = ? and id > ? order by id", (run_id, after)).fetchall()
        return [(i, kind, loads(data)) for i, kind, data in rows]

    async def read_events(self, run_id: str, after: int, timeout: float) -> list[Event]:
        found = self._events_after(run_id, after)
        if found or timeout <= 0:
            return found
        waiter = self._waiters.setdefault(run_id, asyncio.Event())
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except asyncio.TimeoutError:
            return []
        return self._events_after(run_id, after)

    async def last_event_id(self, run_id: str) -> int:
        row = self.db.execute("select max(id) from events where run_id = ?", (run_id,)).fetchone()
        return int(row[0] or 0)

    async def request_cancel(self, run_id: str) -> None:
        await self._write(("insert or ignore into cancels (run_id) values (?)", (run_id,), False))
        self._cancels.add(run_id)

    async def cancel_requested(self, run_id: str) -> bool:
        return run_id in self._cancels  # this process is the store's only writer: no query per run

    async def get_session(self, session_id: str) -> dict[str, Any] | None:
        row = self.db.execute("select data from sessions where session_id = ?", (session_id,)).fetchone()
        return loads(row[0]) if row else None

    async def put_session(self, session: dict[str, Any]) -> None:
        await self._write(("insert or replace into sessions (session_id, data) values (?, ?)", (session["session_id"], dumps(session)), False))

    async def cache_get(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("select data, expires from cache where key = ?", (key,)).fetchone()
        if row is None or row[1] < time.time():
            return None
        return loads(row[0])

    async def cache_put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        now = time.time()
        await self._write(
            ("insert or replace into cache (key, data, expires) values (?, ?, ?)", (key, dumps(value), now + ttl), False),
            ("delete from cache where expires < ?", (now,), False),
        )

    async def alive_instances(self) -> set[str] | None:
        return None
