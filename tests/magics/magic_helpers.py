"""Helpers shared by the magics tests (plain functions, imported by name)."""

from __future__ import annotations

import socket

from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

from smolkernel.testing import LoopbackLLMServer


def code_reply(code: str) -> str:
    """A model reply holding one Python code block."""
    return f"Thought: let me compute it.\n```python\n{code}\n```"


def run(shell: InteractiveShell, cell: str) -> ExecutionResult:
    """Run ``cell`` as a user would (history, display hooks, error handling)."""
    return shell.run_cell(cell, store_history=True)


def configure(shell: InteractiveShell, server: LoopbackLLMServer, *extra: str) -> None:
    """Point the magics' default model at ``server``."""
    result = run(shell, f"%agent config model=openai/loopback api_base={server.api_base} " + " ".join(extra))
    assert result.success, result.error_in_exec


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
