"""One notebook session's agents: built on demand, one per configuration, kept across cells.

``AgentSession.agent_for(config)`` returns the agent for a configuration,
creating it the first time; later cells with the same configuration reuse it,
so its memory spans cells (within its ``memory_size``) and, with the
``local`` executor, its workspace is the user's own namespace. Every run's
result is kept for ``%agent usage``, which therefore accumulates over the
whole session, including agents that were reset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from smolkernel.exceptions import ConfigurationError, MissingAPIKeyError, SmolkernelError

from ._config import AgentConfig

if TYPE_CHECKING:
    from smolkernel.agents.base import MultiStepAgent
    from smolkernel.agents.result import RunResult
    from smolkernel.models.base import Model
    from smolkernel.tools import Tool

__all__ = ["AgentSession", "NO_MODEL_MESSAGE"]

NO_MODEL_MESSAGE = (
    "no model is configured; set one with %agent config model=openai/gpt-4o-mini "
    "(add api_key_env=OPENAI_API_KEY or api_base=URL as needed), pass --model to %%agent, "
    "or set the SMOLKERNEL_MODEL environment variable"
)
IMPORT_HINT = "The user can allow it with %agent config imports={module} (or --executor kernel, which imports anything)"
KEY_HINT = "or name another variable with %agent config api_key_env=VAR (or --api-key-env VAR on the cell)"


class AgentSession:
    """The magics' state in one shell: default settings, agents, run history.

    Args:
        namespace: the user's namespace (``shell.user_ns``); the ``local``
            executor runs in it and tools are looked up in it.
    """

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.defaults = AgentConfig()
        """Settings from ``%agent config``."""
        self.agents: dict[tuple[Any, ...], MultiStepAgent] = {}
        """Agents by ``AgentConfig.agent_key``."""
        self.results: list[RunResult] = []
        """Every run of the session, oldest first (for ``%agent usage``)."""
        self.last_agent: MultiStepAgent | None = None
        """The agent of the latest run (``%agent memory``, ``%agent export``)."""
        self.mcp_clients: list[Any] = []
        """MCP servers added with ``%agent tools mcp``; their tools go to every agent."""

    # -- agents ----------------------------------------------------------------

    def agent_for(self, config: AgentConfig) -> MultiStepAgent:
        """The agent for ``config`` (created on first use), with its tools and max_steps set.

        Raises:
            UsageError: no model, an unknown model or executor, a missing API
                key or a bad tool; the message says how to fix it.
        """
        tools = self.resolve_tools(config.tools) + [t for client in self.mcp_clients for t in client.tools]
        agent = self.agents.get(config.agent_key)
        if agent is None:
            agent = self._build(config, tools)
            self.agents[config.agent_key] = agent
        else:
            _set_tools(agent, tools)
            if (config.model_spec or "").startswith("scripted:"):
                # Each cell plays a scripted file from its start (the memory stays).
                agent.model = self.model_for(config)
        agent.max_steps = config.max_steps
        return agent

    def _build(self, config: AgentConfig, tools: list[Tool]) -> MultiStepAgent:
        if not config.model_spec:
            raise UsageError(NO_MODEL_MESSAGE)
        from smolkernel.agents import CodeAgent, ToolCallingAgent

        model = self.model_for(config)
        try:
            if config.kind == "toolcalling":
                return ToolCallingAgent(tools, model, memory_size=config.memory_size, max_steps=config.max_steps)
            return CodeAgent(tools, model, executor=self._executor(config), memory_size=config.memory_size, max_steps=config.max_steps)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except ImportError as exc:
            raise UsageError(f"the {config.executor} executor cannot be loaded ({exc}); use --executor local or kernel") from None

    def model_for(self, config: AgentConfig) -> Model:
        """The model ``config`` names, with its provider and API key checked now.

        Raises:
            UsageError: no model, an unknown model or a missing API key; the
                message says how to fix it with ``%agent config`` or options.
        """
        if not config.model_spec:
            raise UsageError(NO_MODEL_MESSAGE)
        from smolkernel.models.resolve import resolve_model

        try:
            model = resolve_model(config.model_spec, api_base=config.api_base, api_key_env=config.api_key_env, record=config.record)
            model.check()
        except MissingAPIKeyError as exc:
            raise UsageError(str(exc.with_hint(KEY_HINT))) from None
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        return model

    def _executor(self, config: AgentConfig) -> Any:
        """The executor for ``config``: for ``local``, one running in the user's namespace."""
        from smolkernel.executors.registry import resolve_executor

        if config.executor == "local":
            from smolkernel.executors.local import LocalExecutor

            return LocalExecutor(namespace=self.namespace, timeout=config.timeout, additional_imports=config.imports, import_hint=IMPORT_HINT)
        options: dict[str, Any] = {"timeout": config.timeout}
        if config.pickle:
            options["allow_pickle"] = True
        return resolve_executor(config.executor, **options)

    def resolve_tools(self, names: tuple[str, ...]) -> list[Tool]:
        """The tools named in the user's namespace (plain functions are made into tools).

        Raises:
            UsageError: a name is not defined, or its value is not a usable tool.
        """
        from smolkernel.tools import Tool, tool

        found: list[Tool] = []
        for name in names:
            if name not in self.namespace:
                raise UsageError(f"unknown tool {name!r}: nothing named {name!r} is defined in this notebook; define it with @tool first, or fix the name")
            value = self.namespace[name]
            if isinstance(value, Tool):
                found.append(value)
            elif callable(value):
                try:
                    found.append(tool(value))
                except ConfigurationError as exc:
                    raise UsageError(f"{name} cannot be used as a tool: {exc}") from None
            else:
                raise UsageError(f"{name!r} is a {type(value).__name__}, not a tool; decorate a function with @tool and pass its name")
        return found

    def add_mcp_server(self, server: list[str] | str, *, timeout: float = 30.0) -> list[Tool]:
        """Connect to an MCP server; its tools go to every agent of the session until ``close()``.

        Raises:
            UsageError: the server could not be started or reached.
        """
        from smolkernel.tools.mcp import MCPClient

        try:
            client = MCPClient(server, timeout=timeout).connect()
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        for stale in [c for c in self.mcp_clients if c.label == client.label]:  # the cell ran again
            self.mcp_clients.remove(stale)
            stale.close()
        self.mcp_clients.append(client)
        return client.tools

    # -- variables ---------------------------------------------------------------

    def check_sendable(self, config: AgentConfig, variables: Mapping[str, Any]) -> None:
        """Check that ``--vars`` values can travel to a kernel or sandbox executor.

        Raises:
            UsageError: a value is not JSON-safe and pickling is off; the fix is named.
        """
        if config.executor == "local" or config.pickle or config.kind != "code":
            return
        for name, value in variables.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise UsageError(
                    f"--vars {name} ({type(value).__name__}) cannot be sent to the {config.executor} executor as JSON; "
                    "allow pickling with %agent config pickle=true, or send JSON-safe values (lists, dicts, numbers, text)"
                ) from None

    # -- lifecycle ----------------------------------------------------------------

    def record(self, agent: MultiStepAgent, result: RunResult | None) -> None:
        """Remember the agent of the latest run and its result."""
        self.last_agent = agent
        if result is not None:
            self.results.append(result)

    def reset(self) -> None:
        """Forget every agent's memory and stop their executors (usage totals stay).

        With the ``local`` executor the user's variables are left alone: the
        agent's workspace is the notebook itself.
        """
        agents, self.agents = list(self.agents.values()), {}
        self.last_agent = None
        for agent in agents:
            agent.memory.clear()
            _close_quietly(agent)

    def close(self) -> None:
        """Stop every agent's executor and MCP server (``%unload_ext``)."""
        self.reset()
        clients, self.mcp_clients = self.mcp_clients, []
        for client in clients:
            client.close()


def _set_tools(agent: MultiStepAgent, tools: list[Tool]) -> None:
    """Give ``agent`` exactly ``tools`` (and its built-ins) when they changed."""
    current = {name: item for name, item in agent.tools.items() if name != "final_answer"}
    wanted = {item.name: item for item in tools}
    if current.keys() == wanted.keys() and all(current[n] is wanted[n] for n in wanted):
        return
    agent.tools.clear()
    try:
        agent.add_tools(*tools)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None


def _close_quietly(agent: MultiStepAgent) -> None:
    try:
        agent.close()
    except (SmolkernelError, OSError, RuntimeError):
        pass  # a sibling kernel that is already gone
