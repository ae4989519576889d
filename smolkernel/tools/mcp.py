"""MCPClient: the tools of an MCP server (stdio or streamable HTTP) as smolkernel Tools.

::

    with MCPClient(["npx", "-y", "@modelcontextprotocol/server-everything"]) as server:
        agent = CodeAgent(tools=server.tools, model=model)
        agent.run("What is 2 + 3? Use get_sum.")

Built on the ``mcp`` SDK 2.x (``ClientSession`` over ``stdio_client`` or
``streamable_http_client``). The session lives on a private event loop in a
daemon thread, so the client works the same from plain Python, inside
Jupyter's running loop, from ``async with``, and from whatever thread an
agent calls its tools in (the ToolBridge's worker, ``asyncio.to_thread``).

What the model sees: each server tool becomes a ``Tool`` whose name and
argument names are Python identifiers (``get-sum`` becomes ``get_sum``; the
server still gets its own names) and whose inputs come from the server's
input schema. A result is the server's structured content when it sends one,
else its text; images, sounds and binary resources become ``Media`` (shown as
displays). A result the server marks as an error, a server that died and a
call that got no answer within ``timeout`` seconds raise ``ToolServerError``,
which the agent turns into an observation: the run goes on.

Differences from smolagents' ``MCPClient``: ``server`` is a command list or a
URL rather than a parameters object, and there is no ``structured_output``
switch (structured content is always used when the server sends it).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import shlex
import shutil
import sys
import tempfile
import threading
from contextlib import AsyncExitStack
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, MissingExtraError, ToolServerError
from ._foreign import inputs_from_schema, python_name
from .base import Tool
from .media import Media

__all__ = ["MCPClient", "MCPTool", "tools_from_entry"]

_STDERR_TAIL = 1500
_CLOSE_GRACE = 10.0


class MCPClient:
    """A connection to one MCP server and its tools.

    Args:
        server: a command (list of strings, or one string split like a shell
            line) started as a stdio server, or an ``http(s)://`` URL of a
            streamable HTTP server. A program not on PATH is also looked for
            beside this Python (a server pip-installed in the same environment).
        env: extra environment variables for a stdio server (it otherwise
            gets only the SDK's safe defaults: PATH, HOME, ...).
        timeout: seconds each tool call may take to answer.
        connect_timeout: seconds the server may take to start and answer
            the handshake (default: ``timeout``, at least 30 s, since a
            server started by ``npx`` or ``uvx`` may first install itself).

    Use it as a context manager (``with`` or ``async with``), or call
    ``connect()`` and ``close()`` yourself.

    Raises:
        ConfigurationError: ``server`` is empty or of the wrong type.
        MissingExtraError: the ``mcp`` package is not installed.
    """

    def __init__(self, server: list[str] | tuple[str, ...] | str, *, env: dict[str, str] | None = None, timeout: float = 30.0,
                 connect_timeout: float | None = None) -> None:
        _require_sdk()
        self.url: str | None = None
        self.command: list[str] | None = None
        if isinstance(server, str) and server.strip().lower().startswith(("http://", "https://")):
            self.url = server.strip()
        elif isinstance(server, str):
            self.command = shlex.split(server)
        elif isinstance(server, (list, tuple)) and all(isinstance(part, str) for part in server):
            self.command = list(server)
        else:
            raise ConfigurationError(f"MCPClient: server must be a command (list of strings) or an http(s):// URL, not {server!r}")
        if self.command is not None and not self.command:
            raise ConfigurationError("MCPClient: the server command is empty; give the program and its arguments, e.g. ['mcp-server-time']")
        if timeout is None or timeout <= 0:
            raise ConfigurationError(f"MCPClient: timeout must be a positive number of seconds, not {timeout!r}")
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout) if connect_timeout else max(self.timeout, 30.0)
        self.server_name: str | None = None
        """The name the server gave itself when it started."""
        self._tools: list[MCPTool] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: concurrent.futures.Future[None] | None = None
        self._stop: asyncio.Event | None = None
        self._session: Any = None
        self._gone: str | None = None
        self._stderr: Any = None
        self._lock = threading.Lock()

    # -- description ------------------------------------------------------------

    @property
    def label(self) -> str:
        """The server as the user named it (command line or URL), for messages."""
        text = self.url or shlex.join(self.command or [])
        return text if len(text) <= 120 else text[:117] + "..."

    @property
    def connected(self) -> bool:
        """True while the session is open and the server has not gone away."""
        return self._session is not None and self._gone is None

    @property
    def tools(self) -> list[MCPTool]:
        """The server's tools as smolkernel Tools (connects first if needed)."""
        if self._session is None and self._gone is None:
            self.connect()
        return list(self._tools)

    def __repr__(self) -> str:
        state = "connected" if self.connected else ("closed" if self._gone else "not connected")
        return f"<MCPClient {self.label!r} {state}, {len(self._tools)} tools>"

    def spec_entry(self) -> dict[str, Any]:
        """The agent-spec entry for this server: ``{mcp: COMMAND|URL}`` (env by name only, never values)."""
        entry: dict[str, Any] = {"mcp": self.url or list(self.command or [])}
        if self.env:
            entry["env"] = sorted(self.env)
        if self.timeout != 30.0:
            entry["timeout"] = self.timeout
        return entry

    # -- lifecycle --------------------------------------------------------------

    def connect(self) -> MCPClient:
        """Start (or reach) the server, open the session and list its tools; returns self.

        Raises:
            ConfigurationError: the server could not be started or reached, or
                did not answer within ``timeout`` (the message says why).
        """
        with self._lock:
            if self._session is not None:
                return self
            future = self._start()
            _OPEN.add(self)
        try:
            future.result(self.connect_timeout + _CLOSE_GRACE)
        except BaseException as exc:
            message = self._connect_failure(exc)
            self.close()
            raise ConfigurationError(message) from None
        return self

    async def aconnect(self) -> MCPClient:
        """Async twin of :meth:`connect`."""
        return await asyncio.to_thread(self.connect)

    def close(self) -> None:
        """End the session and stop a stdio server (idempotent)."""
        _OPEN.discard(self)
        with self._lock:
            loop, runner, stop = self._loop, self._runner, self._stop
            self._loop = self._runner = self._stop = None
            self._session = None
            self._gone = self._gone or "the client was closed"
        if loop is None:
            return
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        if runner is not None:
            try:
                runner.result(_CLOSE_GRACE)
            except BaseException:  # a connection that failed already said so
                runner.cancel()
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(_CLOSE_GRACE)
        if not loop.is_running():
            loop.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> MCPClient:
        return self.connect()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> MCPClient:
        return await self.aconnect()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def _start(self) -> concurrent.futures.Future[list[MCPTool]]:
        """Start the loop thread and the session task; the future resolves to the tools."""
        self._gone = None
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="smolkernel-mcp", daemon=True)
        self._thread.start()
        self._loop = loop
        self._stop = asyncio.Event()
        ready: concurrent.futures.Future[list[MCPTool]] = concurrent.futures.Future()
        self._runner = asyncio.run_coroutine_threadsafe(self._serve(ready), loop)
        return ready

    async def _serve(self, ready: concurrent.futures.Future[list[MCPTool]]) -> None:
        """Own the transport and the session for their whole life (anyio needs one task)."""
        from mcp.client.session import ClientSession

        assert self._stop is not None
        stop = self._stop
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(ClientSession(read, write, read_timeout_seconds=self.connect_timeout))
                result = await asyncio.wait_for(session.initialize(), self.connect_timeout)
                self.server_name = getattr(getattr(result, "server_info", None), "name", None)
                self._tools = await self._list_tools(session)
                if any(t.output_schema for t in self._tools):
                    _warm_validator_imports()
                self._session = session
                ready.set_result(self._tools)
                await stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting caller or kept for later calls
            if not ready.done():
                ready.set_exception(exc)
            else:
                self._gone = f"the connection ended ({self._explain(exc)})"
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._session = None

    def _transport(self) -> Any:
        if self.url is not None:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.url)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        assert self.command is not None
        self._stderr = tempfile.TemporaryFile()
        params = StdioServerParameters(command=_program(self.command[0]), args=self.command[1:], env=self.env or None)
        return stdio_client(params, errlog=self._stderr)

    async def _list_tools(self, session: Any) -> list[MCPTool]:
        listed: list[Any] = []
        cursor = None
        while True:
            from mcp import types

            page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
            listed.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        tools: list[MCPTool] = []
        taken: set[str] = set()
        for entry in listed:
            item = MCPTool(self, entry, python_name(entry.name, taken, tool=True))
            taken.add(item.name)
            tools.append(item)
        return tools

    # -- calls ------------------------------------------------------------------

    def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call the server's tool ``name`` (its own name) and convert the result.

        Raises:
            ToolServerError: the tool reported an error, the server died or did
                not answer within ``timeout`` seconds.
        """
        future = self._submit(name, arguments or {})
        try:
            return future.result(self.timeout + _CLOSE_GRACE)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ToolServerError(self._timeout_message(name)) from None

    async def acall_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Async twin of :meth:`call_tool` (awaitable from any event loop)."""
        future = self._submit(name, arguments or {})
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout + _CLOSE_GRACE)
        except asyncio.TimeoutError:
            future.cancel()
            raise ToolServerError(self._timeout_message(name)) from None

    def _submit(self, name: str, arguments: dict[str, Any]) -> concurrent.futures.Future[Any]:
        loop = self._loop
        if self._session is None or self._gone is not None or loop is None or loop.is_closed():
            raise ToolServerError(self._gone_message(name))
        return asyncio.run_coroutine_threadsafe(self._call(name, arguments), loop)

    async def _call(self, name: str, arguments: dict[str, Any]) -> Any:
        from mcp.shared.exceptions import MCPError
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        session = self._session
        if session is None:
            raise ToolServerError(self._gone_message(name))
        try:
            result = await session.call_tool(name, arguments, read_timeout_seconds=self.timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise ToolServerError(self._timeout_message(name)) from None
            if exc.code == CONNECTION_CLOSED:
                self._gone = "the server stopped or closed the connection"
                raise ToolServerError(self._gone_message(name)) from None
            raise ToolServerError(f"{name} failed on the MCP server {self.label!r}: {exc.message}") from None
        except (OSError, RuntimeError, ValueError) as exc:
            raise ToolServerError(f"{name}: the call to the MCP server {self.label!r} failed: {self._explain(exc)}") from None
        return convert_result(name, result)

    # -- messages ---------------------------------------------------------------

    def _connect_failure(self, exc: BaseException) -> str:
        from mcp.shared.exceptions import MCPError
        from mcp.types import REQUEST_TIMEOUT

        leaf = _leaf(exc)
        if isinstance(leaf, (TimeoutError, concurrent.futures.TimeoutError)) or (isinstance(leaf, MCPError) and leaf.code == REQUEST_TIMEOUT):
            return self._start_timeout_message()
        return f"could not connect to the MCP server {self.label!r}: {self._explain(exc)}"

    def _start_timeout_message(self) -> str:
        tail = self._stderr_tail()
        where = f"; its error output: {tail}" if tail else ""
        return (f"the MCP server {self.label!r} did not start within {self.connect_timeout:g} s "
                f"(no answer to the MCP handshake){where}; is it an MCP server, and is the command right?")

    def _timeout_message(self, name: str) -> str:
        return (f"{name}: the MCP server {self.label!r} did not answer within {self.timeout:g} s; "
                "it may be stuck. Try again, use another tool, or go on without it")

    def _gone_message(self, name: str) -> str:
        reason = self._gone or "it is not connected"
        tail = self._stderr_tail()
        where = f"; its last error output: {tail}" if tail else ""
        return f"{name}: the MCP server {self.label!r} is not available ({reason}){where}. Go on without this tool"

    def _stderr_tail(self) -> str:
        handle = self._stderr
        if handle is None:
            return ""
        try:
            size = os.fstat(handle.fileno()).st_size
            data = os.pread(handle.fileno(), _STDERR_TAIL, max(0, size - _STDERR_TAIL))
        except (OSError, ValueError):
            return ""
        return " ".join(data.decode("utf-8", "replace").split())

    def _explain(self, exc: BaseException) -> str:
        leaf = _leaf(exc)
        text = f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
        tail = self._stderr_tail()
        return f"{text}; the server's error output: {tail}" if tail else text


class MCPTool(Tool):
    """One tool of an MCP server; calling it calls the server.

    Attributes:
        client: the ``MCPClient`` it belongs to.
        server_name: the tool's name on the server (``name`` is its Python form).
    """

    def __init__(self, client: MCPClient, entry: Any, name: str) -> None:
        self.client = client
        self.server_name = entry.name
        self.name = name  # type: ignore[misc]
        description = (entry.description or entry.title or "").strip()
        self.description = description or f"the {entry.name!r} tool of the MCP server {client.label}"  # type: ignore[misc]
        self.inputs, self._originals = inputs_from_schema(entry.input_schema)  # type: ignore[misc]
        self.output_schema = entry.output_schema  # type: ignore[misc]
        self.output_type = "object" if entry.output_schema else "any"  # type: ignore[misc]
        self.spec_entry = client.spec_entry()
        """The agent-spec entry that gives this tool back (``{mcp: ...}``)."""
        super().__init__()

    def _arguments(self, bound: dict[str, Any]) -> dict[str, Any]:
        """The server's argument names; optional arguments that were not given are left out."""
        return {self._originals[key]: value for key, value in bound.items() if value is not None or not self.inputs[key].get("nullable")}

    def forward(self, **kwargs: Any) -> Any:
        """Call the server (blocking)."""
        return self.client.call_tool(self.server_name, self._arguments(kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """Check the arguments and call the server without blocking the caller's loop."""
        bound = self.bind_arguments(args, kwargs)
        return await self.client.acall_tool(self.server_name, self._arguments(bound))


_OPEN: weakref.WeakSet[MCPClient] = weakref.WeakSet()
_SHARED: dict[tuple[Any, ...], MCPClient] = {}
_ENTRY_KEYS = frozenset({"mcp", "env", "timeout", "connect_timeout"})


def tools_from_entry(entry: Mapping[str, Any], context: Any = None) -> list[Tool]:
    """The tools of an agent spec's ``{mcp: COMMAND|URL, env: [NAMES], timeout: S}`` entry.

    ``env`` names environment variables passed on to a stdio server (their
    values are read here, never written in the spec). Specs built again and
    again (batch workers) share one connection per server while it is open.

    Raises:
        ConfigurationError: an unknown key, a bad value, an unset variable, or
            a server that cannot be started or reached.
    """
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ConfigurationError(f"unknown key(s) {unknown} in an mcp tool entry; its keys: {sorted(_ENTRY_KEYS)}")
    server = entry["mcp"]
    names = entry.get("env") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigurationError("env of an mcp tool entry is a list of environment variable names (values are never written in a spec)")
    unset = [n for n in names if n not in os.environ]
    if unset:
        raise ConfigurationError(f"the environment variable(s) {', '.join(unset)} named in env are not set")
    env = {n: os.environ[n] for n in names}
    timeout = entry.get("timeout", 30.0)
    connect_timeout = entry.get("connect_timeout")
    for label, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ConfigurationError(f"{label} of an mcp tool entry is a positive number of seconds, not {value!r}")
    key = (server if isinstance(server, str) else tuple(server), tuple(sorted(env.items())), timeout, connect_timeout)
    client = _SHARED.get(key)
    if client is None or not client.connected:
        client = MCPClient(server, env=env, timeout=timeout, connect_timeout=connect_timeout).connect()
        _SHARED[key] = client
    tools = list(client.tools)
    for item in tools:
        item.spec_entry = dict(entry)
    return tools


@atexit.register
def _close_open_clients() -> None:
    """Stop the stdio servers still running when Python exits."""
    for client in list(_OPEN):
        try:
            client.close()
        except Exception:  # noqa: BLE001 - nothing more to do at exit
            pass


def convert_result(name: str, result: Any) -> Any:
    """A Python value from an MCP ``CallToolResult``.

    Structured content wins (unwrapped when the server wrapped a plain value
    as ``{"result": ...}``); otherwise one text is a ``str``, one image a
    ``Media``, and mixed content a list of both.

    Raises:
        ToolServerError: the server marked the result as an error.
    """
    parts = [_convert_part(part) for part in (getattr(result, "content", None) or [])]
    if getattr(result, "is_error", False):
        text = " ".join(str(p) for p in parts if isinstance(p, str)).strip() or "the tool reported an error"
        raise ToolServerError(f"{name} failed: {text}")
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        if isinstance(structured, dict) and list(structured) == ["result"]:
            return structured["result"]
        return structured
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, str) for p in parts):
        return "\n".join(parts)
    return parts


def _convert_part(part: Any) -> Any:
    kind = getattr(part, "type", None)
    if kind == "text":
        return part.text
    if kind in ("image", "audio"):
        try:
            return Media.from_base64(part.data, part.mime_type)
        except ValueError as exc:
            return f"[{kind} that could not be decoded: {exc}]"
    if kind == "resource":
        resource = part.resource
        if getattr(resource, "text", None) is not None:
            return resource.text
        try:
            return Media.from_base64(resource.blob, getattr(resource, "mime_type", None), name=str(resource.uri))
        except ValueError as exc:
            return f"[resource {resource.uri} that could not be decoded: {exc}]"
    if kind == "resource_link":
        about = f": {part.description}" if getattr(part, "description", None) else ""
        return f"[resource {part.name} at {part.uri}{about}]"
    return repr(part)


def _warm_validator_imports() -> None:
    """Import jsonschema in the background: the SDK imports it on the first result it validates,
    which would otherwise block the session's loop for seconds on a busy machine."""

    def load() -> None:
        try:
            import jsonschema.validators  # noqa: F401
            import referencing  # noqa: F401
        except ImportError:  # the SDK reports it when it needs them
            pass

    threading.Thread(target=load, name="smolkernel-mcp-warmup", daemon=True).start()


def _program(name: str) -> str:
    """``name``, or the program of that name beside this Python (a server pip-installed in the
    same environment, when that environment's bin folder is not on PATH, as in a kernel)."""
    if os.sep in name or shutil.which(name):
        return name
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else name


def _leaf(exc: BaseException) -> BaseException:
    """The first non-group exception inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _require_sdk() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise MissingExtraError("mcp", "mcp", "MCPClient") from None
