"""smolkernel: agents that think in code, Jupyter-first.

The names below are the public surface; everything else is internal. Heavy
parts (model backends, kernel executors) load on first use, so that
``import smolkernel`` stays fast and imports no provider SDK.
"""

from importlib import import_module as _import_module
from typing import Any as _Any

__all__ = [
    # agents
    "CodeAgent",
    "ToolCallingAgent",
    "RunResult",
    "AgentSpec",
    "load_agent",
    "load_tool",
    # memory
    "AgentMemory",
    # models
    "Model",
    "ChatMessage",
    "ToolCall",
    "TokenUsage",
    "LiteLLMModel",
    "OpenAIServerModel",
    "InferenceClientModel",
    "TransformersModel",
    "ScriptedModel",
    "resolve_model",
    # tools
    "Tool",
    "tool",
    # executors
    "Executor",
    "CodeOutput",
    "LocalExecutor",
    "KernelExecutor",
    "SandboxExecutor",
    "resolve_executor",
    # errors
    "SmolkernelError",
    "AgentError",
    "ConfigurationError",
    "RunError",
    # IPython extension
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]

_LAZY = {
    "CodeAgent": "smolkernel.agents",
    "ToolCallingAgent": "smolkernel.agents",
    "RunResult": "smolkernel.agents",
    "AgentSpec": "smolkernel.spec",
    "load_agent": "smolkernel.sharing",
    "load_tool": "smolkernel.sharing",
    "AgentMemory": "smolkernel.memory",
    "Model": "smolkernel.models",
    "ChatMessage": "smolkernel.models",
    "ToolCall": "smolkernel.models",
    "TokenUsage": "smolkernel.models",
    "LiteLLMModel": "smolkernel.models",
    "OpenAIServerModel": "smolkernel.models",
    "InferenceClientModel": "smolkernel.models",
    "TransformersModel": "smolkernel.models",
    "ScriptedModel": "smolkernel.models",
    "resolve_model": "smolkernel.models",
    "Tool": "smolkernel.tools",
    "tool": "smolkernel.tools",
    "Executor": "smolkernel.executors",
    "CodeOutput": "smolkernel.executors",
    "LocalExecutor": "smolkernel.executors",
    "KernelExecutor": "smolkernel.executors",
    "SandboxExecutor": "smolkernel.executors",
    "resolve_executor": "smolkernel.executors",
    "SmolkernelError": "smolkernel.exceptions",
    "AgentError": "smolkernel.exceptions",
    "ConfigurationError": "smolkernel.exceptions",
    "RunError": "smolkernel.exceptions",
}


def __getattr__(name: str) -> _Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("smolkernel")
        except PackageNotFoundError:
            return "0+unknown"
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smolkernel' has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: _Any) -> None:
    """``%load_ext smolkernel``: register the ``%agent`` / ``%%agent`` magics."""
    _import_module("smolkernel.magics").load_ipython_extension(ipython)


def unload_ipython_extension(ipython: _Any) -> None:
    """``%unload_ext smolkernel``."""
    _import_module("smolkernel.magics").unload_ipython_extension(ipython)
