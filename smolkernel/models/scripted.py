"""ScriptedModel: replies given in advance or by a function, for tests and offline demos."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, Union

from .._structured import load_structured_file
from ..exceptions import ConfigurationError, ScriptExhausted
from .base import ChatMessage, MessageLike, Model, StreamDelta, TokenUsage, ToolCall, apply_stop, normalize_messages

__all__ = ["ScriptedModel"]

Response = Union[str, ChatMessage, dict]
ResponseFunction = Callable[[list[ChatMessage]], Union[str, ChatMessage]]


class ScriptedModel(Model):
    """A model whose replies are scripted.

    Args:
        responses: a list served in order (strings, ChatMessages, or dicts with
            ``content`` and/or ``tool_calls``), or a function
            ``fn(messages) -> str | ChatMessage`` called for each request.
        model_id: the name reported in views and usage.
        chunk_size: characters per streamed delta (``astream``).

    Token usage is estimated as one token per four characters, so views and
    memory figures behave as with a real model.

    Raises:
        ScriptExhausted: when asked for more replies than the list holds.
    """

    def __init__(self, responses: Sequence[Response] | ResponseFunction, *, model_id: str = "scripted", chunk_size: int = 16):
        self.model_id = model_id
        self.chunk_size = chunk_size
        self._function = responses if callable(responses) else None
        self._responses = [] if callable(responses) else list(responses)
        self.script: list[Response] | None = None if callable(responses) else list(responses)
        """The responses as given (None for a function); ``agent.to_spec()`` writes them."""
        self._lock = threading.Lock()
        self.calls: list[list[ChatMessage]] = []
        """Every request received, in order (for assertions in tests)."""

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ScriptedModel:
        """Load a JSON or YAML list of responses (the ``scripted:FILE`` spec).

        Raises:
            ConfigurationError: the file is missing, does not parse (the
                message names the file and line) or is not a list.
        """
        path = Path(path)
        data = load_structured_file(path, "scripted model file")
        if not isinstance(data, list):
            raise ConfigurationError(f"scripted model file {path} must hold a list of responses, not {type(data).__name__}")
        return cls(data, model_id=f"scripted:{path.name}", **kwargs)

    @property
    def remaining(self) -> int:
        """How many scripted responses have not been served yet."""
        return len(self._responses)

    def _next(self, messages: list[ChatMessage]) -> ChatMessage:
        with self._lock:
            self.calls.append(messages)
            if self._function is not None:
                reply = self._function(messages)
            elif not self._responses:
                raise ScriptExhausted(
                    f"ScriptedModel ran out of responses after {len(self.calls) - 1} calls; "
                    "give it more responses or a function"
                )
            else:
                reply = self._responses.pop(0)
        return _to_message(reply)

    async def agenerate(self, messages: Sequence[MessageLike], *, stop=None, tools=None) -> ChatMessage:
        """Return the next scripted reply, cut at ``stop``, with estimated usage."""
        normalized = normalize_messages(messages)
        message = self._next(normalized)
        if message.content is not None:
            message.content = apply_stop(message.content, stop)
        if message.token_usage is None:
            prompt_chars = sum(len(m.content or "") for m in normalized)
            message.token_usage = TokenUsage(input_tokens=max(1, prompt_chars // 4), output_tokens=max(1, len(message.content or "") // 4))
        return message

    async def astream(self, messages: Sequence[MessageLike], *, stop=None, tools=None) -> AsyncIterator[StreamDelta]:
        """Yield the next scripted reply in chunks of ``chunk_size`` characters."""
        message = await self.agenerate(messages, stop=stop, tools=tools)
        text = message.content or ""
        for start in range(0, len(text), self.chunk_size):
            yield StreamDelta(content=text[start : start + self.chunk_size])
        yield StreamDelta(tool_calls=message.tool_calls or None, token_usage=message.token_usage)


def _to_message(reply: Response) -> ChatMessage:
    if isinstance(reply, ChatMessage):
        return ChatMessage(role="assistant", content=reply.content, tool_calls=list(reply.tool_calls), token_usage=reply.token_usage)
    if isinstance(reply, str):
        return ChatMessage(role="assistant", content=reply)
    if isinstance(reply, dict):
        calls = [
            ToolCall(name=c["name"], arguments=c.get("arguments", {}), id=c.get("id") or f"call_{uuid.uuid4().hex[:10]}")
            for c in reply.get("tool_calls") or []
        ]
        return ChatMessage(role="assistant", content=reply.get("content"), tool_calls=calls)
    raise ConfigurationError(f"a scripted response must be a str, dict or ChatMessage, not {type(reply).__name__}")
