"""LoopbackLLMServer: an OpenAI-compatible chat server on 127.0.0.1, for offline tests.

Point any OpenAI-compatible client (``OpenAIServerModel``, ``LiteLLMModel``
with an ``openai/`` id, ``InferenceClientModel``, the ``openai`` SDK, curl)
at ``server.api_base`` and it answers with replies you scripted, over real
HTTP, with no network and no provider::

    from smolkernel.testing import LoopbackLLMServer
    from smolkernel import OpenAIServerModel

    with LoopbackLLMServer(["Hello!", {"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}]) as server:
        model = OpenAIServerModel("loopback", api_base=server.api_base, api_key="x")
        assert model.generate([{"role": "user", "content": "hi"}]).content == "Hello!"
        assert server.chat_requests[0].json["messages"][0]["content"] == "hi"

Endpoints: ``POST /v1/chat/completions`` (also ``/chat/completions``),
streamed as server-sent events when the request says ``"stream": true``, and
``GET /v1/models``.

Replies are served in order; each is a string, or a dict with ``content``,
``tool_calls`` (``{"name", "arguments", "id"}`` or OpenAI format), optional
``usage`` (``{"prompt_tokens", "completion_tokens"}``; estimated at four
characters a token when absent) and ``finish_reason``. Instead of a list, a
function ``fn(request_json) -> str | dict`` answers every request. With no
replies the server echoes the last user message. The request's ``stop``
sequences are honoured, as a real server does.

Faults make the next requests fail, one fault per request, in order:
``"429"`` (rate limited, with a ``Retry-After`` header), ``"500"``,
``"hang"`` (no answer for ``hang_seconds``; ends at once when the server
closes), ``"malformed"`` (a 200 reply whose JSON is cut short), any integer
HTTP status, or ``None`` (serve this request normally). Give them as
``faults=[...]`` or with :meth:`LoopbackLLMServer.inject_fault`.

Every request received (method, path, headers, JSON body, and when it came
and was answered) is recorded in ``server.requests``, so tests can assert what
their code sent, and benchmarks can tell the server's time from their own.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

__all__ = ["LoopbackLLMServer", "RecordedRequest", "FAULT_KINDS"]

Reply = Union[str, dict]
ReplyFunction = Callable[[dict], Reply]
Fault = Union[str, int, None]

FAULT_KINDS = ("429", "500", "hang", "malformed")
"""Named faults; any integer HTTP status is accepted too."""

_CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
_MODELS_PATHS = ("/v1/models", "/models")


@dataclass
class RecordedRequest:
    """One HTTP request the server received."""

    method: str
    """``GET`` or ``POST``."""
    path: str
    """The request path, e.g. ``/v1/chat/completions``."""
    headers: dict[str, str]
    """Request headers, names in lower case."""
    json: Any = None
    """The decoded JSON body (``None`` for GET or a body that is not JSON)."""
    fault: Fault = None
    """The fault injected into this request, if any."""
    received: float = 0.0
    """When the server began handling it (``time.time()``, its headers read)."""
    answered: float | None = None
    """When its answer was written (``time.time()``); ``None`` while pending or when it got none."""

    @property
    def seconds(self) -> float | None:
        """How long the server took to answer, as a provider reports its processing time; ``None`` when unanswered."""
        return None if self.answered is None else self.answered - self.received

    @property
    def messages(self) -> list[dict]:
        """The chat messages of a chat-completions request."""
        return list((self.json or {}).get("messages") or [])


@dataclass
class _Completion:
    """A reply, normalized: what the server will send."""

    content: str
    tool_calls: list[dict] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


class LoopbackLLMServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1, in a background thread.

    Args:
        replies: replies served in order (str or dict), or a function
            ``fn(request_json) -> str | dict``; ``None`` echoes the last user message.
        faults: faults for the next requests, in order (see the module docs).
        latency: seconds to wait before answering each request.
        chunk_size: characters of content per streamed chunk.
        retry_after: the ``Retry-After`` header (seconds) sent with a 429.
        hang_seconds: how long a ``"hang"`` fault keeps the request open.
        model_id: the model reported by ``GET /v1/models`` and in replies.

    Use it as a context manager (``with`` or ``async with``) or call
    :meth:`start` and :meth:`close`. The port is chosen by the system.
    """

    def __init__(
        self,
        replies: Sequence[Reply] | ReplyFunction | None = None,
        *,
        faults: Sequence[Fault] = (),
        latency: float = 0.0,
        chunk_size: int = 4,
        retry_after: float = 0,
        hang_seconds: float = 60.0,
        model_id: str = "loopback",
    ):
        self._function = replies if callable(replies) else None
        self._replies: deque[Reply] | None = None if replies is None or callable(replies) else deque(replies)
        self._faults: deque[Fault] = deque()
        for fault in faults:
            self._faults.append(_check_fault(fault))
        self.latency = latency
        self.chunk_size = max(1, chunk_size)
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.model_id = model_id
        self.requests: list[RecordedRequest] = []
        """Every request received, in order."""
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> LoopbackLLMServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread; return self."""
        if self._httpd is not None:
            return self
        self._closing.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, owner=self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-llm-server", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; hanging requests and open connections end at once."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._closing.set()
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackLLMServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> LoopbackLLMServer:
        return self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        import asyncio

        await asyncio.to_thread(self.close)

    # -- addresses -----------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("LoopbackLLMServer is not running; use it in a `with` block or call start()")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the base URL OpenAI-compatible clients want."""
        return f"{self.url}/v1"

    # -- scripting -----------------------------------------------------------

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completions requests received, in order."""
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def add_replies(self, *replies: Reply) -> None:
        """Append replies to the scripted list."""
        with self._lock:
            if self._replies is None:
                self._replies = deque()
                self._function = None
            self._replies.extend(replies)

    def inject_fault(self, kind: Fault, times: int = 1) -> None:
        """Make the next ``times`` requests (after faults already queued) fail with ``kind``."""
        checked = _check_fault(kind)
        with self._lock:
            self._faults.extend([checked] * times)

    def _record(self, request: RecordedRequest) -> int:
        with self._lock:
            self.requests.append(request)
            return len(self.requests)

    def _next_fault(self) -> Fault:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _next_completion(self, body: dict) -> _Completion:
        with self._lock:
            if self._function is not None:
                function = self._function
                reply: Reply | None = None
            elif self._replies is None:
                function, reply = None, "echo: " + _last_user_text(body)
            elif not self._replies:
                raise LookupError(
                    f"LoopbackLLMServer has no scripted reply left (request #{len(self.chat_requests)}); "
                    "give it more replies, a function, or use add_replies()"
                )
            else:
                function, reply = None, self._replies.popleft()
        if function is not None:
            reply = function(body)
        return _normalize_reply(reply, body)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return False when the server is closing."""
        if seconds <= 0:
            return not self._closing.is_set()
        return not self._closing.wait(seconds)


# -- HTTP plumbing -------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    """The listen backlog: many clients connect at once in batches (the default, 5, drops their SYNs)."""

    def __init__(self, address: tuple[str, int], handler: type, *, owner: LoopbackLLMServer):
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client goes away (timeouts do that); report anything else."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Shut every open client connection, so blocked handler threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """TCP_NODELAY, as real servers set it: with Nagle's algorithm a reply's body
    waits for the client's delayed ACK of its headers, about 40 ms a call."""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    @property
    def owner(self) -> LoopbackLLMServer:
        return self.server.owner

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        request = RecordedRequest("GET", self.path, self._headers_dict(), received=time.time())
        self.owner._record(request)
        if self.path.rstrip("/") in _MODELS_PATHS:
            data = [{"id": self.owner.model_id, "object": "model", "created": 0, "owned_by": "smolkernel"}]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error(404, f"no route for GET {self.path}", "not_found")
        request.answered = time.time()

    def do_POST(self) -> None:  # noqa: N802
        received = time.time()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        is_chat = self.path.rstrip("/") in _CHAT_PATHS
        fault = self.owner._next_fault() if is_chat else None
        request = RecordedRequest("POST", self.path, self._headers_dict(), body, fault, received=received)
        self.owner._record(request)
        if not is_chat:
            self._send_error(404, f"no route for POST {self.path}", "not_found")
        elif not isinstance(body, dict):
            self._send_error(400, "the request body is not a JSON object", "invalid_request_error")
        elif not self.owner._wait(self.owner.latency):
            self.close_connection = True
            return
        elif fault is not None:
            self._send_fault(fault, bool(body.get("stream")))
            if fault == "hang":
                return  # no answer
        else:
            self._answer(body)
        request.answered = time.time()

    def _answer(self, body: dict) -> None:
        try:
            completion = self.owner._next_completion(body)
        except LookupError as exc:
            self._send_error(400, str(exc), "invalid_request_error")
            return
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._send_events(_stream_chunks(completion, self.owner.model_id, self.owner.chunk_size, include_usage))
        else:
            self._send_json(200, _completion_json(completion, self.owner.model_id))

    def _send_fault(self, fault: Fault, stream: bool) -> None:
        if fault == "hang":
            self.owner._wait(self.owner.hang_seconds)
            self.close_connection = True
        elif fault == "malformed":
            broken = '{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": "cut'
            if stream:
                self._send_events(iter([broken]))
            else:
                self._send_raw(200, "application/json", broken.encode())
        elif fault == "429" or fault == 429:
            headers = {"Retry-After": _format_seconds(self.owner.retry_after)}
            self._send_error(429, "Rate limit reached (fault injected by LoopbackLLMServer)", "rate_limit_exceeded", headers)
        else:
            status = int(fault)  # type: ignore[arg-type]
            kind = "server_error" if status >= 500 else "invalid_request_error"
            self._send_error(status, f"HTTP {status} (fault injected by LoopbackLLMServer)", kind)

    # -- writing -------------------------------------------------------------

    def _headers_dict(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _send_raw(self, status: int, content_type: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away
            self.close_connection = True

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, "application/json", json.dumps(payload).encode(), headers)

    def _send_error(self, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "code": kind}}, headers)

    def _send_events(self, chunks: Iterator[Any]) -> None:
        """Send server-sent events with chunked transfer encoding, ending with ``[DONE]``."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in chunks:
                text = chunk if isinstance(chunk, str) else json.dumps(chunk)
                self._write_chunk(f"data: {text}\n\n".encode())
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


# -- building replies -------------------------------------------------------------


def _check_fault(fault: Fault) -> Fault:
    if fault is None or isinstance(fault, int) and 100 <= fault <= 599:
        return fault
    if isinstance(fault, str) and (fault in FAULT_KINDS or fault.isdigit() and 100 <= int(fault) <= 599):
        return fault
    raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(FAULT_KINDS)}, an HTTP status code, or None")


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _normalize_tool_call(call: dict, index: int) -> dict:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"id": call.get("id") or f"call_{index}", "type": "function", "function": {"name": function["name"], "arguments": arguments}}


def _cut_at_stop(text: str, stop: Any) -> tuple[str, bool]:
    sequences = [stop] if isinstance(stop, str) else list(stop or [])
    positions = [text.find(s) for s in sequences if s and s in text]
    return (text[: min(positions)], True) if positions else (text, False)


def _normalize_reply(reply: Reply | None, body: dict) -> _Completion:
    if isinstance(reply, str):
        reply = {"content": reply}
    if not isinstance(reply, dict):
        raise TypeError(f"a LoopbackLLMServer reply must be a str or dict, not {type(reply).__name__}")
    content, _ = _cut_at_stop(reply.get("content") or "", body.get("stop"))
    calls = [_normalize_tool_call(call, i) for i, call in enumerate(reply.get("tool_calls") or [])]
    usage = reply.get("usage") or {}
    prompt_text = "".join(_text_of(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict))
    produced = content + "".join(c["function"]["name"] + c["function"]["arguments"] for c in calls)
    return _Completion(
        content=content,
        tool_calls=calls,
        prompt_tokens=usage.get("prompt_tokens", _estimate_tokens(prompt_text)),
        completion_tokens=usage.get("completion_tokens", _estimate_tokens(produced)),
        finish_reason=reply.get("finish_reason") or ("tool_calls" if calls else "stop"),
    )


def _usage_json(completion: _Completion) -> dict:
    total = completion.prompt_tokens + completion.completion_tokens
    return {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens, "total_tokens": total}


def _completion_json(completion: _Completion, model_id: str) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": completion.content}
    if completion.tool_calls:
        message["tool_calls"] = completion.tool_calls
    return {
        "id": f"chatcmpl-loopback-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_id,
        "choices": [{"index": 0, "message": message, "finish_reason": completion.finish_reason, "logprobs": None}],
        "usage": _usage_json(completion),
    }


def _stream_chunks(completion: _Completion, model_id: str, chunk_size: int, include_usage: bool) -> Iterator[dict]:
    base = {"id": f"chatcmpl-loopback-{time.monotonic_ns()}", "object": "chat.completion.chunk", "created": int(time.time()), "model": model_id}

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}

    yield chunk({"role": "assistant", "content": ""})
    text = completion.content
    for start in range(0, len(text), chunk_size):
        yield chunk({"content": text[start : start + chunk_size]})
    for index, call in enumerate(completion.tool_calls):
        head = {"index": index, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}
        yield chunk({"tool_calls": [head]})
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), chunk_size):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[start : start + chunk_size]}}]})
    yield chunk({}, completion.finish_reason)
    if include_usage:
        yield {**base, "choices": [], "usage": _usage_json(completion)}
