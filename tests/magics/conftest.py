"""Fixtures for the magics: a real IPython InteractiveShell with ``%load_ext smolkernel``
and real loopback LLM servers (no mocks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import run

from smolkernel.testing import LoopbackLLMServer


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The IPython shell with a clean namespace and freshly loaded magics."""
    monkeypatch.delenv("SMOLKERNEL_MODEL", raising=False)
    ip = InteractiveShell.instance()
    ip.reset(new_session=False)
    ip.rl_next_input = None
    assert run(ip, "%reload_ext smolkernel").success
    yield ip
    ip.run_line_magic("unload_ext", "smolkernel")
    ip.reset(new_session=False)
    # The shell's namespace is now sys.modules["__main__"] for the rest of the session, and
    # reset() leaves it without __spec__, which multiprocessing's spawn reads: later tests
    # starting Dask worker processes would fail. A script's __main__ has __spec__ = None.
    ip.user_ns.setdefault("__spec__", None)


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackLLMServer]]:
    """Start LoopbackLLMServers with scripted replies; all are closed after the test."""
    servers: list[LoopbackLLMServer] = []

    def start(replies, **kwargs) -> LoopbackLLMServer:
        server = LoopbackLLMServer(replies, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
