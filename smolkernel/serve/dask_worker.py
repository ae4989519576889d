"""The worker side of ``smolkernel serve --dask``: one served run on a Dask worker.

Only data crosses to the worker: the agent's spec (a dict) and the run's job
(task, variables, the session's remembered interactions, where to send
events). :func:`run_on_worker` is a coroutine function, so the worker runs it
on its own event loop and its networking goes on; the agent comes from the
batch backend's per-loop :class:`~smolkernel.batch.runner.TaskRunner`
(shared HTTP model connections, a warm kernel pool), under the same
``ModelLimiter`` gate. Events travel back as worker events
(``Worker.log_event``) on the server's topic, through the scheduler.

Dask does not stop a running coroutine task when its future is cancelled, so
the server sends :func:`stop_on_worker` with ``Client.run``, and a run whose
task Dask released (its server died) stops itself within half a second. A
run that must not start twice (the server's default: a run that was running
when its worker died is failed, not run again) first marks itself started in
a scheduler-side Dask ``Event``; when the scheduler reruns it after its
worker died, the rerun sees the mark and returns ``lost`` without touching
the agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..batch.dask_backend import worker_runner
from ..exceptions import RunInterrupted
from ..models._retry import CALL_GATE
from ..monitoring import MetricsRecorder, use_metrics
from .records import event_record, json_safe, restore_memory, step_record

__all__ = ["run_on_worker", "stop_on_worker", "started_mark"]

log = logging.getLogger(__name__)

RUNNER_SETTINGS: dict[str, Any] = {"template": None, "timeout": None, "retries": 0, "pool_size": None, "limiter": {}}
"""The TaskRunner settings of served runs (the server applies its own timeout)."""

_RUNNING: dict[str, Any] = {}
"""Agents running now in this worker process, by run key."""
_STOPPED: OrderedDict[str, None] = OrderedDict()
"""Keys asked to stop before their agent started (the newest 1000)."""


def started_mark(key: str) -> str:
    """Name of the Dask ``Event`` that says run ``key`` has started on some worker."""
    return f"smolkernel-serve-started-{key}"


async def run_on_worker(spec: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Run one served run on this worker (a coroutine: Dask runs it on the worker's event loop).

    Args:
        spec: the agent's self-contained spec.
        job: ``key``, ``dask_key`` (the Dask task's), ``task``,
            ``variables``, ``memory`` (remembered interactions), ``topic``
            (where events go) and ``once`` (do not start again after a worker died).

    Returns:
        A plain dict: ``kind`` is ``done`` (with the run's fields), ``failed``
        (``error``), ``stopped`` or ``lost`` (a rerun that must not start);
        ``worker`` says where it ran.
    """
    from distributed import get_worker

    worker = get_worker()
    key = job["key"]
    me = {"address": worker.address, "pid": os.getpid(), "host": socket.gethostname()}
    if job.get("once"):
        mark = started_mark(key)
        if await worker.scheduler.event_is_set(name=mark):
            return {"kind": "lost", "worker": me}
        await worker.scheduler.event_set(name=mark)
    send = _sender(worker, job["topic"], key)
    send("started", me)
    runner, limiter = worker_runner(spec, RUNNER_SETTINGS)
    gate = CALL_GATE.set(limiter)
    try:
        reply = await _run(runner, job, send)
    finally:
        CALL_GATE.reset(gate)
    reply["worker"] = me
    return reply


async def _run(runner: Any, job: dict[str, Any], send: Callable[[str, Any], None]) -> dict[str, Any]:
    key = job["key"]
    try:
        agent = runner.new_agent()
    except Exception as exc:
        return {"kind": "failed", "error": f"the agent could not be built: {type(exc).__name__}: {exc}"}

    def on_event(event: Any) -> None:
        record = event_record(event)
        if record is not None:
            send("event", list(record))

    try:
        async with runner.lend(agent) as ready:
            restore_memory(ready, {"memory": {"interactions": job.get("memory") or []}})
            if key in _STOPPED:
                return {"kind": "stopped"}
            _RUNNING[key] = ready
            watch = asyncio.get_running_loop().create_task(_stop_when_released(job["dask_key"], ready))
            recorder = MetricsRecorder()  # the model and tool calls' figures, for the server's /metrics
            try:
                with use_metrics(recorder):
                    result = await ready.arun(job["task"], variables=job.get("variables") or None, on_event=on_event, stream_model=False)
            except RunInterrupted:
                return {"kind": "stopped"}
            except Exception as exc:
                return {"kind": "failed", "error": f"{type(exc).__name__}: {exc}", "metrics": recorder.records}
            finally:
                watch.cancel()
                _RUNNING.pop(key, None)
            interactions = ready.memory.interactions
            usage = result.token_usage
            return {
                "kind": "done", "model_id": ready.model.model_id, "output": json_safe(result.output), "success": result.success,
                "error": result.error, "steps": [step_record(s) for s in result.steps], "duration": result.duration,
                "token_usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "cost": usage.cost},
                "summary": interactions[-1].summary if interactions else "", "metrics": recorder.records,
            }
    except Exception as exc:  # the kernel pool could not lend an executor
        return {"kind": "failed", "error": f"no executor: {type(exc).__name__}: {exc}"}


async def _stop_when_released(dask_key: str, agent: Any, every: float = 0.5) -> None:
    """Interrupt ``agent`` once Dask no longer wants its task's result (the server that asked for it is gone).

    Dask marks the task cancelled on this worker but lets its coroutine run on.
    """
    from distributed import get_worker

    tasks = get_worker().state.tasks
    while True:
        await asyncio.sleep(every)
        state = tasks.get(dask_key)
        if state is None or state.state == "cancelled":
            log.info("run %s: its Dask task was released (its server is gone); stopping it", dask_key)
            agent.interrupt()
            return


def _sender(worker: Any, topic: str, key: str) -> Callable[[str, Any], None]:
    """``send(kind, data)``: a worker event for the server (thread-safe: ``log_event`` hops to the worker's loop)."""

    def send(kind: str, data: Any) -> None:
        try:
            worker.log_event(topic, {"smolkernel": key, "kind": kind, "data": data})
        except TypeError:  # records are JSON-safe, so this is a bug; the final record still has the steps
            log.warning("run %s: an event of kind %r could not be sent", key, kind, exc_info=True)

    return send


def stop_on_worker(key: str) -> bool:
    """Interrupt run ``key`` if this worker runs it (sent by the server with ``Client.run``).

    Returns:
        True when it was running here; otherwise the key is remembered, so
        the run stops at once if it starts here later.
    """
    agent = _RUNNING.get(key)
    if agent is not None:
        agent.interrupt()
        return True
    _STOPPED[key] = None
    while len(_STOPPED) > 1000:
        _STOPPED.popitem(last=False)
    return False
