"""Where generated code runs: one async interface, several kinds chosen by name."""

from importlib import import_module as _import_module
from typing import Any as _Any

from .base import CodeOutput, Executor

__all__ = [
    "Executor",
    "CodeOutput",
    "LocalExecutor",
    "KernelExecutor",
    "SandboxExecutor",
    "resolve_executor",
    "EXECUTOR_NAMES",
]

_LAZY = {
    "LocalExecutor": ".local",
    "KernelExecutor": ".kernel",
    "SandboxExecutor": ".sandbox",
    "resolve_executor": ".registry",
    "EXECUTOR_NAMES": ".registry",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smolkernel.executors' has no attribute {name!r}")
    return getattr(_import_module(module, __name__), name)
