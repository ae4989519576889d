"""The Dask backend: the batch's tasks run on a ``distributed`` cluster's workers.

Only data crosses to the workers: the agent's spec (a dict), a few inputs
and the settings per Dask task. Each task is a coroutine function, so a
worker runs it on its own event loop (no thread is blocked, and its
networking goes on), and runs its inputs concurrently; a worker runs as many
such tasks at once as it has task slots (``--nthreads``; they cost no
threads here). Inputs travel in groups of up to ten (``chunk_size``) because
a Dask task costs more scheduling than a model call does. On each worker one :class:`TaskRunner` per spec builds
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

__all__ = ["run_on_dask", "run_task_on_worker", "chunk_size", "worker_runner"]

_RUNNERS: dict[tuple[int, str], Any] = {}
_LIMITERS: dict[tuple[int, str], ModelLimiter] = {}


def worker_runner(spec: dict[str, Any], settings: dict[str, Any]) -> Any:
    """(TaskRunner, ModelLimiter) of this worker's loop for ``spec`` and ``settings`` (made once; the server's Dask runs use it too)."""
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


async def run_task_on_worker(spec: dict[str, Any], pairs: list[tuple[int, Any]], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a few inputs concurrently on the worker (a coroutine: Dask runs it on the worker's event loop).

    Returns:
        Their TaskResults as JSON-safe dicts.
    """
    runner, limiter = worker_runner(spec, settings)
    token = CALL_GATE.set(limiter)
    try:
        results = await asyncio.gather(*(runner.run(index, item) for index, item in pairs))
    finally:
        CALL_GATE.reset(token)
    return [result.to_dict() for result in results]


def chunk_size(concurrency: int) -> int:
    """Inputs per Dask task: one task per input costs the scheduler more than a model call
    costs us, so inputs travel in small groups while ``concurrency`` stays the total in flight."""
    return max(1, min(10, concurrency // 10))


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
    size = chunk_size(concurrency)
    by_key: dict[str, list[int]] = {}

    def submit(pairs: list[tuple[int, Any]]) -> Any:
        future = client.submit(run_task_on_worker, spec, pairs, settings, key=f"smolkernel-batch-{batch_id}-{pairs[0][0]}", pure=False)
        by_key[future.key] = [index for index, _ in pairs]
        for _ in pairs:
            started()
        return future

    try:
        first = [submit(chunk) for chunk in _chunks(pending, size, max(1, concurrency // size))]
        stream = as_completed(first, loop=client.loop)
        for future in stream:
            indexes = by_key.pop(future.key)
            try:
                results = [TaskResult.from_dict(data) for data in future.result()]
            except Exception as exc:  # e.g. KilledWorker after too many lost workers
                results = [TaskResult(index=i, input=items[i], error=f"the Dask task failed: {type(exc).__name__}: {exc}") for i in indexes]
            for result in results:
                result.input = items[result.index]
                deliver(result)
            future.release()
            for chunk in _chunks(pending, size, 1):
                stream.add(submit(chunk))
    finally:
        if owned:
            client.close()


def _chunks(iterator: Any, size: int, count: int) -> list[list[tuple[int, Any]]]:
    """Up to ``count`` lists of up to ``size`` pairs each from ``iterator``."""
    chunks = []
    for _ in range(count):
        chunk = _take(iterator, size)
        if not chunk:
            break
        chunks.append(chunk)
    return chunks


def _take(iterator: Any, count: int) -> list[tuple[int, Any]]:
    taken = []
    for pair in iterator:
        taken.append(pair)
        if len(taken) >= count:
            break
    return taken
