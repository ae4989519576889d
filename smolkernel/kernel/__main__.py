"""``python -m smolkernel.kernel -f CONNECTION_FILE``: launch the SmolKernel (the kernelspec's argv)."""

from __future__ import annotations


def main() -> None:
    """Start an IPKernelApp whose kernel is SmolKernel."""
    from ipykernel.kernelapp import IPKernelApp

    from .kernel import SmolKernel

    IPKernelApp.launch_instance(kernel_class=SmolKernel)


if __name__ == "__main__":
    main()
