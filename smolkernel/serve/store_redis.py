"""RedisStore: the run store in Redis, shared by every server replica.

Keys (``PREFIX`` is ``smolkernel:`` unless given)::

    run:{id}          the run record (JSON)
    events:{id}       a stream of the run's events, entry ids "N-1" for event N
    active            hash run_id -> server instance, for queued and running runs
    cancel:{id}       set when someone asked to cancel the run
    recent:{owner}    list of the owner's latest run ids
    session:{id}      a session's record (JSON)
    cache:{key}       a cached result (JSON, expires with its TTL)
    instance:{id}     a server's heartbeat (expires unless refreshed)
    claim:{id}        who takes over an orphaned run (expires)

Cancel requests are also published on the channel ``cancel`` so the server
running the run acts at once. Lost connections raise StoreUnavailable; the
client reconnects on the next call.

Writes are pipelined: the run records, events, sessions and cached results
written during one pass of the event loop (by every run at once) go to Redis
in one round trip, and each writer's call returns once Redis has answered
it, so what a call has written is stored when it returns. A run's record and
events are written by one Lua script call (``SAVE_RUN``) instead of a command
each: the client's work per command (packing it, parsing its reply) was most
of this store's CPU. The pipeline is not a MULTI/EXEC transaction (that
doubled the replies to parse): every write can be sent again after a lost
connection. SET, HSET, HDEL and EXPIRE are idempotent, a run's events have
fixed stream ids (the script adds only those above the stream's last), and
``recent_runs`` drops the duplicate id a repeated LPUSH leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..exceptions import MissingExtraError, StoreUnavailable
from ._json import dumps, loads
from .store import ACTIVE_STATUSES, Event, Store

__all__ = ["RedisStore"]

T = TypeVar("T")
RECENT_KEPT = 200
"""Run ids kept in each owner's recent list."""
FINISHED_RUN_TTL = 7 * 24 * 3600
"""Seconds a finished run and its events are kept."""
MAX_CONNECTIONS = 512
"""Connections to Redis per server process (commands wait for one beyond that)."""


SAVE_RUN = b"""
-- KEYS: run, active, events, recent.  ARGV: has_run, run_id, text, active ("1": queued or running),
-- instance, ttl, new ("1": list it in recent), kept, then (number, type, data) per event.
local events = KEYS[3]
local top = 0
local last = redis.call('XREVRANGE', events, '+', '-', 'COUNT', 1)
if #last > 0 then top = tonumber(string.match(last[1][1], '^(%d+)')) end
for i = 9, #ARGV, 3 do
  local number = tonumber(ARGV[i])
  if number > top then
    redis.call('XADD', events, number .. '-1', 'type', ARGV[i + 1], 'data', ARGV[i + 2])
    top = number
  end
end
if ARGV[1] == '1' then
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[1], ARGV[3])
    redis.call('HSET', KEYS[2], ARGV[2], ARGV[5])
  else
    redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[6])
    redis.call('HDEL', KEYS[2], ARGV[2])
    redis.call('EXPIRE', events, ARGV[6])
  end
  if ARGV[7] == '1' then
    redis.call('LPUSH', KEYS[4], ARGV[2])
    redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[8]) - 1)
  end
end
return top
"""
"""Saves a run's record (unless ``has_run`` is "0") and appends its events, skipping events already in the stream.

Sent with EVAL (Redis keeps the compiled script by its hash), so nothing
needs loading again after Redis restarts.
"""


def _hiredis_packing(connection_class: type) -> type:
    """``connection_class`` packing commands with hiredis (C), as redis-py's own synchronous connections do.

    Its asyncio connections pack in Python, copying the command so far once per
    argument: a script call with a run's record and events cost more there than
    anything else this store does. Without hiredis the class is returned as is.
    """
    try:
        import hiredis  # noqa: F401
        from redis.connection import HiredisRespSerializer
    except ImportError:
        return connection_class
    packer = HiredisRespSerializer()

    class HiredisPacking(connection_class):  # type: ignore[misc, valid-type]
        def pack_command(self, *args: Any) -> list[bytes]:
            return packer.pack(*args)

    HiredisPacking.__name__ = HiredisPacking.__qualname__ = f"HiredisPacking{connection_class.__name__}"
    return HiredisPacking


def _guard(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Turn a lost or refused Redis connection into StoreUnavailable."""

    @functools.wraps(method)
    async def wrapper(self: RedisStore, *args: Any, **kwargs: Any) -> T:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        try:
            return await method(self, *args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {self.safe_url} cannot be reached ({exc}); retry later") from None

    return wrapper


class RedisStore(Store):
    """Runs, events, sessions, result cache and server heartbeats in Redis.

    Args:
        url: ``redis://host:port/db`` (``rediss://`` for TLS; a password in the URL is fine).
        prefix: put before every key, so several services can share a Redis.

    Raises:
        MissingExtraError: redis-py is not installed.
    """

    kind = "redis"

    def __init__(self, url: str, *, prefix: str = "smolkernel:"):
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            raise MissingExtraError("redis", "serve", "--redis") from None
        self.url = url
        self.prefix = prefix
        self._client: Any = None
        self._pending: list[tuple[Callable[[Any], None], asyncio.Future[list[Any]]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    @property
    def safe_url(self) -> str:
        """The URL without its password."""
        head, sep, tail = self.url.rpartition("@")
        return f"{self.url.split('://')[0]}://***@{tail}" if sep else self.url

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def start(self) -> None:
        import redis.asyncio as aioredis

        # A blocking pool: at peak (many runs writing, SSE readers blocked in XREAD)
        # a command waits for a free connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, max_connections=MAX_CONNECTIONS, timeout=10, decode_responses=True,
            socket_connect_timeout=2, socket_timeout=5, health_check_interval=5, retry_on_timeout=False,
        )
        pool.connection_class = _hiredis_packing(pool.connection_class)
        self._client = aioredis.Redis(connection_pool=pool)

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            with contextlib.suppress(Exception):
                await self._client.connection_pool.disconnect()
            self._client = None

    @property
    def r(self) -> Any:
        if self._client is None:
            raise RuntimeError("the store is not started")
        return self._client

    async def _write(self, build: Callable[[Any], None]) -> list[Any]:
        """Queue the commands that ``build(pipeline)`` adds for this loop pass's round trip; return their replies."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._start_flush)
        self._pending.append((build, future))
        return await future

    def _start_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self) -> None:
        """Send every pending write in one round trip (a pipeline, not a transaction); an error in one caller's commands fails only that caller."""
        pending, self._pending = self._pending, []
        try:
            pipe = self.r.pipeline(transaction=False)  # see the module's docs
            spans = []
            for build, _ in pending:
                start = len(pipe.command_stack)
                build(pipe)
                spans.append((start, len(pipe.command_stack)))
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for _, future in pending:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise
        for (start, end), (_, future) in zip(spans, pending):
            if future.done():
                continue
            error = next((r for r in replies[start:end] if isinstance(r, Exception)), None)
            if error is None:
                future.set_result(replies[start:end])
            else:
                future.set_exception(error)

    @_guard
    async def ping(self) -> None:
        await self.r.ping()

    # -- runs ---------------------------------------------------------------

    @_guard
    async def put_run(self, run: dict[str, Any], *, new: bool = False, events: list[Event] = ()) -> None:
        await self._write(self._run_writer(run, new, events))

    @_guard
    async def mark_running(self, run: dict[str, Any]) -> bool:
        text, run_key, cancel_key = dumps(run), self._k("run", run["run_id"]), self._k("cancel", run["run_id"])

        def build(pipe: Any) -> None:
            pipe.set(run_key, text)  # its entry in the active hash names this process already: it queued the run
            pipe.exists(cancel_key)

        return bool((await self._write(build))[-1])

    def _run_writer(self, run: dict[str, Any], new: bool, events: list[Event]) -> Callable[[Any], None]:
        """What saves ``run`` and appends ``events`` in a pipeline: one script call."""
        run_id = run["run_id"]
        run_args = ("1", run_id, dumps(run), "1" if run["status"] in ACTIVE_STATUSES else "0", run.get("instance") or "",
                    FINISHED_RUN_TTL, "1" if new else "0", RECENT_KEPT)
        return self._script_call(run_id, run_args, events, run.get("owner"))

    def _script_call(self, run_id: str, run_args: tuple[Any, ...], events: list[Event], owner: str | None = None) -> Callable[[Any], None]:
        """``SAVE_RUN`` for the run's keys (the owner's recent list is touched only when the record is new)."""
        keys = (self._k("run", run_id), self._k("active"), self._k("events", run_id), self._k("recent", owner or "-"))
        args = [*run_args, *(value for number, kind, data in events for value in (number, kind, dumps(data)))]

        def build(pipe: Any) -> None:
            pipe.eval(SAVE_RUN, len(keys), *keys, *args)

        return build

    @_guard
    async def get_run(self, run_id: str) -> dict[str, Any] | None:
        text = await self.r.get(self._k("run", run_id))
        return loads(text) if text else None

    async def _runs(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        ids = list(dict.fromkeys(ids))  # a retried LPUSH may have listed a run twice
        texts = await self.r.mget([self._k("run", i) for i in ids])
        return [loads(t) for t in texts if t]

    @_guard
    async def active_runs(self) -> list[dict[str, Any]]:
        ids = list(await self.r.hkeys(self._k("active")))
        return [run for run in await self._runs(ids) if run["status"] in ACTIVE_STATUSES]

    @_guard
    async def recent_runs(self, owner: str | None, limit: int = 50) -> list[dict[str, Any]]:
        ids = await self.r.lrange(self._k("recent", owner or "-"), 0, limit - 1)
        return await self._runs(list(ids))

    # -- events -------------------------------------------------------------

    @_guard
    async def add_events(self, run_id: str, events: list[Event]) -> None:
        await self._write(self._events_writer(run_id, events))

    def _events_writer(self, run_id: str, events: list[Event]) -> Callable[[Any], None]:
        """What adds ``events`` to the run's stream in a pipeline (the script, with no record to save)."""
        return self._script_call(run_id, ("0", run_id, "", "0", "", 0, "0", 0), events)

    @staticmethod
    def _decode(entries: list[Any]) -> list[Event]:
        return [(int(entry_id.split("-")[0]), fields["type"], loads(fields["data"])) for entry_id, fields in entries]

    @_guard
    async def read_events(self, run_id: str, after: int, timeout: float) -> list[Event]:
        key = self._k("events", run_id)
        entries = await self.r.xrange(key, min=f"({after}-1", max="+") if after else await self.r.xrange(key)
        if entries or timeout <= 0:
            return self._decode(entries)
        # block below the client's socket timeout; the caller loops
        reply = await self.r.xread({key: f"{after}-1"}, block=int(min(timeout, 4) * 1000))
        return self._decode(reply[0][1]) if reply else []

    @_guard
    async def last_event_id(self, run_id: str) -> int:
        last = await self.r.xrevrange(self._k("events", run_id), count=1)
        return int(last[0][0].split("-")[0]) if last else 0

    # -- cancel ---------------------------------------------------------------

    @_guard
    async def request_cancel(self, run_id: str) -> None:
        await self.r.set(self._k("cancel", run_id), "1", ex=FINISHED_RUN_TTL)
        await self.r.publish(self._k("cancel"), run_id)

    @_guard
    async def cancel_requested(self, run_id: str) -> bool:
        return bool(await self.r.exists(self._k("cancel", run_id)))

    async def watch_cancels(self, callback: Any) -> None:
        """Listen on the cancel channel, resubscribing after Redis comes back."""
        while True:
            pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._k("cancel"))
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        callback(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: try again shortly
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    # -- sessions and cache ---------------------------------------------------

    @_guard
    async def get_session(self, session_id: str) -> dict[str, Any] | None:
        text = await self.r.get(self._k("session", session_id))
        return loads(text) if text else None

    @_guard
    async def put_session(self, session: dict[str, Any]) -> None:
        key, text = self._k("session", session["session_id"]), dumps(session)
        await self._write(lambda pipe: pipe.set(key, text))

    @_guard
    async def cache_get(self, key: str) -> dict[str, Any] | None:
        text = await self.r.get(self._k("cache", key))
        return loads(text) if text else None

    @_guard
    async def cache_put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        name, text, px = self._k("cache", key), dumps(value), max(1, int(ttl * 1000))
        await self._write(lambda pipe: pipe.set(name, text, px=px))

    # -- server liveness --------------------------------------------------------

    @_guard
    async def heartbeat(self, instance: str, ttl: float) -> None:
        await self.r.set(self._k("instance", instance), "1", px=int(ttl * 1000))

    @_guard
    async def forget_instance(self, instance: str) -> None:
        await self.r.delete(self._k("instance", instance))

    @_guard
    async def alive_instances(self) -> set[str] | None:
        found = set()
        async for key in self.r.scan_iter(match=self._k("instance", "*"), count=100):
            found.add(key[len(self._k("instance", "")):])
        return found

    @_guard
    async def claim_orphan(self, run_id: str, instance: str) -> bool:
        return bool(await self.r.set(self._k("claim", run_id), instance, nx=True, ex=60))
