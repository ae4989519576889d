"""agent.to_spec(): describe an agent object as an AgentSpec.

Each part is named the way a spec names it: the model by the spec string it
was resolved from (or its backend and id), each tool by the entry it was
built from, by an import path, or by its source code, the executor by name.
Secrets are never copied: a model given an ``api_key`` directly is described
without it, and building the spec then needs ``api_key_env``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from ..tools import FinalAnswerTool, Tool

if TYPE_CHECKING:
    from ..agents.base import MultiStepAgent
    from ..models.base import Model
    from ..spec import AgentSpec

__all__ = ["agent_to_spec", "model_to_spec", "tool_entry", "user_tools"]

SourceEntry = Callable[[Tool, str], "str | dict[str, Any]"]
"""``fn(tool, source) -> entry`` for a tool that only exists as source code."""

_SHIPPED_KINDS = ("file", "source")


def inline_source(item: Tool, source: str) -> dict[str, Any]:
    """The default for tools known only by their source: a ``{source: ...}`` entry."""
    entry: dict[str, Any] = {"source": source}
    name = source_attribute(item, source)
    if name:
        entry["name"] = name
    return entry


def source_attribute(item: Tool, source: str) -> str | None:
    """The name in ``source`` that gives ``item``, when known (so loading picks just this tool)."""
    from ..tools.base import FunctionTool

    kept = getattr(item, "_source_attribute", None)
    if kept:
        return kept
    if isinstance(item, FunctionTool) and f"{item.function.__name__} = tool(" in source:
        return item.function.__name__
    return None


def user_tools(agent: MultiStepAgent) -> list[Tool]:
    """The agent's own tools: not ``final_answer``, not its managed agents."""
    from ..agents.managed import ManagedAgentTool

    return [t for t in agent.tools.values() if not isinstance(t, (FinalAnswerTool, ManagedAgentTool))]


def tool_entry(item: Tool, source_entry: SourceEntry = inline_source) -> str | dict[str, Any]:
    """The spec entry that builds ``item`` again.

    In order: the entry it was built from (``spec_entry``; code shipped in a
    ``file``/``source`` entry goes through ``source_entry`` again), an import
    path (``module:name``) when importing gives back the same tool or class,
    else its source code through ``source_entry``.

    Raises:
        ConfigurationError: the tool can be described in none of these ways.
    """
    from .source import importable_path, tool_source

    entry = getattr(item, "spec_entry", None)
    if entry is not None and not (isinstance(entry, dict) and any(k in entry for k in _SHIPPED_KINDS)):
        return entry
    if entry is None:
        path = importable_path(item) or _module_attribute(item)
        if path:
            return path
    return source_entry(item, tool_source(item))


def _module_attribute(item: Tool) -> str | None:
    """``module:attr`` for a module-level tool object or a class that needs no arguments."""
    import sys

    from ..tools.base import FunctionTool
    from .source import _required_init_args, importable_path

    origin = item.function if isinstance(item, FunctionTool) else type(item)
    module = sys.modules.get(getattr(origin, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or module.__name__.startswith("smolkernel_shipped_tools_"):
        return None
    for name, value in vars(module).items():
        if value is item:
            return f"{module.__name__}:{name}"
    if not isinstance(item, FunctionTool) and not _required_init_args(type(item)):
        return importable_path(type(item))
    return None


def model_to_spec(model: Model) -> tuple[str, dict[str, Any]]:
    """(model spec string, model_options) naming ``model``.

    Raises:
        ConfigurationError: the model was built in a way no spec can name
            (a ScriptedModel with a function, a custom Model subclass).
    """
    spec = getattr(model, "model_spec", None)
    if spec:
        return spec, dict(getattr(model, "model_spec_options", {}) or {})
    from ..models.scripted import ScriptedModel

    if isinstance(model, ScriptedModel):
        if model.script is None:
            raise ConfigurationError("a ScriptedModel that calls a function cannot be written in a spec; give it a list of responses or a scripted:FILE spec")
        return "scripted", {"responses": [_plain_response(r) for r in model.script]}
    name = type(model).__name__
    options = {"api_base": model.api_base} if getattr(model, "api_base", None) else {}
    prefixes = {"LiteLLMModel": "", "InferenceClientModel": "hf:", "OpenAIServerModel": "openai-server:", "TransformersModel": "transformers:"}
    if name in prefixes:
        return prefixes[name] + model.model_id, ({} if name == "TransformersModel" else options)
    raise ConfigurationError(f"model {model!r} ({name}) has no spec; make it with resolve_model('...') or give the spec a model string")


def _plain_response(response: Any) -> Any:
    from ..models.base import ChatMessage

    if isinstance(response, ChatMessage):
        out: dict[str, Any] = {"content": response.content}
        if response.tool_calls:
            out["tool_calls"] = [{"name": c.name, "arguments": c.arguments, "id": c.id} for c in response.tool_calls]
        return out
    return response


def _executor_part(agent: Any) -> tuple[str | None, dict[str, Any]]:
    name, options = getattr(agent, "executor_choice", (None, {}))
    if name is None:
        from ..executors.registry import EXECUTOR_NAMES

        executor = agent.executor
        cls_name = type(executor).__name__
        name = next((key for key, (_, cls) in EXECUTOR_NAMES.items() if cls == cls_name), None)
        if name is None:
            raise ConfigurationError(f"executor {cls_name} has no name a spec can use; choose one of {', '.join(EXECUTOR_NAMES)}")
        options = {"timeout": executor.timeout} if executor.timeout != 60.0 else {}
        options.update(_local_imports(executor))
    return (None if name == "local" and not options else name), dict(options)


def _local_imports(executor: Any) -> dict[str, Any]:
    """``additional_imports`` of a LocalExecutor made in Python (the magics make theirs so)."""
    policy = getattr(executor, "imports", None)
    if policy is None or executor.name != "local":
        return {}
    from ..executors._local_guard import DEFAULT_ALLOWED_IMPORTS

    extra = ["*"] if policy.allow_all else sorted(policy.allowed - DEFAULT_ALLOWED_IMPORTS)
    return {"additional_imports": extra} if extra else {}


def agent_to_spec(agent: MultiStepAgent, *, source_entry: SourceEntry = inline_source) -> AgentSpec:
    """Describe ``agent`` (and its managed agents) as an ``AgentSpec``.

    Args:
        agent: a CodeAgent or ToolCallingAgent.
        source_entry: how a tool known only by its source is written
            (default: inline ``{source: ...}``; ``agent.save`` writes files).

    Raises:
        ConfigurationError: naming the part (model, tool, executor) that no spec can describe.
    """
    from ..agents import CodeAgent
    from ..spec import AgentSpec

    model, model_options = model_to_spec(agent.model)
    executor, executor_options = _executor_part(agent) if isinstance(agent, CodeAgent) else (None, {})
    return AgentSpec(
        kind="code" if isinstance(agent, CodeAgent) else "toolcalling",
        model=model,
        model_options=model_options,
        tools=_dedupe([tool_entry(t, source_entry) for t in user_tools(agent)]),
        executor=executor,
        executor_options=executor_options,
        max_steps=agent.max_steps,
        memory_size=agent.memory.memory_size,
        planning_interval=agent.planning_interval,
        instructions=agent.instructions,
        name=agent.name,
        description=agent.description,
        managed_agents=[agent_to_spec(m, source_entry=source_entry) for m in agent.managed_agents.values()],
    )


def _dedupe(entries: list[Any]) -> list[Any]:
    """One entry per server or module: an MCP server's many tools share one entry."""
    out: list[Any] = []
    for entry in entries:
        if entry not in out:
            out.append(entry)
    return out
