"""Executors by name: ``resolve_executor("kernel", timeout=30)``."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ..exceptions import UnknownExecutorError
from .base import Executor

__all__ = ["EXECUTOR_NAMES", "resolve_executor"]

EXECUTOR_NAMES: dict[str, tuple[str, str]] = {
    "local": (".local", "LocalExecutor"),
    "kernel": (".kernel", "KernelExecutor"),
    "sandbox": (".sandbox", "SandboxExecutor"),
    "docker": (".docker", "DockerExecutor"),
    "wasm": (".wasm", "WasmExecutor"),
    "e2b": (".e2b", "E2BExecutor"),
    "modal": (".modal", "ModalExecutor"),
    "jupyter-server": (".jupyter_server", "JupyterServerExecutor"),
}
"""Known executor names and the class each one names (module, class)."""


def resolve_executor(spec: str | Executor | None, **options: Any) -> Executor:
    """Return an executor for a name (with ``options`` such as ``timeout``) or an instance.

    Raises:
        UnknownExecutorError: for a name that is not known, listing the known ones.
    """
    if isinstance(spec, Executor):
        return spec
    name = spec or "local"
    if name not in EXECUTOR_NAMES:
        raise UnknownExecutorError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTOR_NAMES)}")
    module, cls = EXECUTOR_NAMES[name]
    return getattr(import_module(module, __package__), cls)(**options)
