"""TaskRunner: one input in, one TaskResult out, on a fresh agent.

The same runner serves the local backend and every Dask worker: it builds an
agent per input (from a spec or a factory), lends it an executor from a warm
pool when the executor is a kernel, runs the task under the timeout, tries
again after model errors (``retries``), and never raises for a failed task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import ConfigurationError
from ..models.base import TokenUsage
from .results import TaskResult

__all__ = ["TaskRunner", "task_text", "AgentFactory"]

AgentFactory = Callable[[], Any]
"""Makes one fresh agent (``spec.build`` or any zero-argument callable)."""

MODEL_ERROR_MARK = "model call failed"
"""How a run's error says that its model call failed (the only failures ``retries`` repeats)."""


def task_text(item: Any, template: str | Callable[[Any], str] | None) -> str:
    """The task for one input: the input itself, or ``template`` filled from it.

    A dict fills the template's fields (``"Classify: {text}"``); anything
    else fills ``{input}``. A dict without a template needs a ``task`` key.
    A callable template makes the task from the item itself.

    Raises:
        ConfigurationError: a field is missing or the input cannot make a task.
    """
    if callable(template):
        try:
            return template(item)
        except Exception as exc:
            raise ConfigurationError(f"the task could not be made from input {item!r}: {exc}") from None
    try:
        if template is not None:
            if isinstance(item, Mapping):
                return template.format(**item)
            return template.format(item, input=item)
    except (KeyError, IndexError) as exc:
        raise ConfigurationError(f"the task template {template!r} needs {exc} but input {item!r} has no such field") from None
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping) and isinstance(item.get("task"), str):
        return item["task"]
    raise ConfigurationError(f"input {item!r} is not a task string; give task= a template such as 'Classify: {{text}}'")


def _shared_model_key(model: Any) -> tuple[Any, ...] | None:
    """Models that hold no per-run state (HTTP backends) are shared by the batch's agents."""
    from ..models._chat_http import HTTPChatModel

    if not isinstance(model, HTTPChatModel):
        return None
    return (type(model), model.model_id, getattr(model, "api_base", None), getattr(model, "api_key", None), repr(sorted(model.completion_kwargs.items())))


def _plain_spec_build(factory: AgentFactory) -> bool:
    """Whether ``factory`` is ``AgentSpec.build`` of a spec without managed agents (they would take the model too)."""
    from ..spec import AgentSpec

    spec = getattr(factory, "__self__", None)
    return isinstance(spec, AgentSpec) and getattr(factory, "__func__", None) is AgentSpec.build and not spec.managed_agents


class TaskRunner:
    """Runs inputs on fresh agents from ``factory``.

    Args:
        factory: makes one agent.
        template: the ``task`` template (None: inputs are the tasks).
        timeout: seconds one attempt may take (None: no limit).
        retries: attempts added after a model error.
        pool_size: warm kernels kept for ``kernel``/``sandbox`` executors.
        executor_factory: makes one executor for the pool (default: the
            first agent's executor class with its ``timeout``).
    """

    def __init__(self, factory: AgentFactory, *, template: str | Callable[[Any], str] | None = None, timeout: float | None = None, retries: int = 0,
                 pool_size: int = 4, executor_factory: Callable[[], Any] | None = None) -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.factory = factory
        self.template = template
        self.timeout = timeout
        self.retries = retries
        self.pool_size = max(1, pool_size)
        self._executor_factory = executor_factory
        self._models: dict[tuple[Any, ...], Any] = {}
        self._spec_model: Any = None
        """The shared model handed to ``spec.build(model=...)`` once the first agent made it."""
        self._first: Any = None
        self._pool: Any = None
        self._pool_checked = False

    def prepare(self) -> None:
        """Build one agent now, so a wrong spec fails before any task runs.

        Raises:
            ConfigurationError: the agent cannot be built.
        """
        if self._first is None:
            self._first = self._build()

    def _build(self) -> Any:
        if self._first is not None:
            agent, self._first = self._first, None
            return agent
        if self._spec_model is not None:  # same spec, same stateless model: do not make it again
            return self.factory(model=self._spec_model)
        agent = self.factory()
        if not hasattr(agent, "arun"):
            raise ConfigurationError(f"the agent factory returned {type(agent).__name__}, not an agent")
        key = _shared_model_key(agent.model)
        if key is not None:
            agent.model = self._models.setdefault(key, agent.model)
            if _plain_spec_build(self.factory):
                self._spec_model = agent.model
        return agent

    def _pool_for(self, agent: Any) -> Any:
        """The warm KernelPool for agents whose executor is a kernel (made on first need)."""
        if not self._pool_checked:
            self._pool_checked = True
            from ..executors.kernel import KernelExecutor

            executor = getattr(agent, "executor", None)
            if isinstance(executor, KernelExecutor):
                from ..executors.pool import KernelPool

                make = self._executor_factory or (lambda cls=type(executor), timeout=executor.timeout: cls(timeout=timeout))
                self._pool = KernelPool(self.pool_size, factory=make)
        return self._pool

    @property
    def pool(self) -> Any:
        """The KernelPool in use, if any."""
        return self._pool

    async def run(self, index: int, item: Any) -> TaskResult:
        """Run input ``index``; every failure becomes a failed TaskResult."""
        began = time.perf_counter()
        result = TaskResult(index=index, input=item, attempts=0)
        try:
            task = task_text(item, self.template)
        except ConfigurationError as exc:
            result.error, result.attempts = str(exc), 1
            return result
        usage = TokenUsage()
        while True:
            result.attempts += 1
            outcome = await self._attempt(task)
            usage = usage + outcome.get("usage")
            result.output, result.success, result.error = outcome.get("output"), outcome.get("success", False), outcome.get("error")
            result.steps = outcome.get("steps", 0)
            retryable = not result.success and MODEL_ERROR_MARK in (result.error or "")
            if not retryable or result.attempts > self.retries:
                break
        result.token_usage = usage
        result.cost = usage.cost
        result.duration = time.perf_counter() - began
        return result

    async def _attempt(self, task: str) -> dict[str, Any]:
        try:
            agent = self._build()
        except Exception as exc:
            return {"error": f"the agent could not be built: {type(exc).__name__}: {exc}"}
        pool = self._pool_for(agent)
        lease = pool.acquire() if pool is not None else contextlib.nullcontext()
        try:
            async with lease as executor:
                if executor is not None:
                    agent.executor, agent._started, agent._tools_sent = executor, False, False
                return await self._run_agent(agent, task)
        except Exception as exc:  # the pool could not lend a kernel
            return {"error": f"no executor: {type(exc).__name__}: {exc}"}
        finally:
            if pool is None:
                await _close_agent(agent)

    async def _run_agent(self, agent: Any, task: str) -> dict[str, Any]:
        try:
            run = await asyncio.wait_for(agent.arun(task), self.timeout)
        except asyncio.TimeoutError:
            executor = getattr(agent, "executor", None)
            if executor is not None:
                with contextlib.suppress(Exception):
                    await executor.interrupt()
            usage = sum((s.token_usage for s in getattr(agent.last_run, "steps", []) or []), TokenUsage()) if agent.last_run else TokenUsage()
            return {"error": f"timed out after {self.timeout:g} s", "usage": usage}
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        return {"output": run.output, "success": run.success, "error": run.error, "usage": run.token_usage, "steps": len(run.action_steps)}

    async def close(self) -> None:
        """Stop the warm pool, if one was made."""
        if self._first is not None:
            await _close_agent(self._first)
            self._first = None
        if self._pool is not None:
            await self._pool.close()


async def _close_agent(agent: Any) -> None:
    closer = getattr(agent, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
