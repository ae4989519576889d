"""CodeAgent: the model writes Python that calls tools; the executor runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .._async import run_sync
from ..exceptions import AgentError, AgentExecutionError, ExecutorError
from ..executors.base import Executor
from ..executors.registry import resolve_executor
from ..memory import ActionStep, compact
from ..models.base import ChatMessage
from .base import MultiStepAgent, RunContext
from .managed import ManagedAgentTool
from .parsing import cut_fake_observation, ipython_lines, parse_code

__all__ = ["CodeAgent"]


class CodeAgent(MultiStepAgent):
    """An agent that acts by writing Python code.

    One step can call several tools, loop, and keep variables for later steps.
    Takes the arguments of ``MultiStepAgent`` plus:

    Args:
        executor: where the code runs: a name (``"local"``, ``"kernel"``,
            ``"sandbox"``...) or an ``Executor`` instance. Default ``"local"``.
        executor_options: keyword arguments for the executor when given by
            name, e.g. ``{"timeout": 30}``.
    """

    prompt_file = "code_agent.txt"
    stop_sequences = ["Observation:"]

    def __init__(self, tools=(), model=None, *, executor: str | Executor | None = None, executor_options: Mapping[str, Any] | None = None, **kwargs: Any):
        self.executor: Executor = resolve_executor(executor or "local", **dict(executor_options or {}))
        self.executor_choice: tuple[str | None, dict[str, Any]] = (
            executor or "local" if not isinstance(executor, Executor) else None,
            dict(executor_options or {}),
        )
        """The executor's name and options as given (name None for an instance), for ``to_spec``."""
        self._tools_sent = False
        self._started = False
        super().__init__(tools, model, **kwargs)

    def _tools_changed(self) -> None:
        self._tools_sent = False

    def _tools_text(self) -> str:
        shown = [t.to_code_prompt() for t in self.tools.values() if not isinstance(t, ManagedAgentTool)]
        return "\n\n".join(shown)

    def _prompt_fields(self) -> dict[str, str]:
        allowed = self.executor.allowed_imports
        if allowed is None:
            return {"imports": "any installed module"}
        return {"imports": ", ".join(sorted(allowed))}

    async def _prepare(self, variables: Mapping[str, Any] | None) -> None:
        if not self._started:
            await self.executor.start()
            self._started = True
        if not self._tools_sent:
            await self.executor.send_tools(self.tools)
            self._tools_sent = True
        if variables:
            await self.executor.send_variables(variables)

    def _code_of(self, message: ChatMessage) -> str | None:
        try:
            return parse_code(message.content or "")
        except AgentError:  # the step reports the parsing error
            return None

    async def _act(self, message: ChatMessage, step: ActionStep, ctx: RunContext) -> None:
        code = parse_code(message.content or "")
        step.code = code
        self._check_ipython(code)
        for managed in self.tools.values():
            if isinstance(managed, ManagedAgentTool):
                managed.context = ctx
        try:
            out = await self.executor.run(code)
        except ExecutorError as exc:
            raise AgentExecutionError(f"The code could not be run: {exc}") from None
        step.displays = out.displays
        parts = [out.logs.rstrip()] if out.logs.strip() else []
        if out.output is not None and not out.is_final_answer:
            parts.append(f"Last value: {compact(repr(out.output), self.executor.max_output_chars)}")
        if out.workspace_lost:
            # Code that still succeeded did not need the lost variables, so its answer stands;
            # either way the model must know that earlier variables are gone.
            parts.insert(0, "Note: the executor died and was restarted; the workspace was lost, variables from earlier steps are gone.")
        step.observations = "\n".join(parts)
        step.error = out.error
        if out.is_final_answer and not step.error:
            step.is_final_answer, step.output, step.answer_bundle = True, out.output, out.answer_bundle

    def _check_ipython(self, code: str) -> None:
        """IPython lines run where the executor is IPython; elsewhere the model is told plainly.

        Raises:
            AgentExecutionError: the code has ``%`` or ``!`` lines and the executor runs plain Python.
        """
        lines = ipython_lines(code)
        if not lines or self.executor.runs_ipython:
            return
        number, line = lines[0]
        raise AgentExecutionError(
            f"Line {number}: `{line.strip()}` is IPython syntax (a %magic or !shell command); the "
            f"{self.executor.name!r} executor runs plain Python, so the code was not run. Write it in Python: "
            "e.g. subprocess.run([...], capture_output=True, text=True) for a shell command, and use only "
            "packages that are already installed."
        )

    def _step_messages(self, step: ActionStep, limit: int | None) -> list[ChatMessage]:
        reply = cut_fake_observation(step.model_output or "")  # the real observation follows, not the invented one
        if step.code and "```" not in reply and "<code>" not in reply:
            reply = f"```python\n{step.code}\n```"
        text = step.observations or "(no output)"
        if limit is not None:
            text = compact(text, limit)
        observation = f"Observation:\n{text}"
        if step.error:
            observation += f"\nError:\n{step.error if limit is None else compact(step.error, limit)}\nFix the code and try again."
        return [ChatMessage(role="assistant", content=reply), ChatMessage(role="user", content=observation)]

    def _interrupt_extra(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.run_coroutine_threadsafe(self.executor.interrupt(), loop)

    def close(self) -> None:
        """Close the executor (it restarts on the next run)."""
        run_sync(self.aclose())

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await self.executor.close()
        self._started = False
        self._tools_sent = False

    def reset(self) -> None:
        """Forget the memory and the workspace's variables."""
        super().reset()
        if self._started:
            run_sync(self.executor.reset())
