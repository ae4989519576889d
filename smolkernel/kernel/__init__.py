"""The SmolKernel Jupyter kernel: every cell is a task for an agent.

``SmolKernel`` is imported on first access, so that ``smolkernel install``
and friends do not pay for importing ipykernel.
"""

from .._lazy import lazy_attributes as _lazy_attributes

__all__ = ["SmolKernel", "install_kernelspec", "uninstall_kernelspec", "KERNEL_NAME"]

_LAZY = {
    "SmolKernel": ".kernel",
    "install_kernelspec": ".install",
    "uninstall_kernelspec": ".install",
    "KERNEL_NAME": ".install",
}


__getattr__ = _lazy_attributes(__name__, _LAZY)
