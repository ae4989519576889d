"""The Dask backend: the batch's tasks run on a ``distributed`` cluster's workers.

Only data crosses to the workers: the agent's spec (a dict), one input and
the settings per task. Each task is a coroutine function, so a worker runs it
on its own event loop (no thread is blocked, and its networking goes on);
a worker runs as many at once as it has task slots (``--nthreads``; they
cost no threads here). On each worker one :class:`TaskRunner` per spec builds
a fresh agent per input and keeps the shared pieces warm (the HTTP model's
connections, a kernel pool). The driver keeps ``concurrency`` tasks in flight
and writes each result to the JSON-lines file as it arrives, through
``distributed.as_completed``. When a worker dies, the scheduler runs its
tasks again elsewhere; the driver keeps the first result of each input.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from ..exceptions import MissingExtraError
from ..models._retry import CALL_GATE
from .limiter import ModelLimiter
from .progress import Progress
from .results import TaskResult

__all__ = ["run_on_dask", "run_task_on_worker"]

_RUNNERS: dict[tuple[int, str], Any] = {}
_LIMITERS: dict[tuple[int, str], ModelLimiter] = {}


def _runner_for(spec: dict[str, Any], settings: dict[str, Any]) -> Any:
    """The TaskRunner of this worker's loop for ``spec`` and ``settings`` (made once)."""
    from ..spec import AgentSpec
    from .runner import TaskRunner

    loop_id = id(asyncio.get_running_loop())
    key = (loop_id, json.dumps([spec, settings], sort_keys=True, default=str))
    runner = _RUNNERS.get(key)
    if runner is None:
        built = AgentSpec.from_dict(spec)
        runner = TaskRunner(built.build, template=settings.get("template"), timeout=settings.get("timeout"),
                            retries=settings.get("retries", 0), pool_size=settings.get("pool_size") or 4)
        _RUNNERS[key] = runner
    limiter_key = (loop_id, json.dumps(settings.get("limiter") or {}, sort_keys=True))
    if limiter_key not in _LIMITERS:
        _LIMITERS[limiter_key] = ModelLimiter(**(settings.get("limiter") or {}))
    return runner, _LIMITERS[limiter_key]


async def run_task_on_worker(spec: dict[str, Any], index: int, item: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Run one input on the worker (a coroutine: Dask runs it on the worker's event loop).

    Returns:
        The TaskResult as a JSON-safe dict.
    """
    runner, limiter = _runner_for(spec, settings)
    token = CALL_GATE.set(limiter)
    try:
        result = await runner.run(index, item)
    finally:
        CALL_GATE.reset(token)
    return result.to_dict()


def _client_for(backend: Any) -> tuple[Any, bool]:
    """A synchronous ``distributed.Client`` and whether we made it (and must close it)."""
    try:
        import distributed
    except ImportError:
        raise MissingExtraError("distributed", "dask", "the Dask batch backend") from None
    if isinstance(backend, distributed.Client):
        return backend, False
    if isinstance(backend, str):
        return distributed.Client(backend, set_as_default=False), True
    raise TypeError(f"backend must be 'local', a distributed.Client or a scheduler address, not {type(backend).__name__}")


async def run_on_dask(backend: Any, spec: dict[str, Any], todo: list[tuple[int, Any]], finished: Callable[[TaskResult], None],
                      reporter: Progress, *, task: str | None, concurrency: int, timeout: float | None, retries: int,
                      limiter: ModelLimiter | None, pool_size: int | None) -> None:
    """Run ``todo`` on Dask workers, ``concurrency`` tasks in flight; ``finished`` gets each result."""
    settings = {"template": task, "timeout": timeout, "retries": retries, "pool_size": pool_size,
                "limiter": limiter.options() if limiter is not None else {}}
    loop = asyncio.get_running_loop()

    def deliver(result: TaskResult) -> None:
        loop.call_soon_threadsafe(finished, result)

    def started() -> None:
        loop.call_soon_threadsafe(reporter.started)

    await asyncio.to_thread(_drive, backend, spec, todo, deliver, started, settings, concurrency)
    await asyncio.sleep(0)  # let the last deliveries run


def _drive(backend: Any, spec: dict[str, Any], todo: list[tuple[int, Any]], deliver: Callable[[TaskResult], None],
           started: Callable[[], None], settings: dict[str, Any], concurrency: int) -> None:
    """Submit, stream back, top up: runs in a thread with a synchronous client."""
    from distributed import as_completed

    client, owned = _client_for(backend)
    batch_id = uuid.uuid4().hex[:8]
    items = dict(todo)
    pending = iter(todo)
    by_key: dict[str, int] = {}

    def submit(index: int, item: Any) -> Any:
        future = client.submit(run_task_on_worker, spec, index, item, settings, key=f"smolkernel-batch-{batch_id}-{index}", pure=False)
        by_key[future.key] = index
        started()
        return future

    try:
        stream = as_completed([submit(i, x) for i, x in _take(pending, concurrency)], loop=client.loop)
        for future in stream:
            index = by_key.pop(future.key)
            try:
                data = future.result()
                result = TaskResult.from_dict(data)
            except Exception as exc:  # e.g. KilledWorker after too many lost workers
                result = TaskResult(index=index, input=items[index], error=f"the Dask task failed: {type(exc).__name__}: {exc}")
            result.input = items[index]
            deliver(result)
            future.release()
            for index_next, item_next in _take(pending, 1):
                stream.add(submit(index_next, item_next))
    finally:
        if owned:
            client.close()


def _take(iterator: Any, count: int) -> list[tuple[int, Any]]:
    taken = []
    for pair in iterator:
        taken.append(pair)
        if len(taken) >= count:
            break
    return taken
