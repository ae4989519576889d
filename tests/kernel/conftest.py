"""Fixtures for the kernel tests: a real SmolKernel per module and a loopback model server.

Every test talks to a real kernel process through jupyter_client (see
``harness.py``) and to ``LoopbackLLMServer`` over real HTTP, through
``%model openai/test --api-base ...``. Each wait has a timeout, so a broken
kernel fails the test instead of hanging it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import KernelDriver, start_kernel  # noqa: E402

from smolkernel.testing import LoopbackLLMServer  # noqa: E402


@pytest.fixture(scope="module")
def llm() -> Iterator[LoopbackLLMServer]:
    """One loopback server per module; tests queue their replies with ``add_replies``."""
    with LoopbackLLMServer() as server:
        yield server


def _kernel_with_model(server: LoopbackLLMServer, *extra_args: str) -> KernelDriver:
    driver = start_kernel(extra_args=extra_args)
    run = driver.execute(f"%model openai/test --api-base {server.api_base}", timeout=90)
    assert run.status == "ok", run.text()
    return driver


@pytest.fixture(scope="module")
def kernel(llm: LoopbackLLMServer) -> Iterator[KernelDriver]:
    """A SmolKernel whose model is the module's loopback server, connected like JupyterLab (it renders widgets)."""
    driver = _kernel_with_model(llm)
    driver.open_widget_manager()
    yield driver
    driver.shutdown()


@pytest.fixture(scope="module")
def text_kernel(llm: LoopbackLLMServer) -> Iterator[KernelDriver]:
    """A SmolKernel showing runs as text (``--SmolKernel.use_widgets=False``)."""
    driver = _kernel_with_model(llm, "--SmolKernel.use_widgets=False")
    yield driver
    driver.shutdown()
