"""The agent loop shared by CodeAgent and ToolCallingAgent.

One async loop: build messages (system prompt, memory, task, steps), call the
model, act on the reply (run code or tool calls), record the step, and stop
at ``final_answer`` or ``max_steps``. Subclasses supply the system prompt,
how a reply is acted on, and how a past step reads in the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .. import monitoring
from .._async import iterate_sync, run_sync
from ..exceptions import AgentError, ModelCallError, RunError, RunInterrupted, ToolDefinitionError
from ..memory import ActionStep, AgentMemory, PlanningStep, Step, compact
from ..models.base import ChatMessage, Model, TokenUsage, collect_stream
from ..tools import FinalAnswerTool, Tool
from . import events as ev
from .result import RunResult

if TYPE_CHECKING:
    from ..spec import AgentSpec

__all__ = ["MultiStepAgent", "RunContext", "load_prompt"]

EventCallback = Callable[[ev.AgentEvent], None]
StepCallback = Callable[[Step, "MultiStepAgent"], None]

RECENT_STEPS_IN_FULL = 2
"""How many of the latest steps keep their observations whole in the prompt."""
COMPACT_OBSERVATION_CHARS = 300
"""Older observations are cut to this many characters."""


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """Read a prompt template shipped in ``agents/prompts`` (once per process)."""
    return resources.files(__package__).joinpath("prompts", name).read_text(encoding="utf-8")


@dataclass
class RunContext:
    """Where the events of one run go, and how it nests in a parent run."""

    run_id: str
    agent_name: str
    emit: EventCallback | None = None
    depth: int = 0
    parent_run_id: str | None = None
    parent_step: int | None = None
    current_step: ActionStep | None = None
    stream_model: bool = True

    def send(self, event_type: type[ev.AgentEvent], **fields: Any) -> None:
        """Emit an event of ``event_type`` if anyone listens."""
        if self.emit is not None:
            self.emit(event_type(self.run_id, self.agent_name, depth=self.depth, parent_run_id=self.parent_run_id, parent_step=self.parent_step, **fields))

    def child(self) -> dict[str, Any]:
        """Keyword arguments that nest a managed agent's run under the current step."""
        step = self.current_step.step_number if self.current_step else None
        return {"_emit": self.emit, "_depth": self.depth + 1, "_parent": (self.run_id, step)}


class MultiStepAgent:
    """Base of the agents. Not used directly: use CodeAgent or ToolCallingAgent.

    Args:
        tools: ``Tool`` objects (``@tool`` functions are Tools too).
        model: a ``Model`` or a model spec string (see ``resolve_model``);
            None reads ``SMOLKERNEL_MODEL``.
        max_steps: action steps before the run stops with ``success=False``.
        memory_size: past interactions kept across runs (rolling window).
        managed_agents: agents (with ``name`` and ``description``) this one can
            call like tools.
        planning_interval: write a plan before step 1 and every N steps.
        name, description: needed to be a managed agent of another.
        instructions: extra text appended to the system prompt.
        step_callbacks: ``fn(step, agent)`` called after every step.

    Raises:
        ToolDefinitionError: two tools share a name, or a managed agent lacks
            a name or description.
    """

    prompt_file: ClassVar[str] = ""
    stop_sequences: ClassVar[list[str] | None] = None

    def __init__(
        self,
        tools: Iterable[Tool] = (),
        model: Model | str | None = None,
        *,
        max_steps: int = 10,
        memory_size: int = 5,
        managed_agents: Iterable[MultiStepAgent] = (),
        planning_interval: int | None = None,
        name: str | None = None,
        description: str | None = None,
        instructions: str | None = None,
        step_callbacks: Iterable[StepCallback] = (),
    ):
        if not isinstance(model, Model):
            from ..models.resolve import resolve_model

            model = resolve_model(model)
        self.model: Model = model
        self.max_steps = max_steps
        self.memory = AgentMemory(memory_size=memory_size)
        self.planning_interval = planning_interval
        self.name = name
        self.description = description
        self.instructions = instructions
        self.step_callbacks = list(step_callbacks)
        self.managed_agents = {a.name: a for a in managed_agents if _check_managed(a)}
        self.tools: dict[str, Tool] = {}
        self.add_tools(*tools)
        self.last_run: RunResult | None = None
        self._task: asyncio.Task[Any] | None = None
        self._interrupt_requested = False

    # -- configuration ------------------------------------------------------

    def add_tools(self, *tools: Tool) -> None:
        """Add tools; the system prompt is rebuilt on the next run.

        Raises:
            ToolDefinitionError: a name is already taken.
        """
        from .managed import ManagedAgentTool

        candidates = list(tools)
        if not self.tools:
            candidates += [FinalAnswerTool()] + [ManagedAgentTool(a) for a in self.managed_agents.values()]
        for item in candidates:
            if not isinstance(item, Tool):
                raise ToolDefinitionError(f"{item!r} is not a Tool; decorate the function with @tool or subclass Tool")
            if item.name in self.tools:
                raise ToolDefinitionError(f"two tools are named {item.name!r}; give one of them another name")
            self.tools[item.name] = item
        self.__dict__.pop("system_prompt", None)
        self._tools_changed()

    def _tools_changed(self) -> None:
        """Hook for subclasses that must push tools somewhere (CodeAgent's executor)."""

    @cached_property
    def system_prompt(self) -> str:
        """The system prompt, rendered once and reused until the tools change."""
        members = "".join(f"- {a.name}(task: str) -> str: {a.description}\n" for a in self.managed_agents.values())
        team = load_prompt("team.txt").format(members=members) if members else ""
        instructions = f"\n{self.instructions.strip()}\n" if self.instructions else ""
        return load_prompt(self.prompt_file).format(tools=self._tools_text(), team=team, instructions=instructions, **self._prompt_fields()).strip()

    def _tools_text(self) -> str:
        raise NotImplementedError

    def _prompt_fields(self) -> dict[str, str]:
        return {}

    # -- running ------------------------------------------------------------

    def run(self, task: str, *, variables: Mapping[str, Any] | None = None) -> RunResult:
        """Run ``task`` to completion (blocking; works inside Jupyter's loop too).

        Returns:
            The RunResult. Failures inside steps are recorded there, not raised.

        Raises:
            RunInterrupted: ``interrupt()`` was called or the user pressed Ctrl-C.
            ConfigurationError: the set-up is wrong (e.g. a missing API key).
        """
        return run_sync(self.arun(task, variables=variables))

    async def arun(
        self,
        task: str,
        *,
        variables: Mapping[str, Any] | None = None,
        on_event: EventCallback | None = None,
        stream_model: bool = True,
        _emit: EventCallback | None = None,
        _depth: int = 0,
        _parent: tuple[str, int | None] | None = None,
    ) -> RunResult:
        """Run ``task``; ``on_event`` receives every event (see ``events``).

        With a listener the model's reply is streamed (``ModelDelta`` events);
        ``stream_model=False`` asks for whole replies instead (no deltas), which
        costs less when nobody shows the text as it comes (the server).
        """
        ctx = RunContext(
            run_id=uuid.uuid4().hex[:12],
            agent_name=self.name or "agent",
            emit=_combine(on_event, _emit),
            depth=_depth,
            parent_run_id=_parent[0] if _parent else None,
            parent_step=_parent[1] if _parent else None,
            stream_model=stream_model,
        )
        if self._task is not None and not self._task.done():
            raise RunError(f"agent {ctx.agent_name!r} is already running a task; use another agent instance for parallel runs")
        self._task = asyncio.current_task()
        self._interrupt_requested = False
        try:
            with monitoring.agent_run(ctx.agent_name, self.model.model_id, ctx.run_id, depth=_depth) as observed:
                observed.done(await self._run(task, ctx, variables))
            return observed.result  # type: ignore[return-value]
        except asyncio.CancelledError:
            if self._interrupt_requested:
                raise RunInterrupted("the run was interrupted") from None
            raise
        finally:
            self._task = None

    async def astream(self, task: str, *, variables: Mapping[str, Any] | None = None) -> AsyncIterator[ev.AgentEvent]:
        """Run ``task``, yielding events as they happen; the last is ``RunFinished``."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ev.AgentEvent | BaseException | None] = asyncio.Queue()

        def put(event: ev.AgentEvent) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        async def drive() -> None:
            try:
                await self.arun(task, variables=variables, on_event=put)
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except BaseException as exc:  # delivered to the consumer below
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        runner = asyncio.ensure_future(drive())
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(BaseException):  # the consumer stopped early: end the run cleanly
                    await runner

    def stream(self, task: str, *, variables: Mapping[str, Any] | None = None) -> Iterator[ev.AgentEvent]:
        """Blocking twin of :meth:`astream`."""
        return iterate_sync(self.astream(task, variables=variables))

    def interrupt(self) -> None:
        """Stop the current run (thread-safe); ``arun`` raises ``RunInterrupted``."""
        task = self._task
        if task is None or task.done():
            return
        self._interrupt_requested = True
        loop = task.get_loop()
        loop.call_soon_threadsafe(task.cancel)
        self._interrupt_extra(loop)

    def _interrupt_extra(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hook: also stop work outside the task (CodeAgent interrupts its executor)."""

    async def _prepare(self, variables: Mapping[str, Any] | None) -> None:
        """Hook run before the first step (CodeAgent starts its executor)."""

    async def _run(self, task: str, ctx: RunContext, variables: Mapping[str, Any] | None) -> RunResult:
        started = time.perf_counter()
        steps: list[Step] = []
        result = RunResult(task=task, output=None, steps=steps, agent_name=ctx.agent_name, run_id=ctx.run_id)
        ctx.send(ev.RunStarted, task=task, model_id=self.model.model_id, max_steps=self.max_steps)
        history = self.memory.to_messages()
        try:
            await self._prepare(variables)
            for number in range(1, self.max_steps + 1):
                if self.planning_interval and (number - 1) % self.planning_interval == 0:
                    steps.append(await self._plan(task, history, steps, number, ctx))
                step = await self._step(task, history, steps, number, ctx)
                if step.is_final_answer:
                    result.output, result.success = step.output, True
                    break
            else:
                result.output = await self._final_attempt(task, history, steps)
                result.error = f"no final answer within max_steps={self.max_steps}"
        except RunError as exc:
            result.error = str(exc)
        finally:
            result.token_usage = sum((s.token_usage for s in steps), TokenUsage())
            result.duration = time.perf_counter() - started
            self.last_run = result
            self.memory.record(result)
        ctx.send(ev.RunFinished, result=result)
        return result

    async def _step(self, task: str, history: list[ChatMessage], steps: list[Step], number: int, ctx: RunContext) -> ActionStep:
        step = ActionStep(step_number=number)
        ctx.current_step = step
        ctx.send(ev.StepStarted, step_number=number)
        began = time.perf_counter()
        unreachable: str | None = None
        try:
            message = await self._call_model(self._messages(task, history, steps), number, ctx)
            step.model_output = message.content
            step.token_usage = message.token_usage or TokenUsage()
            await self._act(message, step, ctx)
        except ModelCallError as exc:
            # The model already retried inside the call; another step would fail the same way.
            step.error = unreachable = f"The model call failed: {exc}"
        except AgentError as exc:
            step.error = str(exc)
        step.duration = time.perf_counter() - began
        steps.append(step)
        for callback in self.step_callbacks:
            callback(step, self)
        ctx.send(ev.StepFinished, step=step)
        ctx.current_step = None
        if unreachable:
            raise RunError(unreachable)
        return step

    async def _call_model(self, messages: list[ChatMessage], number: int, ctx: RunContext, *, tools: bool = True) -> ChatMessage:
        offered = self._offered_tools() if tools else None
        with monitoring.model_call(self.model.model_id) as observed:
            if ctx.emit is None or not ctx.stream_model:
                message = await self.model.agenerate(messages, stop=self.stop_sequences, tools=offered)
            else:
                deltas = []
                async for delta in self.model.astream(messages, stop=self.stop_sequences, tools=offered):
                    deltas.append(delta)
                    if delta.content:
                        ctx.send(ev.ModelDelta, step_number=number, text=delta.content)
                message = collect_stream(deltas)
            observed.done(message)
        if ctx.emit is not None:  # parsing the code for the event costs; a run nobody watches skips it
            code = self._code_of(message) if tools else None  # a plan has no code
            ctx.send(ev.ModelOutput, step_number=number, message=message, code=code)
        return message

    def _code_of(self, message: ChatMessage) -> str | None:
        """The code a reply will run, for the ``ModelOutput`` event (None: this kind writes none)."""
        return None

    def _offered_tools(self) -> Sequence[Tool] | None:
        """Tools passed to the model for native tool calling (ToolCallingAgent)."""
        return None

    async def _act(self, message: ChatMessage, step: ActionStep, ctx: RunContext) -> None:
        raise NotImplementedError

    # -- prompts ------------------------------------------------------------

    def _messages(self, task: str, history: list[ChatMessage], steps: Sequence[Step]) -> list[ChatMessage]:
        messages = [ChatMessage(role="system", content=self.system_prompt), *history]
        messages.append(ChatMessage(role="user", content=f"New task:\n{task}"))
        actions = [s for s in steps if isinstance(s, ActionStep)]
        recent = {id(s) for s in actions[-RECENT_STEPS_IN_FULL:]}
        plans = [s for s in steps if isinstance(s, PlanningStep)]
        for step in steps:
            if isinstance(step, PlanningStep):
                text = step.plan if step is plans[-1] else compact(step.plan, COMPACT_OBSERVATION_CHARS)
                messages.append(ChatMessage(role="assistant", content=f"Plan:\n{text}"))
            else:
                limit = None if id(step) in recent else COMPACT_OBSERVATION_CHARS
                messages.extend(self._step_messages(step, limit))
        return messages

    def _step_messages(self, step: ActionStep, limit: int | None) -> list[ChatMessage]:
        raise NotImplementedError

    async def _plan(self, task: str, history: list[ChatMessage], steps: list[Step], number: int, ctx: RunContext) -> PlanningStep:
        began = time.perf_counter()
        progress = "" if number == 1 else f"You are at step {number} of {self.max_steps}; update the plan given the progress so far."
        messages = self._messages(task, history, steps)
        messages.append(ChatMessage(role="user", content=load_prompt("planning.txt").format(progress=progress).strip()))
        try:
            with monitoring.model_call(self.model.model_id) as observed:
                reply = observed.done(await self.model.agenerate(messages))
        except ModelCallError as exc:
            raise RunError(f"The model call failed while planning: {exc}") from None
        step = PlanningStep(plan=(reply.content or "").strip(), step_number=number, token_usage=reply.token_usage or TokenUsage(), duration=time.perf_counter() - began)
        ctx.send(ev.PlanCreated, step=step)
        return step

    async def _final_attempt(self, task: str, history: list[ChatMessage], steps: list[Step]) -> Any:
        messages = self._messages(task, history, steps)
        messages.append(ChatMessage(role="user", content=load_prompt("final_attempt.txt").strip()))
        try:
            with monitoring.model_call(self.model.model_id) as observed:
                reply = observed.done(await self.model.agenerate(messages))
        except (ModelCallError, RunError):
            return None
        if reply.token_usage and steps:
            last = steps[-1]
            last.token_usage = last.token_usage + reply.token_usage
        return (reply.content or "").strip()

    # -- description ----------------------------------------------------------

    def to_spec(self) -> AgentSpec:
        """Describe this agent as an ``AgentSpec`` (``spec.build()`` makes a fresh one).

        Tools defined in notebooks or ``%%tool`` cells are written as their
        source code (``{source: ...}``); ``save(folder)`` writes them as files.

        Raises:
            ConfigurationError: naming the model, tool or executor that no spec can describe.
        """
        from ..sharing.describe import agent_to_spec

        return agent_to_spec(self)

    def save(self, folder: str | Path) -> Path:
        """Write the agent to ``folder``: ``agent.yaml``, ``tools/NAME.py``, ``requirements.txt``.

        Returns:
            The folder.

        Raises:
            ConfigurationError: a part of the agent cannot be described.
        """
        from ..sharing.folder import save_agent

        return save_agent(self, folder)

    @classmethod
    def from_folder(cls, folder: str | Path, *, trust_remote_code: bool = False, **build: Any) -> MultiStepAgent:
        """Load an agent saved with ``save`` (or by smolagents 1.x).

        Args:
            folder: the folder.
            trust_remote_code: import the tool code shipped in ``tools/``;
                refused by default, since it is code someone else wrote.
            **build: ``model=`` or ``executor=`` to use instead of the saved ones.

        Raises:
            AgentSpecError: the folder is wrong or its tool code is not trusted.
        """
        from ..sharing.folder import load_folder

        return load_folder(folder, trust_remote_code=trust_remote_code, kind=cls._spec_kind(), **build)

    def push_to_hub(self, repo_id: str, *, token: str | None = None, private: bool = True, commit_message: str | None = None, **options: Any) -> str:
        """Save the agent and upload it to a Hub repository (``HF_ENDPOINT`` chooses the server).

        Returns:
            The new revision (commit id).
        """
        from ..sharing.hub import push_agent

        return push_agent(self, repo_id, token=token, private=private, commit_message=commit_message, **options)

    @classmethod
    def from_hub(cls, repo_id: str, *, revision: str | None = None, trust_remote_code: bool = False, token: str | None = None, **options: Any) -> MultiStepAgent:
        """Download an agent from the Hub (at ``revision``: a commit, branch or tag) and load it.

        Raises:
            AgentSpecError: as ``from_folder``.
            ConfigurationError: the repository or revision cannot be fetched.
        """
        from ..sharing.hub import download_agent
        from ..sharing.folder import load_folder

        where = {key: options.pop(key) for key in ("repo_type", "endpoint") if key in options}
        folder = download_agent(repo_id, revision=revision, token=token, **where)
        return load_folder(folder, trust_remote_code=trust_remote_code, kind=cls._spec_kind(), **options)

    @classmethod
    def _spec_kind(cls) -> str | None:
        from .code_agent import CodeAgent
        from .tool_calling_agent import ToolCallingAgent

        if issubclass(cls, CodeAgent):
            return "code"
        return "toolcalling" if issubclass(cls, ToolCallingAgent) else None

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Release resources (the executor); the agent can run again afterwards."""

    def reset(self) -> None:
        """Forget the memory (CodeAgent also clears its workspace)."""
        self.memory.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r}, tools={list(self.tools)})"


def _combine(*callbacks: EventCallback | None) -> EventCallback | None:
    active = [c for c in callbacks if c is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def emit(event: ev.AgentEvent) -> None:
        for callback in active:
            callback(event)

    return emit


def _check_managed(agent: MultiStepAgent) -> bool:
    if not agent.name or not agent.name.isidentifier():
        raise ToolDefinitionError(f"a managed agent needs a `name` that is a Python identifier (got {agent.name!r})")
    if not agent.description:
        raise ToolDefinitionError(f"managed agent {agent.name!r} needs a `description` saying what it can do")
    return True
