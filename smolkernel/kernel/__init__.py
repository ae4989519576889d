"""The SmolKernel Jupyter kernel: every cell is a task for an agent.

``SmolKernel`` is imported on first access, so that ``smolkernel install``
and friends do not pay for importing ipykernel.
"""

from typing import Any as _Any

__all__ = ["SmolKernel", "install_kernelspec", "uninstall_kernelspec", "KERNEL_NAME"]

_LAZY = {
    "SmolKernel": ".kernel",
    "install_kernelspec": ".install",
    "uninstall_kernelspec": ".install",
    "KERNEL_NAME": ".install",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smolkernel.kernel' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module, __name__), name)
