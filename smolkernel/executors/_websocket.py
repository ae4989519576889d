"""One kernel of a Jupyter server, reached over its REST API and websocket kernel protocol.

::

    POST   /api/kernels                    {"name": KERNEL}  -> {"id": ...}
    WS     /api/kernels/{id}/channels      every channel's messages, JSON, with a "channel" field
    POST   /api/kernels/{id}/interrupt
    DELETE /api/kernels/{id}

Works with ``jupyter server`` (and JupyterHub's single-user servers, which are
the same) and ``jupyter kernelgateway``. The token travels in an
``Authorization: token ...`` header. ``RemoteKernel`` offers the same small
surface as ``KernelProcess`` (``client``, ``is_alive``, ``interrupt``,
``stop``...), so ``KernelExecutor``'s run loop drives it unchanged.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

from ..exceptions import ExecutorError, MissingExtraError

__all__ = ["RemoteKernel", "WebsocketKernelClient"]

DEAD_STATES = frozenset({"dead", "restarting", "autorestarting"})
"""Kernel states the server announces on IOPub when the kernel process died."""


def _quick_ack(connection: Any) -> Callable[[], None]:
    """A function that makes this end acknowledge the next TCP segments at once (Linux).

    Servers (tornado's websocket, as in jupyter_server) write a reply's small
    frames without TCP_NODELAY, so each waits for the ACK of the one before,
    which Linux delays by up to 40 ms: that was most of a round trip here.
    TCP_QUICKACK is not sticky, so it is set again after every message.
    """
    import socket

    sock = None
    transport = getattr(connection, "transport", None)
    if transport is not None:
        sock = transport.get_extra_info("socket")
    option = getattr(socket, "TCP_QUICKACK", None)
    if sock is None or option is None:
        return lambda: None

    def acknowledge() -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)
        except OSError:
            pass

    acknowledge()
    return acknowledge


class WebsocketKernelClient:
    """The part of jupyter_client's kernel client that the executor uses, over one websocket."""

    def __init__(self, connection: Any, session: Session) -> None:
        self.connection = connection
        self.session = session
        self.messages: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        """Every message received, as ``(channel, message)``, in order."""
        self.dead_reason: str | None = None
        """Why the kernel is known to be gone (None while it lives)."""
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        quick_ack = _quick_ack(self.connection)
        try:
            async for text in self.connection:
                quick_ack()
                message = _parse(text)
                if message is None:
                    continue
                channel = message.get("channel", "")
                if channel == "iopub" and message["header"].get("msg_type") == "status":
                    state = message["content"].get("execution_state")
                    if state in DEAD_STATES:
                        self.dead_reason = f"the server reported the kernel {state}"
                self.messages.put_nowait((channel, message))
        except Exception as exc:  # connection lost: the kernel is unreachable
            self.dead_reason = f"the websocket closed ({type(exc).__name__})"
        else:
            self.dead_reason = self.dead_reason or "the websocket closed"

    def _send(self, channel: str, msg_type: str, content: dict[str, Any], parent: dict[str, Any] | None = None) -> str:
        message = self.session.msg(msg_type, content, parent=parent)
        message["channel"] = channel
        message.pop("buffers", None)
        text = json.dumps(message, default=json_default)
        asyncio.get_running_loop().create_task(self._send_text(text))
        return message["header"]["msg_id"]

    async def _send_text(self, text: str) -> None:
        try:
            await self.connection.send(text)
        except Exception as exc:
            self.dead_reason = f"sending failed ({type(exc).__name__}: {exc})"

    def execute(self, code: str, silent: bool = False, store_history: bool = True, user_expressions: dict | None = None,
                allow_stdin: bool = True, stop_on_error: bool = True) -> str:
        """Send an ``execute_request``; return its msg_id."""
        content = {"code": code, "silent": silent, "store_history": store_history,
                   "user_expressions": user_expressions or {}, "allow_stdin": allow_stdin, "stop_on_error": stop_on_error}
        return self._send("shell", "execute_request", content)

    def input(self, text: str) -> None:
        """Answer the pending ``input_request``."""
        self._send("stdin", "input_reply", {"value": text})

    def complete(self, code: str, cursor_pos: int) -> str:
        """Send a ``complete_request``; return its msg_id."""
        return self._send("shell", "complete_request", {"code": code, "cursor_pos": cursor_pos})

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> str:
        """Send an ``inspect_request``; return its msg_id."""
        return self._send("shell", "inspect_request", {"code": code, "cursor_pos": cursor_pos, "detail_level": detail_level})

    def kernel_info(self) -> str:
        """Send a ``kernel_info_request``; return its msg_id."""
        return self._send("shell", "kernel_info_request", {})

    async def get_shell_msg(self) -> dict[str, Any]:
        """The next shell message (messages of other channels are skipped)."""
        while True:
            channel, message = await self.messages.get()
            if channel == "shell":
                return message

    async def wait_for_ready(self, timeout: float) -> None:
        """Send kernel_info requests until one is answered.

        Raises:
            ExecutorError: no answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self.kernel_info()
            try:
                while True:
                    left = min(1.0, deadline - time.monotonic())
                    reply = await asyncio.wait_for(self.get_shell_msg(), max(left, 0.01))
                    if reply["parent_header"].get("msg_id") == msg_id:
                        return
            except asyncio.TimeoutError:
                if self.dead_reason:
                    break
        raise ExecutorError(f"the remote kernel did not answer within {timeout:g} s"
                            + (f": {self.dead_reason}" if self.dead_reason else ""))

    async def close(self) -> None:
        """Close the websocket and stop reading."""
        self._reader.cancel()
        try:
            await self.connection.close()
        except Exception:  # already closed
            pass


class RemoteKernel:
    """Start, watch, interrupt and delete one kernel of a Jupyter server."""

    def __init__(self, url: str, *, token: str | None = None, kernel_name: str = "python3",
                 startup_timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"token {token}"
        self.kernel_id: str | None = None
        self.client: WebsocketKernelClient | None = None

    pid = None
    log_path: Path | None = None

    def returncode(self) -> int | None:
        """Remote kernels have no exit status here."""
        return None

    def is_alive(self) -> bool:
        """True while the websocket is open and the server has not announced the kernel's death."""
        return self.client is not None and self.client.dead_reason is None

    @property
    def dead_reason(self) -> str | None:
        """Why the kernel is known to be gone, or None."""
        return self.client.dead_reason if self.client else "not started"

    async def start(self) -> None:
        """Create the kernel, open its channels and wait until it answers.

        Raises:
            ExecutorError: the server refused (bad token, unknown kernel name) or is unreachable.
        """
        reply = await self.request("POST", "/api/kernels", {"name": self.kernel_name})
        self.kernel_id = reply["id"]
        try:
            connection = await self._connect()
            self.client = WebsocketKernelClient(connection, Session(key=secrets.token_hex(16).encode(), username="smolkernel"))
            await self.client.wait_for_ready(self.startup_timeout)
        except BaseException:
            await self.stop()
            raise

    async def _connect(self) -> Any:
        try:
            from websockets.asyncio.client import connect
        except ImportError:
            raise MissingExtraError("websockets", "jupyter-server", "the Jupyter server executor") from None
        scheme = "wss" if self.url.startswith("https") else "ws"
        base = scheme + self.url[self.url.index(":"):]
        session_id = Session().session
        url = f"{base}/api/kernels/{self.kernel_id}/channels?session_id={session_id}"
        try:
            return await connect(url, additional_headers=self.headers, max_size=None, open_timeout=self.startup_timeout)
        except Exception as exc:
            raise ExecutorError(f"could not open the kernel's websocket at {url}: {exc}") from None

    async def interrupt(self) -> None:
        """Ask the server to interrupt the kernel."""
        if self.kernel_id is not None:
            await self.request("POST", f"/api/kernels/{self.kernel_id}/interrupt")

    async def stop(self) -> None:
        """Close the websocket and delete the kernel (errors ignored: it may be gone)."""
        client, self.client = self.client, None
        if client is not None:
            await client.close()
        kernel_id, self.kernel_id = self.kernel_id, None
        if kernel_id is None:
            return
        for _ in range(10):  # a kernel the server is restarting may refuse deletion for a moment
            try:
                await self.request("DELETE", f"/api/kernels/{kernel_id}")
                return
            except _HTTPError as exc:
                if exc.status == 404:
                    return
            except ExecutorError:
                return
            await asyncio.sleep(0.5)

    def read_log(self, limit: int = 2000) -> str:
        """Remote kernels keep their logs on the server."""
        return ""

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One REST call to the server; the decoded JSON reply (None when empty).

        Raises:
            ExecutorError: an HTTP error (the message quotes the server's) or an unreachable server.
        """
        return await asyncio.to_thread(self._request_sync, method, path, body)

    def _request_sync(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the user's server
                text = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            hint = " (check the token)" if exc.code in (401, 403) else ""
            raise _HTTPError(exc.code, f"{method} {path} on {self.url}: HTTP {exc.code}{hint}: {detail}") from None
        except OSError as exc:
            raise ExecutorError(f"the Jupyter server at {self.url} is unreachable: {exc}") from None
        return json.loads(text) if text else None


class _HTTPError(ExecutorError):
    """An HTTP error status from the server."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _parse(text: str | bytes) -> dict[str, Any] | None:
    """A JSON websocket message, or None for anything else (binary frames, junk)."""
    if isinstance(text, bytes):
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("header"), dict):
        return None
    message.setdefault("parent_header", {})
    message.setdefault("content", {})
    return message
