"""run_batch / arun_batch: many inputs, a fresh agent each, bounded concurrency.

::

    from smolkernel.batch import run_batch

    results = run_batch("agent.yaml", tickets, task="Classify this inquiry: {text}",
                        concurrency=50, results="out.jsonl", retries=1)
    results.to_pandas()

Each finished task is appended to ``results`` at once, so a batch killed
half-way resumes where it stopped (``resume=True``: inputs with a line are
skipped, and every input appears exactly once in the end). One task failing,
timing out or crashing its executor never stops the others. Every model call
goes through one :class:`~smolkernel.batch.limiter.ModelLimiter`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from .._async import run_sync
from ..exceptions import ConfigurationError
from ..models._retry import CALL_GATE
from .limiter import ModelLimiter
from .progress import Progress, make_progress
from .results import BatchResult, ResultsFile, TaskResult
from .runner import AgentFactory, TaskRunner

__all__ = ["run_batch", "arun_batch"]

DEFAULT_POOL_SIZE = 8
"""Most warm kernels a batch keeps for ``kernel``/``sandbox`` executors."""


def resolve_agent_source(agent: Any, *, need_spec: bool = False) -> tuple[AgentFactory, Any]:
    """A factory of fresh agents, and the spec it builds from (None for a plain factory).

    ``agent`` is an agent (its ``to_spec()`` is used), an ``AgentSpec``, a path
    to a spec file, a spec dict, or a zero-argument callable returning agents.
    An agent that no spec can describe (a model or tool made in code) still
    runs locally: each input then gets a fresh agent of the same class, tools,
    settings and model object.

    Raises:
        ConfigurationError: the agent cannot be described by a spec (when
            ``need_spec``), or the file is unusable.
    """
    from ..spec import AgentSpec

    if isinstance(agent, (str, os.PathLike)):
        spec = AgentSpec.from_file(agent)
        return spec.build, spec
    if isinstance(agent, dict):
        spec = AgentSpec.from_dict(agent)
        return spec.build, spec
    if isinstance(agent, AgentSpec):
        return agent.build, agent
    if hasattr(agent, "arun") and hasattr(agent, "model"):
        try:
            spec = agent.to_spec()
        except ConfigurationError:
            if need_spec:
                raise
            return _clone_factory(agent), None
        return spec.build, spec
    if callable(agent):
        return agent, None
    raise ConfigurationError(f"agent must be an agent, an AgentSpec, a path to one, or a function making agents; got {type(agent).__name__}")


def _clone_factory(agent: Any) -> AgentFactory:
    """Fresh agents like ``agent``: same class, tools, model object and settings, empty memory."""
    from ..agents.managed import ManagedAgentTool
    from ..tools import FinalAnswerTool

    tools = [t for t in agent.tools.values() if not isinstance(t, (FinalAnswerTool, ManagedAgentTool))]
    options: dict[str, Any] = dict(
        max_steps=agent.max_steps, memory_size=agent.memory.memory_size, planning_interval=agent.planning_interval,
        name=agent.name, description=agent.description, instructions=agent.instructions, managed_agents=list(agent.managed_agents.values()),
    )
    executor = getattr(agent, "executor", None)
    if executor is not None:
        options["executor"] = executor.name
        options["executor_options"] = {"timeout": executor.timeout}
    cls = type(agent)
    return lambda: cls(tools, agent.model, **options)


def run_batch(agent: Any, inputs: Iterable[Any], **options: Any) -> BatchResult:
    """Blocking twin of :func:`arun_batch` (also works inside Jupyter's running loop)."""
    return run_sync(arun_batch(agent, inputs, **options))


async def arun_batch(
    agent: Any,
    inputs: Iterable[Any],
    *,
    task: str | Callable[[Any], str] | None = None,
    concurrency: int = 16,
    results: str | os.PathLike[str] | None = None,
    resume: bool = True,
    backend: Any = "local",
    progress: Any = True,
    timeout: float | None = None,
    retries: int = 0,
    limiter: ModelLimiter | None = None,
    pool_size: int | None = None,
    title: str = "Batch",
) -> BatchResult:
    """Run every input on a fresh agent; return the results in input order.

    Args:
        agent: an agent, an ``AgentSpec``, a path to a spec file, or a
            zero-argument function returning a fresh agent (local backend only).
        inputs: task strings, or dicts filled into ``task``.
        task: a ``str.format`` template (``"Classify: {text}"``); a string
            input fills ``{input}``. A function ``item -> str`` works locally.
        concurrency: tasks running at once (in total, also on Dask).
        results: a JSON-lines file written as each task finishes.
        resume: skip inputs that already have a line in ``results``; False
            starts the file afresh.
        backend: ``"local"``, or a ``distributed.Client`` / scheduler address.
        progress: True (a BatchView in Jupyter, a bar in a terminal, nothing
            otherwise), False, or a ``BatchView`` to feed.
        timeout: seconds one attempt of a task may take.
        retries: attempts added to a task whose model call failed.
        limiter: caps on model calls (default: no caps, 429 pauses everyone).
        pool_size: warm kernels for ``kernel``/``sandbox`` executors (default
            ``min(concurrency, 8)``).
        title: the progress view's title.

    Raises:
        ConfigurationError: the agent cannot be built, or ``results`` holds
            lines of other inputs. Failures of single tasks are never raised.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    items = list(inputs)
    factory, spec = resolve_agent_source(agent)
    sink = ResultsFile(results, resume=resume) if results is not None else None
    try:
        done: dict[int, TaskResult] = {}
        if sink is not None:
            sink.check_inputs(items)
            done.update(sink.existing)
        todo = [(i, item) for i, item in enumerate(items) if i not in done]
        reporter = make_progress(progress, title=title)
        began = time.perf_counter()
        reporter.start(len(items), len(done))

        def finished(result: TaskResult) -> None:
            if result.index in done:  # a Dask task run twice after a lost worker
                return
            done[result.index] = result
            if sink is not None:
                sink.write(result)
            reporter.record(result)

        try:
            if todo:
                await _dispatch(agent, factory, spec, backend, todo, finished, reporter, task=task, concurrency=concurrency,
                                timeout=timeout, retries=retries, limiter=limiter, pool_size=pool_size)
        finally:
            reporter.finish()
        return BatchResult(done.values(), duration=time.perf_counter() - began, results_path=str(results) if results is not None else None)
    finally:
        if sink is not None:
            sink.close()


async def _dispatch(agent: Any, factory: AgentFactory, spec: Any, backend: Any, todo: list[tuple[int, Any]],
                    finished: Callable[[TaskResult], None], reporter: Progress, *, task: str | Callable[[Any], str] | None,
                    concurrency: int, timeout: float | None, retries: int, limiter: ModelLimiter | None, pool_size: int | None) -> None:
    """Run ``todo`` on the chosen backend."""
    if backend == "local" or backend is None:
        await _run_local(factory, todo, finished, reporter, task=task, concurrency=concurrency, timeout=timeout, retries=retries,
                         limiter=limiter or ModelLimiter(), pool_size=pool_size or min(concurrency, DEFAULT_POOL_SIZE))
        return
    from .dask_backend import run_on_dask

    if spec is None:
        factory, spec = resolve_agent_source(agent, need_spec=True)
    if spec is None:
        raise ConfigurationError("the Dask backend ships an AgentSpec to its workers; pass an agent, a spec or a path, not a factory")
    if callable(task):
        raise ConfigurationError("the Dask backend ships the task template to its workers: give a str.format template, not a function")
    await run_on_dask(backend, spec.to_dict(), todo, finished, reporter, task=task, concurrency=concurrency, timeout=timeout,
                      retries=retries, limiter=limiter, pool_size=pool_size)


async def _run_local(factory: AgentFactory, todo: list[tuple[int, Any]], finished: Callable[[TaskResult], None], reporter: Progress, *,
                     task: str | Callable[[Any], str] | None, concurrency: int, timeout: float | None, retries: int, limiter: ModelLimiter, pool_size: int) -> None:
    """Run ``todo`` in this event loop, ``concurrency`` at a time."""
    runner = TaskRunner(factory, template=task, timeout=timeout, retries=retries, pool_size=pool_size)
    runner.prepare()
    await run_inputs(runner, todo, finished, reporter, concurrency=concurrency, limiter=limiter)


async def run_inputs(runner: TaskRunner, todo: list[tuple[int, Any]], finished: Callable[[TaskResult], None], reporter: Progress | None,
                     *, concurrency: int, limiter: ModelLimiter) -> None:
    """Feed ``todo`` to ``concurrency`` workers sharing ``limiter``; closes the runner at the end."""
    pending = iter(todo)

    async def worker() -> None:
        for index, item in pending:  # one shared iterator: each input is taken once
            if reporter is not None:
                reporter.started()
            finished(await runner.run(index, item))

    token = CALL_GATE.set(limiter)
    try:
        workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(todo)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for future in workers:
                future.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
    finally:
        CALL_GATE.reset(token)
        await runner.close()
