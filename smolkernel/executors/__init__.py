"""Where generated code runs: one async interface, several kinds chosen by name."""

from .._lazy import lazy_attributes as _lazy_attributes
from .base import CodeOutput, Executor

__all__ = [
    "Executor",
    "CodeOutput",
    "LocalExecutor",
    "KernelExecutor",
    "SandboxExecutor",
    "DockerExecutor",
    "WasmExecutor",
    "E2BExecutor",
    "ModalExecutor",
    "JupyterServerExecutor",
    "resolve_executor",
    "EXECUTOR_NAMES",
]

_LAZY = {
    "LocalExecutor": ".local",
    "KernelExecutor": ".kernel",
    "SandboxExecutor": ".sandbox",
    "DockerExecutor": ".docker",
    "WasmExecutor": ".wasm",
    "E2BExecutor": ".e2b",
    "ModalExecutor": ".modal",
    "JupyterServerExecutor": ".jupyter_server",
    "resolve_executor": ".registry",
    "EXECUTOR_NAMES": ".registry",
}


__getattr__ = _lazy_attributes(__name__, _LAZY)
