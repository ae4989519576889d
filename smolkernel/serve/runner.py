"""RunService: accepts runs, executes them in the pool, cancels, recovers after a crash.

One per server process. A run's life: ``submit`` stores it ``queued`` (or
answers from the result cache), the pool calls ``_execute``, which builds a
fresh agent, restores the session's memory, runs the task while its events
stream into the store, and saves the outcome. The process that executes a
run is its only writer; others may only flag it for cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from ..exceptions import QueueFull, StoreUnavailable
from ..monitoring import Metrics, use_metrics
from .events import EventWriter
from .offload import QuickCalls
from .pool import RunPool
from .records import cache_key, json_safe, new_run, remember, restore_memory, run_view, step_record
from .settings import ServeSettings
from .store import FINAL_STATUSES, Store

__all__ = ["RunService", "SessionNotFound"]

log = logging.getLogger(__name__)
T = TypeVar("T")

INTERRUPTED = (
    "the server running this run stopped (crash or kill) before it finished; "
    "it was not run again because its steps may already have had effects"
)
SHUTDOWN = "the server shut down while this run was running"


class SessionNotFound(LookupError):
    """The session belongs to another key (shown as 404, like an unknown one)."""


class RunService:
    """The runs of one server process, over a shared :class:`Store`."""

    def __init__(self, settings: ServeSettings, store: Store, metrics: Metrics):
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.instance = uuid.uuid4().hex[:12]
        """This process's id in run records and heartbeats."""
        self.pool = RunPool(self._execute, concurrency=settings.concurrency, queue_size=settings.queue_size)
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._agents: dict[str, Any] = {}
        self._stop_reason: dict[str, str] = {}
        self._finished: dict[str, asyncio.Future[dict[str, Any]]] = {}
        """Runs this process will finish -> their final record, once saved (what ``wait`` answers)."""
        self._accepted: dict[str, dict[str, Any]] = {}
        """Records of runs accepted here and not started yet (``_execute`` need not read them back)."""
        self._session_locks: dict[str, list[Any]] = {}
        self._suspects: set[str] = set()
        self._background: list[asyncio.Task[Any]] = []
        self._quick = QuickCalls()
        """Builds and closes agents in the loop once they have proven quick (else in threads)."""

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, start the pool, take over orphaned runs, start the heartbeat.

        Raises:
            StoreUnavailable: the store cannot be reached within a few seconds.
        """
        await self.store.start()
        for attempt in range(10):
            try:
                await self.store.ping()
                break
            except StoreUnavailable:
                if attempt == 9:
                    raise
                await asyncio.sleep(0.5)
        self.pool.start()
        await self._beat()
        await self.recover(first=True)
        loop = asyncio.get_running_loop()
        self._background = [loop.create_task(self._watch_cancels())]
        if await self.store.alive_instances() is not None:
            self._background.append(loop.create_task(self._keep_alive()))

    async def stop(self) -> None:
        """Stop: running runs end ``failed`` (server shut down); queued ones are left for a restart or a replica."""
        for task in self._background:
            task.cancel()
        for run_id in list(self._tasks):
            self._stop_reason[run_id] = "shutdown"
            self._interrupt(run_id)
        deadline = time.monotonic() + 5
        while self._tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self.pool.stop()
        with contextlib.suppress(StoreUnavailable):
            await self.store.forget_instance(self.instance)
        await self.store.close()

    async def _beat(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self.store.heartbeat(self.instance, 5 * self.settings.heartbeat_seconds)

    async def _keep_alive(self) -> None:
        sweep_every = 2
        count = 0
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            await self._beat()
            count += 1
            if count % sweep_every == 0:
                try:
                    await self.recover()
                except StoreUnavailable:
                    pass
                except Exception:  # a bug in recovery must not stop the heartbeat
                    log.exception("recovering orphaned runs failed")

    async def _watch_cancels(self) -> None:
        await self.store.watch_cancels(self._on_remote_cancel)

    # -- accepting ------------------------------------------------------------

    async def submit(
        self, task: str, *, owner: str | None, session_id: str | None = None, variables: dict[str, Any] | None = None,
        cache: bool = False, cache_ttl: float | None = None,
    ) -> dict[str, Any]:
        """Accept a run; returns its record (already finished when served from the cache).

        Raises:
            QueueFull: no room in the queue (429).
            SessionNotFound: ``session_id`` belongs to another key.
            StoreUnavailable: the store cannot be reached (503); nothing was accepted.
        """
        if session_id:
            session = await self.store.get_session(session_id)
            if session is not None and session.get("owner") != owner:
                raise SessionNotFound(session_id)
        key = cache_key(self.settings.agent_fingerprint, task, variables) if cache and not session_id else None
        run = new_run(task, owner=owner, session_id=session_id, variables=variables, cache=key, cache_ttl=cache_ttl)
        if key is not None:
            hit = await self.store.cache_get(key)
            if hit is not None:
                return await self._from_cache(run, hit)
        if not self.pool.has_room():
            raise QueueFull("every worker is busy and the queue is full; retry later", self.pool.retry_after())
        run["instance"] = self.instance
        # With a worker free (and no session turn to wait for) the run starts at
        # once: it is saved as running from the start, one write less on its way.
        starts_now = not session_id and self.pool.reserve_worker()
        if starts_now:
            run.update(status="running", started=time.time(), attempts=1)
        try:
            await self.store.put_run(run, new=True)
        except BaseException:
            if starts_now:
                self.pool.release_worker()
            raise
        self._expect(run, fresh=True)
        self.pool.submit(run["run_id"], force=True, reserved=starts_now)
        return run

    def _expect(self, run: dict[str, Any], *, fresh: bool = False) -> None:
        """Note a run this process is about to queue; ``fresh``: just made here, so it has no events yet."""
        self._finished[run["run_id"]] = asyncio.get_running_loop().create_future()
        if fresh:
            self._accepted[run["run_id"]] = dict(run)

    async def _from_cache(self, run: dict[str, Any], hit: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        run.update(
            status="succeeded", output=hit["output"], success=True, steps=hit["steps"], cached=True, cached_from=hit["run_id"],
            token_usage={"input_tokens": 0, "output_tokens": 0}, cost=0.0 if hit.get("cost") is not None else None,
            duration=0.0, started=now, finished=now,
        )
        await self.store.put_run(run, new=True)
        await self.store.add_events(run["run_id"], [(1, "run_finished", run_view(run))])
        return run

    async def wait(self, run_id: str, timeout: float) -> dict[str, Any] | None:
        """The run's record once it is final, or as it is after ``timeout`` seconds."""
        done = self._finished.get(run_id)
        if done is not None:
            try:
                return await asyncio.wait_for(asyncio.shield(done), timeout)
            except asyncio.TimeoutError:
                return await self.store.get_run(run_id)
        deadline = time.monotonic() + timeout
        while True:  # a run executing in another replica
            run = await self.store.get_run(run_id)
            if run is None or run["status"] in FINAL_STATUSES or time.monotonic() >= deadline:
                return run
            await asyncio.sleep(0.1)

    # -- cancelling -------------------------------------------------------------

    async def cancel(self, run_id: str) -> None:
        """Cancel a queued or running run, wherever it runs (no-op once it is final)."""
        if self.pool.cancel_queued(run_id):
            self._accepted.pop(run_id, None)
            run = await self.store.get_run(run_id)
            if run is not None:
                await self._finish(run, "cancelled", "cancelled before it started", None)
            return
        if run_id in self._tasks:
            self._stop_reason[run_id] = "cancelled"
            self._interrupt(run_id)
            return
        await self.store.request_cancel(run_id)

    def _on_remote_cancel(self, run_id: str) -> None:
        if run_id in self.pool.queued or run_id in self._tasks:
            asyncio.get_running_loop().create_task(self.cancel(run_id))

    def _interrupt(self, run_id: str) -> None:
        agent, task = self._agents.get(run_id), self._tasks.get(run_id)
        if agent is not None:
            agent.interrupt()  # also stops code running in the executor
        if task is not None and (agent is None or getattr(agent, "_task", None) is None):
            task.cancel()  # the run had not started yet

    # -- executing ----------------------------------------------------------------

    async def _execute(self, run_id: str) -> None:
        run = self._accepted.pop(run_id, None)
        fresh = run is not None
        if run is None:
            run = await self._persist(self.store.get_run, run_id)
        if run is None or run["status"] in FINAL_STATUSES:
            return
        session_id = run.get("session_id")
        async with self._session_turn(session_id):  # runs of one session see each other's memory, in order
            session = await self._persist(self.store.get_session, session_id) if session_id else None
            if not (fresh and run["status"] == "running"):  # else saved as running when accepted (a worker was free)
                run.update(status="running", started=time.time(), attempts=run.get("attempts", 0) + 1, instance=self.instance)
                if await self._persist(self.store.mark_running, run):  # cancelled through another replica
                    await self._finish(run, "cancelled", "cancelled before it started", None)
                    return
            last_id = 0 if fresh else await self._persist(self.store.last_event_id, run_id)
            writer = EventWriter(self.store, run_id, last_id, self._persist)
            writer.start()
            await self._run_agent(run, session, writer)

    @contextlib.asynccontextmanager
    async def _session_turn(self, session_id: str | None) -> AsyncIterator[None]:
        """Hold the session's lock (in this process); forget the lock when nobody waits for it."""
        if not session_id:
            yield
            return
        entry = self._session_locks.setdefault(session_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._session_locks.pop(session_id, None)

    async def _run_agent(self, run: dict[str, Any], session: dict[str, Any] | None, writer: EventWriter) -> None:
        run_id = run["run_id"]
        summary = ""
        try:
            agent = await self._quick("build", self.settings.agent_factory)
        except Exception as exc:
            await self._finish(run, "failed", f"the agent could not be built: {type(exc).__name__}: {exc}", writer)
            return
        restore_memory(agent, session)
        self._agents[run_id] = agent
        task = asyncio.get_running_loop().create_task(self._drive(agent, run, writer))
        self._tasks[run_id] = task
        status, error, result = "failed", None, None
        try:
            done, _ = await asyncio.wait({task}, timeout=self.settings.run_timeout)
            if not done:
                self._stop_reason[run_id] = "timeout"
                self._interrupt(run_id)
                await asyncio.wait({task})
            result, status, error = self._outcome(run_id, task)
        except asyncio.CancelledError:  # the pool is stopping
            task.cancel()
            status, error = "failed", SHUTDOWN
            await self._finish(run, status, error, writer, steps=writer.steps)
            raise
        finally:
            self._tasks.pop(run_id, None)
            self._agents.pop(run_id, None)
            self._stop_reason.pop(run_id, None)
            if agent.memory.interactions:
                summary = agent.memory.interactions[-1].summary
            with contextlib.suppress(Exception):
                await self._quick("close", agent.close)
        await self._finish(run, status, error, writer, result=result, session=session, summary=summary, memory_size=agent.memory.memory_size)

    async def _drive(self, agent: Any, run: dict[str, Any], writer: EventWriter) -> Any:
        with use_metrics(self.metrics):
            return await agent.arun(run["task"], variables=run.get("variables") or None, on_event=writer.put, stream_model=False)

    def _outcome(self, run_id: str, task: asyncio.Task[Any]) -> tuple[Any, str, str | None]:
        reason = self._stop_reason.get(run_id)
        if task.cancelled() or reason is not None:
            if reason == "timeout":
                return None, "failed", f"the run took longer than {self.settings.run_timeout} s and was stopped"
            if reason == "shutdown":
                return None, "failed", SHUTDOWN
            return None, "cancelled", "cancelled while running"
        exc = task.exception()
        if exc is not None:
            return None, "failed", f"{type(exc).__name__}: {exc}"
        result = task.result()
        return result, ("succeeded" if result.success else "failed"), result.error

    async def _finish(
        self, run: dict[str, Any], status: str, error: str | None, writer: EventWriter | None, *, result: Any = None,
        steps: list[dict[str, Any]] | None = None, session: dict[str, Any] | None = None, summary: str = "", memory_size: int = 5,
    ) -> None:
        """Save the run's outcome, end its event stream, update its session and the cache."""
        now = time.time()
        run.update(status=status, error=error, finished=now, success=status == "succeeded")
        if result is not None:
            usage = result.token_usage
            run.update(
                output=json_safe(result.output), steps=[step_record(s) for s in result.steps], cost=usage.cost, duration=result.duration,
                token_usage={"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
            )
        else:
            run["steps"] = steps if steps is not None else (writer.steps if writer else run["steps"])
            run["duration"] = now - run["started"] if run.get("started") else 0.0
        if writer is None:
            last_id = await self._persist(self.store.last_event_id, run["run_id"])
        else:
            await writer.close()  # the run's events so far, then its final record with its last event
            last_id = writer.next_id - 1
        await self._persist(functools.partial(self.store.put_run, run, events=[(last_id + 1, "run_finished", run_view(run))]))
        if run.get("session_id") and status != "cancelled":
            fresh = session or {"session_id": run["session_id"], "owner": run.get("owner")}
            remember(fresh, run, summary, memory_size)
            await self._persist(self.store.put_session, fresh)
        if run.get("cache_key") and status == "succeeded":
            ttl = run.get("cache_ttl") or self.settings.cache_ttl
            value = {k: run[k] for k in ("run_id", "output", "steps", "cost")}
            await self._persist(self.store.cache_put, run["cache_key"], value, ttl)
        done = self._finished.pop(run["run_id"], None)
        if done is not None and not done.done():
            done.set_result(run)

    async def _persist(self, method: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Call a store method, retrying while the store is unreachable (up to ``store_retry_seconds``)."""
        deadline = time.monotonic() + self.settings.store_retry_seconds
        delay = 0.1
        while True:
            try:
                return await method(*args)
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- crash recovery -------------------------------------------------------------

    async def recover(self, *, first: bool = False) -> list[str]:
        """Take over runs whose server is gone: re-queue queued ones, fail (or re-run) running ones.

        With the embedded store this process is the only server, so at start
        every active run is an orphan. With Redis a run is an orphan when its
        server's heartbeat is missing on two sweeps in a row.

        Returns:
            The ids taken over.
        """
        alive = await self.store.alive_instances()
        taken = []
        suspects = set()
        for run in await self.store.active_runs():
            run_id = run["run_id"]
            if run_id in self._tasks or run_id in self.pool.queued or run_id in self.pool.running:
                continue
            if alive is not None and (run.get("instance") in alive or run.get("instance") == self.instance):
                continue
            if alive is not None and run_id not in self._suspects:
                suspects.add(run_id)
                continue
            if not await self.store.claim_orphan(run_id, self.instance):
                continue
            taken.append(run_id)
            await self._take_over(run)
        self._suspects = suspects
        return taken

    async def _take_over(self, run: dict[str, Any]) -> None:
        if run["status"] == "queued" or self.settings.rerun_interrupted:
            was_running = run["status"] == "running"
            run.update(status="queued", instance=self.instance)
            if was_running:
                run["error"] = "re-run: the server running it stopped before it finished"
            await self.store.put_run(run)
            self._expect(run)
            self.pool.submit(run["run_id"], force=True)
        else:
            await self._finish(run, "failed", INTERRUPTED, None)

    # -- figures --------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """This process's pool figures (for /healthz and the status page)."""
        return {
            "instance": self.instance,
            "running": len(self.pool.running),
            "queued": len(self.pool.queued),
            "concurrency": self.pool.concurrency,
            "queue_size": self.pool.queue_size,
        }
