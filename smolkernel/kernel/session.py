"""AgentSession: the kernel's agent, built on first use, and what outlives it.

The directives change the model, the kind of agent and the executor; the
session keeps the memory, the tools and the executor across those changes,
so ``%agent toolcalling`` after three tasks still remembers them, and
``%model`` keeps the workspace. Heavy modules (agents, executors, model
backends) are imported here only when a cell first needs them, so the kernel
starts as fast as a plain ipykernel.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError, MissingAPIKeyError

if TYPE_CHECKING:
    from ..agents.base import MultiStepAgent
    from ..executors.base import Executor
    from ..memory import AgentMemory
    from ..models.base import Model
    from ..tools import Tool

__all__ = ["AgentSession", "AGENT_KINDS", "NO_MODEL_MESSAGE"]

AGENT_KINDS = {"code": "CodeAgent", "toolcalling": "ToolCallingAgent"}
"""``%agent`` names and the agent class each one builds."""

NO_MODEL_MESSAGE = (
    "No model is set. Name one in a cell such as\n"
    "    %model openai/gpt-4o-mini\n"
    "    %model openai/my-model --api-base http://localhost:8000/v1 --api-key-env MY_KEY\n"
    "or set the SMOLKERNEL_MODEL environment variable (or c.SmolKernel.model) before starting the kernel."
)


class NoModelError(ConfigurationError):
    """A task cell ran with no model configured."""


class AgentSession:
    """The agent of one kernel and its lasting parts (memory, tools, executor).

    Args:
        model: the default model spec (None: ``$SMOLKERNEL_MODEL``).
        agent_kind: ``"code"`` or ``"toolcalling"``.
        executor: executor name for the workspace (``"kernel"``, ``"local"``...).
        executor_timeout: seconds one execution may take.
        max_steps: steps per task.
        memory_size: past interactions kept across cells.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        agent_kind: str = "code",
        executor: str = "kernel",
        executor_timeout: float | None = 60.0,
        max_steps: int = 10,
        memory_size: int = 5,
    ) -> None:
        self.model_spec = model or None
        self.model: Model | None = None
        self.agent_kind = _check_kind(agent_kind)
        self.executor_name = executor
        self.executor_timeout = executor_timeout
        self.max_steps = max_steps
        self.tools: dict[str, Tool] = {}
        """Tools added with ``%tools`` and ``%%tool``, by name."""
        self.mcp_clients: list[Any] = []
        """MCP servers whose tools were added with ``%tools mcp`` (closed with the session)."""
        self.executor_started = False
        """True once the workspace was used (so ``%reset`` has something to clear)."""
        self.agent_options: dict[str, Any] = {}
        """More keyword arguments for the agent (instructions, managed agents...) from ``%load``."""
        self._tools_version = 0
        self._tools_sent_version = -1
        self._memory_size = memory_size
        self._memory: AgentMemory | None = None
        self._executor: Executor | None = None
        self._agent: MultiStepAgent | None = None

    # -- parts ---------------------------------------------------------------

    @property
    def memory(self) -> AgentMemory:
        """The rolling window of past tasks, shared by every agent the session builds."""
        if self._memory is None:
            from ..memory import AgentMemory

            self._memory = AgentMemory(memory_size=self._memory_size)
        return self._memory

    @property
    def agent(self) -> MultiStepAgent | None:
        """The current agent, or None before the first task (or after a change of kind)."""
        return self._agent

    @property
    def executor(self) -> Executor:
        """The workspace's executor (created on first use, not started).

        Raises:
            UnknownExecutorError: the configured name is not known.
        """
        if self._executor is None:
            from ..executors.registry import resolve_executor

            self._executor = resolve_executor(self.executor_name, timeout=self.executor_timeout)
        return self._executor

    def has_model(self) -> bool:
        """True when a task could run: a model is set, configured or in the environment."""
        return bool(self.model or self.model_spec or os.environ.get("SMOLKERNEL_MODEL", "").strip())

    # -- changes -------------------------------------------------------------

    def set_model(self, spec: str, *, api_base: str | None = None, api_key_env: str | None = None, record: str | None = None) -> Model:
        """Resolve ``spec`` and use it from now on (memory and workspace stay).

        ``record`` names a cassette file that every model call is appended to.

        Raises:
            ConfigurationError: the spec or its key is wrong (the message says how).
        """
        from ..models.resolve import resolve_model

        model = checked(resolve_model(spec, api_base=api_base, api_key_env=api_key_env, record=record))
        self.model, self.model_spec = model, spec
        if self._agent is not None:
            self._agent.model = model
        return model

    def set_agent_kind(self, kind: str) -> None:
        """Switch between CodeAgent and ToolCallingAgent (memory, tools, workspace stay).

        Raises:
            ConfigurationError: an unknown kind.
        """
        self.agent_kind = _check_kind(kind)
        self._agent = None

    async def set_executor(self, name: str, timeout: float | None, options: dict[str, Any] | None = None) -> Executor:
        """Use a new executor (the old one is closed: its workspace is gone).

        Raises:
            UnknownExecutorError: the name is not known.
        """
        from ..executors.registry import resolve_executor

        new = resolve_executor(name, **{**(options or {}), "timeout": timeout})
        old, self._executor = self._executor, new
        self.executor_name, self.executor_timeout = name, timeout
        self.executor_started = False
        self._tools_sent_version = -1
        self._agent = None
        if old is not None:
            await old.close()
        return new

    def add_tools(self, tools: list[Tool]) -> None:
        """Add or replace tools by name; the agent sees them on its next task."""
        for item in tools:
            self.tools[item.name] = item
        self._tools_version += 1
        if self._agent is not None:
            for item in tools:
                self._agent.tools.pop(item.name, None)
            self._agent.add_tools(*tools)

    async def add_mcp_server(self, server: list[str] | str, *, timeout: float = 30.0) -> list[Tool]:
        """Connect to an MCP server (command or URL), add its tools, keep it open until the kernel stops.

        Adding the same server again (a cell run twice) replaces the earlier connection.

        Raises:
            ConfigurationError: the server could not be started or reached.
        """
        from ..tools.mcp import MCPClient

        client = MCPClient(server, timeout=timeout)
        await client.aconnect()
        for stale in [c for c in self.mcp_clients if c.label == client.label]:  # the cell ran again
            self.mcp_clients.remove(stale)
            await stale.aclose()
        self.mcp_clients.append(client)
        tools = client.tools
        self.add_tools(tools)
        return tools

    def remove_tools(self, names: list[str]) -> list[str]:
        """Remove tools by name; returns the names that were not there."""
        missing = [n for n in names if n not in self.tools]
        for name in names:
            self.tools.pop(name, None)
        self._tools_version += 1
        if self._agent is not None and len(missing) < len(names):
            self._agent = None
        return missing

    # -- use -----------------------------------------------------------------

    def ensure_agent(self) -> MultiStepAgent:
        """The agent, built now if needed.

        Raises:
            NoModelError: no model is set anywhere.
            ConfigurationError: the model spec or a tool is wrong.
        """
        if self._agent is not None:
            return self._agent
        if self.model is None:
            spec = self.model_spec or os.environ.get("SMOLKERNEL_MODEL", "").strip()
            if not spec:
                raise NoModelError(NO_MODEL_MESSAGE)
            from ..models.resolve import resolve_model
            from .frontend import resolve_model_spec

            self.model = checked(resolve_model(resolve_model_spec(spec)))
        self._agent = self._build_agent()
        return self._agent

    def _build_agent(self) -> MultiStepAgent:
        from .. import agents

        options: dict[str, Any] = {"tools": list(self.tools.values()), "model": self.model, "max_steps": self.max_steps, **self.agent_options}
        if self.agent_kind == "code":
            agent: MultiStepAgent = agents.CodeAgent(executor=self.executor, **options)
        else:
            agent = agents.ToolCallingAgent(**options)
        agent.memory = self.memory
        return agent

    async def adopt(self, spec: Any, *, trust_remote_code: bool = False) -> MultiStepAgent:
        """Become the agent ``spec`` describes (``%load``): its model, kind, tools and settings.

        The memory stays; the workspace stays too unless the spec names
        another executor.

        Raises:
            AgentSpecError: the spec cannot be built (a tool, the model, trust).
        """
        from ..sharing.describe import user_tools

        executor_name = spec.executor or self.executor_name
        options = {k: v for k, v in spec.executor_options.items() if k != "timeout"}
        timeout = spec.executor_options.get("timeout", self.executor_timeout)
        agent = spec.build(trust_remote_code=trust_remote_code, executor=self.executor if spec.kind == "code" and not spec.executor else None)
        if spec.kind == "code" and spec.executor:
            await self.set_executor(executor_name, timeout, options)
            agent.executor = self.executor
        self.model, self.model_spec = agent.model, getattr(agent.model, "model_spec", None)
        self.agent_kind, self.max_steps = spec.kind, spec.max_steps
        self.tools = {item.name: item for item in user_tools(agent)}
        self.agent_options = {
            "managed_agents": list(agent.managed_agents.values()), "planning_interval": spec.planning_interval,
            "instructions": spec.instructions, "name": spec.name, "description": spec.description,
        }
        self.memory.resize(spec.memory_size)
        agent.memory = self.memory
        self._tools_version += 1
        self._agent = agent
        return agent

    async def start_executor(self) -> Executor:
        """Start the workspace and send it the tools (for ``%%python``)."""
        executor = self.executor
        await executor.start()
        if not self.executor_started or self._tools_sent_version != self._tools_version:
            from ..tools import FinalAnswerTool

            await executor.send_tools({"final_answer": FinalAnswerTool(), **self.tools})
            self._tools_sent_version = self._tools_version
        self.executor_started = True
        return executor

    async def reset(self) -> None:
        """Forget the memory and the workspace's variables (tools stay)."""
        self.memory.clear()
        if self._executor is not None and self.executor_started:
            await self._executor.reset()

    def interrupt(self) -> None:
        """Stop the running task (thread-safe; the caller also cancels the cell)."""
        if self._agent is not None:
            self._agent.interrupt()

    async def aclose(self) -> None:
        """Stop the workspace (the sibling kernel) and release the executor."""
        executor, self._executor = self._executor, None
        clients, self.mcp_clients = self.mcp_clients, []
        for client in clients:
            await client.aclose()
        self._agent = None
        self.executor_started = False
        self._tools_sent_version = -1
        if executor is not None:
            await executor.close()


def _check_kind(kind: str) -> str:
    if kind not in AGENT_KINDS:
        raise ConfigurationError(f"unknown agent kind {kind!r}; choose one of: {', '.join(AGENT_KINDS)}")
    return kind


KEY_HINT = "or name another variable with %model SPEC --api-key-env VAR"


def checked(model: Model) -> Model:
    """``model`` once its set-up is checked; a missing key says how to fix it in this kernel.

    Raises:
        ConfigurationError: the provider is unknown or its API key is not set.
    """
    try:
        model.check()
    except MissingAPIKeyError as exc:
        raise exc.with_hint(KEY_HINT) from None
    return model
