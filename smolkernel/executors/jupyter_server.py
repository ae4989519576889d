"""``JupyterServerExecutor``: generated code runs in a kernel of any Jupyter server.

::

    host (agent, tools)                                  Jupyter server / Kernel Gateway
    POST /api/kernels ───────────────────────────────►  a kernel starts (the server's machine)
    WS /api/kernels/{id}/channels
        execute_request (shell) ─────────────────────►  code runs, variables persist
        ◄── stream / display_data / execute_result (iopub)
        ◄── input_request MARKER+{"t": "search", ...} (stdin)   a tool stub was called
    ToolBridge runs the tool ── input_reply (stdin) ──►  the stub returns

It works with ``jupyter server``, a JupyterHub single-user server and
``jupyter kernelgateway`` (the server most remote sandboxes run inside), with
token authentication. Everything ``KernelExecutor`` promises holds: tools run
in the host and are called through the stdin channel; variables go in as
JSON; timeouts interrupt through the REST API; a kernel that dies is noticed
when the server announces it (its restarter's ``restarting`` status, usually
within a second or two) or when the websocket closes, and is replaced by a
fresh kernel with the step saying the workspace was lost; ``close()`` deletes
the kernel.

Isolation is whatever the server gives its kernels: this executor adds none.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from ..exceptions import ConfigurationError
from .base import DEFAULT_MAX_OUTPUT_CHARS
from ._websocket import RemoteKernel
from .kernel import POLL_SECONDS, KernelExecutor, _ExecutionWaiter

__all__ = ["JupyterServerExecutor"]

URL_ENV = "SMOLKERNEL_JUPYTER_URL"
TOKEN_ENV = "SMOLKERNEL_JUPYTER_TOKEN"


class JupyterServerExecutor(KernelExecutor):
    """Run generated code in a kernel of a Jupyter server over its websocket protocol.

    Args:
        url: the server's base URL (``http://host:8888``, with the base path if
            any); default ``$SMOLKERNEL_JUPYTER_URL``.
        token: the server's token; default ``$SMOLKERNEL_JUPYTER_TOKEN`` (or
            ``$JUPYTER_TOKEN``). Sent in an ``Authorization`` header.
        kernel_name: the kernelspec to start on the server (it must run ipykernel).
        timeout, max_output_chars, allow_pickle, startup_timeout, interrupt_grace:
            as for ``KernelExecutor``.
        headers: extra HTTP headers (e.g. a cookie for a proxy in front).
    """

    name = "jupyter-server"

    def __init__(self, url: str | None = None, *, token: str | None = None, kernel_name: str = "python3",
                 timeout: float | None = 60.0, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
                 allow_pickle: bool = False, startup_timeout: float = 60.0, interrupt_grace: float = 2.0,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(timeout, max_output_chars=max_output_chars, allow_pickle=allow_pickle,
                         startup_timeout=startup_timeout, interrupt_grace=interrupt_grace)
        self.url = url or os.environ.get(URL_ENV)
        if not self.url:
            raise ConfigurationError(f"the Jupyter server executor needs url= (or ${URL_ENV}), e.g. http://127.0.0.1:8888")
        if not self.url.startswith(("http://", "https://")):
            raise ConfigurationError(f"url must start with http:// or https://, got {self.url!r}")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or os.environ.get("JUPYTER_TOKEN")
        self.kernel_name = kernel_name
        self.headers = dict(headers or {})

    @property
    def kernel_id(self) -> str | None:
        """The id of the kernel on the server, or None when stopped."""
        return self._process.kernel_id if self._process else None

    async def start(self) -> None:
        """Create a kernel on the server, open its websocket and install the bridge (idempotent).

        Raises:
            ExecutorError: the server refused or is unreachable (the message says which).
        """
        if self._process is not None:
            return
        async with self._start_lock:
            if self._process is not None:
                return
            kernel = RemoteKernel(self.url, token=self.token, kernel_name=self.kernel_name,
                                  startup_timeout=self.startup_timeout, headers=self.headers)
            await kernel.start()
            self._process = kernel  # type: ignore[assignment]
            self._install_needed = True
            await self._install()

    def _new_waiter(self, msg_id: str) -> _ExecutionWaiter:
        return _WebsocketWaiter(self, msg_id, self.max_output_chars)

    async def _recover(self, result: Any, state: str) -> None:
        """As ``KernelExecutor``, with the server's reason for a death instead of an exit status."""
        reason = self._process.dead_reason if state == "died" and self._process is not None else None
        await super()._recover(result, state)
        if reason and result.error:
            result.error = result.error.replace("(no exit status)", f"({reason})")


class _WebsocketWaiter(_ExecutionWaiter):
    """Reads one execution's messages from the websocket queue instead of ZMQ sockets."""

    async def wait(self, timeout: float | None) -> str:
        """Return ``ok``, ``timeout`` or ``died``."""
        handlers = {"iopub": self._on_iopub, "stdin": self._on_stdin, "shell": self._on_shell}
        queue = self.client.messages
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (self.idle and self.replied):
            remaining = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            if remaining <= 0:
                return "timeout"
            if not self.process.is_alive():
                return "died"
            try:
                channel, message = await asyncio.wait_for(queue.get(), remaining)
            except asyncio.TimeoutError:
                continue
            handler = handlers.get(channel)
            if handler is None or message["parent_header"].get("msg_id") != self.msg_id:
                continue
            if await handler(message, deadline) == "timeout":
                return "timeout"
        return "ok"
