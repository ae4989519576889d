"""The SmolKernel kernelspec (``kernel.json`` and logos), installed by ``smolkernel install``."""
