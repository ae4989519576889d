"""OpenAI-shaped completions: requests out, ChatMessages and StreamDeltas in.

The ``openai`` SDK, litellm and huggingface_hub all answer with objects of
the same shape (``choices[0].message``, ``usage.prompt_tokens``, streamed
``choices[0].delta``); the helpers here read that shape by attribute or key,
so each backend only makes the call.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import ModelCallError
from .base import ChatMessage, MessageLike, StreamDelta, TokenUsage, ToolCall, apply_stop, normalize_messages, parse_arguments

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["request_messages", "request_tools", "message_from_completion", "usage_from", "StreamAssembler", "StopCutter", "is_local_url"]


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]``: SDK objects and plain dicts alike."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def request_messages(messages: Sequence[MessageLike]) -> list[dict[str, Any]]:
    """The conversation as OpenAI-format dicts."""
    return [message.to_dict() for message in normalize_messages(messages)]


def request_tools(tools: Sequence[Tool] | None) -> list[dict[str, Any]] | None:
    """Tools as OpenAI function definitions, or ``None`` when there are none."""
    return [tool.to_json_schema() for tool in tools] if tools else None


def usage_from(raw_usage: Any) -> TokenUsage | None:
    """TokenUsage from an OpenAI-style ``usage`` object, or ``None`` when absent."""
    if raw_usage is None:
        return None
    return TokenUsage(input_tokens=int(field(raw_usage, "prompt_tokens", 0) or 0), output_tokens=int(field(raw_usage, "completion_tokens", 0) or 0))


def message_from_completion(response: Any, stop: Sequence[str] | None = None) -> ChatMessage:
    """The assistant ChatMessage of a non-streamed completion.

    Raises:
        ModelCallError: the response has no choices or no message.
    """
    choices = field(response, "choices") or []
    message = field(choices[0], "message") if choices else None
    if message is None:
        raise ModelCallError(f"the server's reply has no message: {str(response)[:300]}")
    calls = [
        ToolCall(name=field(field(call, "function"), "name", ""), arguments=parse_arguments(field(field(call, "function"), "arguments")), id=field(call, "id", "") or f"call_{i}")
        for i, call in enumerate(field(message, "tool_calls") or [])
    ]
    content = field(message, "content")
    if isinstance(content, str):
        content = apply_stop(content, stop)
    return ChatMessage(role="assistant", content=content, tool_calls=calls, token_usage=usage_from(field(response, "usage")), raw=response)


class StopCutter:
    """Cuts a stream of text at the first stop sequence.

    Text that could be the start of a stop sequence is held back until the
    next piece shows whether it is one, so no part of a stop sequence is ever
    emitted.
    """

    def __init__(self, stop: Sequence[str] | None):
        self.stop = [s for s in (stop or []) if s]
        self.stopped = False
        """True once a stop sequence was seen; later text is dropped."""
        self._pending = ""

    def feed(self, text: str) -> str:
        """Take the next piece of text; return what can be emitted now."""
        if self.stopped or not text:
            return ""
        if not self.stop:
            return text
        buffer = self._pending + text
        cut = apply_stop(buffer, self.stop)
        if len(cut) < len(buffer):
            self.stopped = True
            self._pending = ""
            return cut
        hold = max((k for s in self.stop for k in range(1, len(s)) if buffer.endswith(s[:k])), default=0)
        self._pending = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """The held-back text, at the end of the stream."""
        pending, self._pending = self._pending, ""
        return "" if self.stopped else pending


class StreamAssembler:
    """Turns OpenAI-style stream chunks into StreamDeltas.

    Content is passed on as it arrives (cut at ``stop``); tool-call fragments
    are gathered by index and given as complete ToolCalls, with the usage, in
    the final delta from :meth:`finish`.
    """

    def __init__(self, stop: Sequence[str] | None = None):
        self._cutter = StopCutter(stop)
        self._calls: dict[int, dict[str, str]] = {}
        self.usage: TokenUsage | None = None

    def feed(self, chunk: Any) -> StreamDelta | None:
        """Take one chunk; return a delta with new content, or ``None``."""
        usage = usage_from(field(chunk, "usage"))
        if usage is not None:
            self.usage = usage
        text = ""
        for choice in field(chunk, "choices") or []:
            delta = field(choice, "delta")
            text += field(delta, "content") or ""
            for call in field(delta, "tool_calls") or []:
                self._add_call_fragment(call)
        emitted = self._cutter.feed(text)
        return StreamDelta(content=emitted) if emitted else None

    def _add_call_fragment(self, fragment: Any) -> None:
        index = field(fragment, "index", len(self._calls)) or 0
        call = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        call["id"] = field(fragment, "id") or call["id"]
        function = field(fragment, "function")
        call["name"] += field(function, "name") or ""
        arguments = field(function, "arguments")
        if isinstance(arguments, dict):  # some servers send whole objects
            arguments = json.dumps(arguments)
        call["arguments"] += arguments or ""

    def finish(self) -> StreamDelta:
        """The final delta: held-back text, complete tool calls and usage."""
        calls = [
            ToolCall(name=call["name"], arguments=parse_arguments(call["arguments"]), id=call["id"] or f"call_{index}")
            for index, call in sorted(self._calls.items())
        ]
        return StreamDelta(content=self._cutter.flush() or None, tool_calls=calls or None, token_usage=self.usage)


@functools.lru_cache(maxsize=64)
def is_local_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine (where servers rarely want a key)."""
    if not url:
        return False
    from urllib.parse import urlparse

    host = (urlparse(url).hostname or "").lower()
    return host in {"localhost", "127.0.0.1", "0.0.0.0", "::1"} or host.startswith("127.")
