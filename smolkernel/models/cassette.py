"""Record and replay model calls ("cassettes"), so notebooks re-run offline, identically.

A cassette is a JSON-lines file: one line per model call, holding the
request (model id, messages, stop sequences, offered tool names) and the
response (content, tool calls, token usage). ``RecordingModel`` wraps any
model and appends a line per call; ``ReplayModel`` (the ``replay:FILE``
model spec) serves the recorded responses in order and stops with
``CassetteMismatch`` when a request differs from the recorded one.

Secrets never reach a cassette: only the model-level request is written
(no HTTP headers, no client options), and every value of an environment
variable whose name looks secret (``*_KEY``, ``*TOKEN*``, ``*SECRET*``,
``*PASSWORD*``), plus the wrapped model's own ``api_key``, is replaced by
``<redacted:NAME>`` wherever it appears in the text.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, RunError
from .base import ChatMessage, MessageLike, Model, StreamDelta, TokenUsage, ToolCall, normalize_messages

__all__ = ["RecordingModel", "ReplayModel", "CassetteMismatch", "RECORD_ENV"]

from .resolve import RECORD_ENV  # noqa: E402  (re-exported for callers that record)

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_MIN_SECRET_LENGTH = 6


class CassetteMismatch(RunError):
    """A replayed run sent a request that differs from the recorded one."""


def _secrets(extra: dict[str, str]) -> list[tuple[str, str]]:
    found = [(name, value) for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH]
    found += [(name, value) for name, value in extra.items() if value and len(value) >= _MIN_SECRET_LENGTH]
    return sorted(found, key=lambda item: -len(item[1]))  # longest first, so overlaps redact whole


def _redact(value: Any, secrets: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for name, secret in secrets:
            if secret in value:
                value = value.replace(secret, f"<redacted:{name}>")
        return value
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    return value


def _request(model_id: str, messages: Sequence[MessageLike], stop: Sequence[str] | None, tools: Sequence[Any] | None) -> dict[str, Any]:
    return {
        "model": model_id,
        "messages": [m.to_dict() for m in normalize_messages(messages)],
        "stop": list(stop) if stop else None,
        "tools": sorted(t.name for t in tools) if tools else None,
    }


def _response(message: ChatMessage) -> dict[str, Any]:
    usage = message.token_usage
    return {
        "content": message.content,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls],
        "token_usage": usage.to_dict() if usage else None,
    }


class RecordingModel(Model):
    """Wraps ``model`` and appends every call to the cassette at ``path``.

    The file is created (with its folder) on first use and appended to, so a
    notebook's successive cells share one cassette.
    """

    def __init__(self, model: Model, path: str | Path):
        self.inner = model
        self.model_id = model.model_id
        self.path = Path(path)
        self._lock = threading.Lock()
        key = getattr(model, "api_key", None)
        self._extra_secrets = {"api_key": key} if isinstance(key, str) else {}

    def check(self) -> None:
        """Check the recorded model's set-up (see :meth:`Model.check`)."""
        self.inner.check()

    def _write(self, request: dict[str, Any], message: ChatMessage) -> None:
        line = _redact({"request": request, "response": _response(message)}, _secrets(self._extra_secrets))
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, ensure_ascii=False, default=repr) + "\n")

    async def agenerate(self, messages: Sequence[MessageLike], *, stop=None, tools=None) -> ChatMessage:
        """Call the wrapped model and record the exchange."""
        message = await self.inner.agenerate(messages, stop=stop, tools=tools)
        await asyncio.to_thread(self._write, _request(self.model_id, messages, stop, tools), message)
        return message

    async def astream(self, messages: Sequence[MessageLike], *, stop=None, tools=None) -> AsyncIterator[StreamDelta]:
        """Stream from the wrapped model; record the assembled reply at the end."""
        from .base import collect_stream

        deltas = []
        async for delta in self.inner.astream(messages, stop=stop, tools=tools):
            deltas.append(delta)
            yield delta
        await asyncio.to_thread(self._write, _request(self.model_id, messages, stop, tools), collect_stream(deltas))


class ReplayModel(Model):
    """Serves a cassette's responses in order (the ``replay:FILE`` spec).

    Raises:
        ConfigurationError: the cassette is missing or unreadable.
        CassetteMismatch: a request differs from the recorded one, or the
            run asks for more calls than were recorded.
    """

    def __init__(self, path: str | Path, *, strict: bool = True):
        self.path = Path(path)
        self.strict = strict
        try:
            lines = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
            self.entries = [json.loads(line) for line in lines]
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cassette {self.path} cannot be read: {exc}") from None
        self.model_id = self.entries[0]["request"]["model"] if self.entries else f"replay:{self.path.name}"
        self.position = 0
        self._lock = threading.Lock()

    def _next(self, request: dict[str, Any]) -> ChatMessage:
        with self._lock:
            if self.position >= len(self.entries):
                raise CassetteMismatch(f"cassette {self.path.name} holds {len(self.entries)} calls; the run asked for call {self.position + 1}. Record it again.")
            entry = self.entries[self.position]
            self.position += 1
        if self.strict:
            _compare(entry["request"], _redact(request, _secrets({})), self.position, self.path.name)
        response = entry["response"]
        usage = response.get("token_usage")
        return ChatMessage(
            role="assistant",
            content=response.get("content"),
            tool_calls=[ToolCall(name=c["name"], arguments=c["arguments"], id=c.get("id", "")) for c in response.get("tool_calls") or []],
            token_usage=TokenUsage(usage["input_tokens"], usage["output_tokens"], usage.get("cost")) if usage else None,
        )

    async def agenerate(self, messages: Sequence[MessageLike], *, stop=None, tools=None) -> ChatMessage:
        """Return the next recorded reply, after checking the request matches."""
        return self._next(_request(self.model_id, messages, stop, tools))


def _compare(recorded: dict[str, Any], actual: dict[str, Any], number: int, name: str) -> None:
    for key in ("stop", "tools"):
        if recorded.get(key) != actual.get(key):
            raise CassetteMismatch(f"call {number} differs from cassette {name}: {key} was {recorded.get(key)!r}, now {actual.get(key)!r}")
    old, new = recorded["messages"], actual["messages"]
    for index, (a, b) in enumerate(zip(old, new)):
        if a != b:
            raise CassetteMismatch(
                f"call {number} differs from cassette {name} at message {index} ({b.get('role')}):\n"
                f"  recorded: {_short(a.get('content'))}\n  now:      {_short(b.get('content'))}"
            )
    if len(old) != len(new):
        raise CassetteMismatch(f"call {number} differs from cassette {name}: {len(old)} messages recorded, {len(new)} now")


def _short(text: Any, limit: int = 160) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[:limit] + "..."
