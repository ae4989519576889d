"""A lean HTTP/1.1 client for JSON POSTs: the fast path of OpenAIServerModel.

A batch of agents makes thousands of small chat-completion calls; through the
``openai`` SDK each costs several milliseconds of CPU (pydantic models, httpx
layers), which on a small machine is the batch's ceiling. This client does
only what those calls need: keep-alive connections per event loop, one
request written in one go, the reply read by ``Content-Length`` or chunked
encoding, and JSON decoded to plain dicts (read by ``_completions.field``).
Streaming calls still go through the SDK.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._async import within
from ._retry import Failure, failure_from_status, provider_message

__all__ = ["FastJSONClient", "HTTPStatusError", "HTTPConnectError", "HTTPReadTimeout", "MalformedReply", "failure_from_fast_error"]


class HTTPStatusError(Exception):
    """The server answered with a status of 400 or more."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers


class HTTPConnectError(Exception):
    """The server could not be reached, or closed the connection without a reply."""


class HTTPReadTimeout(Exception):
    """No complete reply within the timeout."""


class MalformedReply(Exception):
    """A reply that is not HTTP, or whose body is not JSON."""


def _json_dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


try:  # several times faster, where installed (gradio brings it)
    import orjson

    def _dumps(payload: Any) -> bytes:
        try:
            return orjson.dumps(payload)
        except TypeError:  # what orjson refuses (int dict keys...), json may take
            return _json_dumps(payload)

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson missing
    _dumps, _loads = _json_dumps, json.loads


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class FastJSONClient:
    """POSTs JSON to one server and returns the decoded JSON reply.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``; paths are appended to it.
        headers: sent with every request (``Authorization``...).
        timeout: seconds for one request, connecting included.
        max_idle: idle keep-alive connections kept.

    Bound to the event loop that first uses it (make one per loop).
    """

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, timeout: float = 60.0, max_idle: int = 256) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        host_header = self.host if parts.port is None else f"{self.host}:{self.port}"
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = f"Host: {host_header}\r\nContent-Type: application/json\r\nAccept: application/json\r\n{extra}"
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: deque[_Connection] = deque()
        self._ssl = ssl.create_default_context() if self.tls else None

    async def post_json(self, path: str, payload: Any) -> Any:
        """POST ``payload`` to ``path``; return the reply's JSON.

        Raises:
            HTTPStatusError: status >= 400 (body and headers attached).
            HTTPConnectError, HTTPReadTimeout, MalformedReply: as named.
        """
        body = _dumps(payload)
        request = f"POST {self.prefix}{path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        try:
            status, headers, data = await within(self._exchange(request), self.timeout)
        except asyncio.TimeoutError:
            raise HTTPReadTimeout(f"no reply within {self.timeout:g} s") from None
        if status >= 400:
            raise HTTPStatusError(status, data, headers)
        try:
            return _loads(data)
        except ValueError as exc:
            raise MalformedReply(f"the reply is not JSON: {exc}") from exc

    async def _exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        # A kept-alive connection may have been closed by the server meanwhile: then try once on a fresh one.
        for reused in (True, False):
            connection = self._take_idle() if reused else None
            if reused and connection is None:
                continue
            if connection is None:
                connection = await self._connect()
            try:
                connection.writer.write(request)
                status, headers, data, keep = await _read_response(connection.reader)
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
                connection.writer.close()
                if reused:
                    continue
                raise HTTPConnectError(f"the connection to {self.host}:{self.port} broke: {exc or type(exc).__name__}") from exc
            except BaseException:
                connection.writer.close()
                raise
            if keep and len(self._idle) < self.max_idle:
                self._idle.append(connection)
            else:
                connection.writer.close()
            return status, headers, data
        raise HTTPConnectError("unreachable")  # pragma: no cover

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.writer.close()
        return None

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self._ssl, limit=1 << 22)
        except OSError as exc:
            raise HTTPConnectError(f"could not connect to {self.host}:{self.port}: {exc}") from exc
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        """Close the idle connections."""
        while self._idle:
            self._idle.pop().writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        version, code, *_ = lines[0].split(" ", 2)
        status = int(code)
    except ValueError:
        raise MalformedReply(f"not an HTTP status line: {lines[0][:100]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        data = await _read_chunked(reader)
    elif "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    else:
        data = await reader.read()
        return status, headers, data, False
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return status, headers, data, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def failure_from_fast_error(exc: BaseException, *, timeout: float | None = None) -> Failure | None:
    """Translate this client's exceptions (``None`` for any other exception)."""
    if isinstance(exc, HTTPStatusError):
        message = provider_message(exc.body, f"HTTP {exc.status}")
        return failure_from_status(exc.status, message, exc.headers)
    if isinstance(exc, HTTPReadTimeout):
        after = f" after {timeout:g}s" if timeout else ""
        return Failure(f"the request timed out{after} (no reply from the server)", retryable=True)
    if isinstance(exc, HTTPConnectError):
        return Failure(f"could not reach the server: {exc}", retryable=True)
    if isinstance(exc, MalformedReply):
        return Failure(f"the server sent a malformed reply ({exc})")
    return None
