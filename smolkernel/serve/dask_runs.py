"""``smolkernel serve --dask ADDRESS``: the service's runs execute on Dask workers.

The service stays the same (:class:`RunService`: bounded pool and queue, 429,
sessions, cancel, timeout, crash recovery, the store); only the agent it
drives is a stand-in, :class:`RemoteAgent`, whose ``arun`` submits the run to
the cluster through :class:`DaskRuns` (one asynchronous ``distributed.Client``
on the server's event loop) and waits for its reply. What travels is data:
the agent's self-contained spec and the job (task, variables, the session's
remembered interactions); the agent is built on the worker
(:mod:`smolkernel.serve.dask_worker`).

Step events stream live: the worker sends each as a Dask worker event on a
topic named after this server's client (the scheduler drops a client's topic
when the client leaves), and they reach the run's event stream as they
happen; the finished run's record, steps included, comes back as the
task's result.

Cancel, timeout and shutdown cancel the Dask future and interrupt the run on
its worker (``Client.run``). A worker that dies mid-run is seen on the
scheduler's ``remove-worker`` event: the run is failed with the reason
(nothing is run twice: its steps may have had effects), or, with
``--rerun-interrupted``, left to Dask, which runs it again on another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..agents.result import RunResult
from ..exceptions import ConfigurationError, MissingExtraError, RunLost
from ..memory import Interaction
from ..models.base import TokenUsage
from ..monitoring import agent_run, current_metrics, replay_metrics
from .runner import RunService
from .dask_worker import run_on_worker, started_mark, stop_on_worker
from .settings import ServeSettings

__all__ = ["DaskRunService", "DaskRuns", "RemoteAgent", "RemoteRunResult", "connect_scheduler"]

log = logging.getLogger(__name__)


@dataclass
class RemoteRunResult(RunResult):
    """A RunResult made on a Dask worker: ``steps`` are step records (dicts), not Step objects."""

    worker: dict[str, Any] | None = None
    """Where it ran: ``address``, ``pid`` and ``host`` of the worker process."""
    summary: str = ""
    """The interaction summary the worker's agent remembered."""
    restarts: int = 0
    """Times Dask started it again after a worker died (``--rerun-interrupted``)."""
    model_id: str = ""
    """The model that answered."""
    metrics: list[Any] = field(default_factory=list)
    """The worker's figures of the run's model and tool calls (``MetricsRecorder.records``), for the server's metrics."""


@dataclass
class _Flight:
    """A run in flight on the cluster, as this server sees it."""

    on_event: Any
    lost: asyncio.Future[str]
    future: Any = None
    worker: dict[str, Any] | None = None
    starts: int = 0
    events: list[Any] = field(default_factory=list)


async def connect_scheduler(address: str) -> Any:
    """An asynchronous ``distributed.Client`` connected to ``address``.

    It waits for the scheduler as long as Dask's ``distributed.comm.timeouts.connect``
    says (30 s unless configured, e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``).

    Raises:
        MissingExtraError: ``distributed`` is not installed.
        ConfigurationError: the scheduler cannot be reached in that time.
    """
    try:
        from distributed import Client
    except ImportError:
        raise MissingExtraError("distributed", "dask", "smolkernel serve --dask") from None
    try:
        return await Client(address, asynchronous=True, set_as_default=False)
    except Exception as exc:  # a wrong address (ValueError), nobody listening (OSError), a timeout
        raise ConfigurationError(f"cannot reach the Dask scheduler at {address!r}: {type(exc).__name__}: {exc}") from None


class DaskRuns:
    """Submits runs to a Dask cluster and follows them (one per server process).

    Args:
        address: the scheduler's address (``tcp://host:8786``).
        spec: the agent's self-contained spec.
        rerun_interrupted: a run whose worker died is run again (True) or failed (False).
    """

    def __init__(self, address: str, spec: dict[str, Any], *, rerun_interrupted: bool = False):
        self.address = address
        self.spec = spec
        self.rerun_interrupted = rerun_interrupted
        self.client: Any = None
        self.topic = ""
        self._flights: dict[str, _Flight] = {}
        self._cleanups: set[asyncio.Task[None]] = set()

    async def connect(self) -> None:
        """Connect to the scheduler and listen to worker and cluster events.

        Raises:
            ConfigurationError: the scheduler cannot be reached.
        """
        self.client = await connect_scheduler(self.address)
        self.topic = self.client.id
        self.client.subscribe_topic(self.topic, self._on_worker_event)
        self.client.subscribe_topic("all", self._on_cluster_event)

    async def close(self) -> None:
        """Disconnect (runs in flight were stopped by the service before)."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                for topic in (self.topic, "all"):  # else the scheduler tries to tell a closed client that it left
                    self.client.unsubscribe_topic(topic)
                await self.client.close()
            self.client = None

    # -- one run ----------------------------------------------------------------

    async def run(self, job: dict[str, Any], on_event: Any) -> RemoteRunResult:
        """Run ``job`` (task, variables, memory) on a worker; ``on_event`` gets its event records.

        Raises:
            RunLost: its worker died (and it is not run again), Dask gave up on
                it, or the scheduler lost it.
            asyncio.CancelledError: cancelled here; the run was stopped on its worker.
        """
        key = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        flight = _Flight(on_event, loop.create_future())
        self._flights[key] = flight
        once = not self.rerun_interrupted
        dask_key = f"smolkernel-serve-{key}"
        job = {**job, "key": key, "dask_key": dask_key, "topic": self.topic, "once": once}
        finished = False
        try:
            flight.future = self.client.submit(run_on_worker, self.spec, job, key=dask_key, pure=False)
            reply = loop.create_task(_result(flight.future))
            try:
                await asyncio.wait({reply, flight.lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                reply.cancel()
            if not reply.done() or reply.cancelled():
                raise RunLost(flight.lost.result() if flight.lost.done() else "the Dask scheduler cancelled this run")
            result = self._result(reply, flight)
            finished = True
            return result
        finally:
            self._flights.pop(key, None)
            if not finished:
                await asyncio.shield(self._stop(key, flight))
            if once:
                cleanup = loop.create_task(self._forget_mark(key))
                self._cleanups.add(cleanup)
                cleanup.add_done_callback(self._cleanups.discard)

    def _result(self, reply: asyncio.Task[Any], flight: _Flight) -> RemoteRunResult:
        try:
            data = reply.result()
        except Exception as exc:
            raise RunLost(_lost_reason(exc)) from None
        worker = data.get("worker") or flight.worker or {}
        if data["kind"] == "lost":
            raise RunLost(_died(flight.worker))
        if data["kind"] == "stopped":
            raise RunLost(f"the run was stopped on the Dask worker {worker.get('address')} by another request")
        usage = data.get("token_usage") or {}
        return RemoteRunResult(
            task="", output=data.get("output"), steps=data.get("steps") or [], success=bool(data.get("success")),
            token_usage=TokenUsage(usage.get("input_tokens", 0), usage.get("output_tokens", 0), usage.get("cost")),
            duration=data.get("duration") or 0.0, error=data.get("error"), worker=worker, summary=data.get("summary") or "",
            restarts=max(0, flight.starts - 1), model_id=data.get("model_id") or "", metrics=data.get("metrics") or [],
        )

    async def _stop(self, key: str, flight: _Flight) -> None:
        """Cancel the future and interrupt the run on its worker (all workers when it is not known which)."""
        client = self.client
        if client is None or flight.future is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.cancel([flight.future]), 5)
        workers = [flight.worker["address"]] if flight.worker and not flight.lost.done() else None
        try:
            await asyncio.wait_for(client.run(stop_on_worker, key, workers=workers, on_error="ignore"), 5)
        except Exception as exc:  # the worker is gone or the scheduler is unreachable: nothing left to stop
            log.info("could not stop run %s on its worker: %s", key, exc)

    async def _forget_mark(self, key: str) -> None:
        with contextlib.suppress(Exception):
            await self.client.scheduler.event_clear(name=started_mark(key))

    # -- events from the cluster -----------------------------------------------------

    def _on_worker_event(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        if not isinstance(msg, dict) or "smolkernel" not in msg:
            return
        flight = self._flights.get(msg["smolkernel"])
        if flight is None:
            return
        if msg.get("kind") == "started":
            flight.worker = msg["data"]
            flight.starts += 1
        elif msg.get("kind") == "event" and flight.on_event is not None:
            kind, data = msg["data"]
            flight.on_event((kind, data))

    def _on_cluster_event(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker" or self.rerun_interrupted:
            return
        for flight in self._flights.values():  # runs not started yet are left to Dask, which runs them elsewhere
            if flight.worker is not None and flight.worker.get("address") == msg.get("worker") and not flight.lost.done():
                flight.lost.set_result(_died(flight.worker))


async def _result(future: Any) -> Any:
    return await future


def _died(worker: dict[str, Any] | None) -> str:
    where = f"the Dask worker {worker.get('address')} (pid {worker.get('pid')} on {worker.get('host')})" if worker else "its Dask worker"
    return f"{where} running this run died before it finished; it was not run again because its steps may already have had effects"


def _lost_reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"Dask gave up on this run after the workers running it died: {exc}"
    if isinstance(exc, asyncio.CancelledError) or "Cancelled" in name:
        return f"the Dask scheduler lost this run ({name}: {exc})"
    return f"the Dask task failed: {name}: {exc}"


class RemoteAgent:
    """The agent :class:`RunService` drives for a Dask run: ``arun`` runs the task on a worker.

    It has what the service uses of an agent: ``memory`` (``interactions``,
    ``memory_size``), ``arun``, ``interrupt`` and ``close``.
    """

    def __init__(self, runs: DaskRuns, spec: dict[str, Any]):
        self._runs = runs
        self.name = spec.get("name") or "agent"
        self.model_id = str(spec.get("model") or "")
        self.memory = _Memory(interactions=[], memory_size=int(spec.get("memory_size", 5)))
        self._task: asyncio.Task[Any] | None = None

    async def arun(self, task: str, *, variables: dict[str, Any] | None = None, on_event: Any = None, stream_model: bool = False) -> RemoteRunResult:
        """Run ``task`` on a Dask worker; its event records go to ``on_event``; its run is recorded in this server's metrics."""
        memory = [{"task": i.task, "answer": i.answer, "success": i.success, "summary": i.summary} for i in self.memory.interactions]
        self._task = asyncio.current_task()
        outcome: RemoteRunResult | None = None
        try:
            with agent_run(self.name, self.model_id, uuid.uuid4().hex[:12]) as observed:
                result = await self._runs.run({"task": task, "variables": variables or {}, "memory": memory}, on_event)
                result.task, result.agent_name = task, self.name
                replay_metrics(result.metrics, current_metrics(), skip=("runs", "runs_in_progress"))  # the run itself is counted here
                observed.done(result)
            outcome = result
            return result
        finally:
            self._task = None
            # the service reads the summary from the last interaction (a failed run must not reuse the previous one's)
            self.memory.interactions.append(Interaction(
                task=task, answer=outcome.output if outcome else None, success=bool(outcome and outcome.success), steps=[],
                token_usage=TokenUsage(), duration=0.0, summary=outcome.summary if outcome else "",
            ))

    def interrupt(self) -> None:
        """Stop the run (thread-safe): its task is cancelled, which stops it on the worker."""
        task = self._task
        if task is not None and not task.done():
            task.get_loop().call_soon_threadsafe(task.cancel)

    def close(self) -> None:
        """Nothing to release here (the worker closes its agent)."""


@dataclass
class _Memory:
    interactions: list[Interaction]
    memory_size: int


class DaskRunService(RunService):
    """A :class:`RunService` whose runs execute on the Dask cluster at ``settings.dask_address``.

    Raises:
        ConfigurationError: ``settings.agent_spec`` is missing (a factory cannot be shipped).
    """

    def __init__(self, settings: ServeSettings, store: Any, metrics: Any):
        if not settings.dask_address or not settings.agent_spec:
            raise ConfigurationError("runs on Dask need the scheduler's address and the agent's spec (an agent.yaml, not a function)")
        self.runs = DaskRuns(settings.dask_address, settings.agent_spec, rerun_interrupted=settings.rerun_interrupted)
        spec = settings.agent_spec
        super().__init__(dataclasses.replace(settings, agent_factory=lambda: RemoteAgent(self.runs, spec)), store, metrics)

    async def start(self) -> None:
        """Connect to the scheduler, then start as :meth:`RunService.start` does.

        Raises:
            ConfigurationError: the scheduler cannot be reached.
            StoreUnavailable: the store cannot be reached.
        """
        await self.runs.connect()
        try:
            await super().start()
        except BaseException:
            await self.runs.close()
            raise

    async def stop(self) -> None:
        """Stop as :meth:`RunService.stop` does (runs on workers are interrupted), then disconnect."""
        try:
            await super().stop()
        finally:
            await self.runs.close()

    async def _finish(self, run: dict[str, Any], status: str, error: str | None, writer: Any, *, result: Any = None, **rest: Any) -> None:
        if isinstance(result, RemoteRunResult):
            run["worker"] = result.worker
            run["attempts"] = run.get("attempts", 0) + result.restarts
        await super()._finish(run, status, error, writer, result=result, **rest)

    def load(self) -> dict[str, Any]:
        """The pool figures, the scheduler runs go to and its number of workers (as the client last heard, every few seconds)."""
        figures = {**super().load(), "dask": self.runs.address, "dask_workers": None}
        with contextlib.suppress(Exception):
            figures["dask_workers"] = self.runs.client.scheduler_info().get("n_workers")
        return figures
