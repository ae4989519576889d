"""The model contract: messages in, a ChatMessage out, sync or async, streamed or not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from .._async import iterate_sync, run_sync

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["TokenUsage", "ToolCall", "ChatMessage", "StreamDelta", "Model", "MessageLike"]


@dataclass
class TokenUsage:
    """Tokens spent by one model call (or a sum of calls)."""

    input_tokens: int = 0
    """Prompt tokens sent to the model."""
    output_tokens: int = 0
    """Completion tokens the model produced."""
    cost: float | None = None
    """Cost in US dollars, when the provider's price is known."""

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: TokenUsage | None) -> TokenUsage:
        if other is None:
            return TokenUsage(self.input_tokens, self.output_tokens, self.cost)
        if self.cost is None and other.cost is None:
            cost = None
        else:
            cost = (self.cost or 0.0) + (other.cost or 0.0)
        return TokenUsage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens, cost)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the figures."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "cost": self.cost}


@dataclass
class ToolCall:
    """One tool call requested by the model."""

    name: str
    """Name of the tool to call."""
    arguments: dict[str, Any] | str = field(default_factory=dict)
    """Arguments: a dict, or the raw string when it was not valid JSON."""
    id: str = ""
    """The provider's id for the call, echoed back with its result."""

    def to_dict(self) -> dict[str, Any]:
        """The call in OpenAI chat format."""
        args = self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": args}}


@dataclass
class ChatMessage:
    """One message of a conversation, as sent to or received from a model."""

    role: str
    """``system``, ``user``, ``assistant`` or ``tool``."""
    content: str | None = None
    """The text of the message."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tool calls the assistant requested (ToolCallingAgent)."""
    token_usage: TokenUsage | None = None
    """Tokens spent producing this message, for model replies."""
    tool_call_id: str | None = None
    """For ``tool`` messages: the id of the call this answers."""
    raw: Any = field(default=None, repr=False, compare=False)
    """The provider's raw response, for debugging."""

    def to_dict(self) -> dict[str, Any]:
        """The message in OpenAI chat format (what most providers accept)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatMessage:
        """Build a message from an OpenAI-format dict."""
        calls = []
        for raw_call in data.get("tool_calls") or []:
            function = raw_call.get("function", raw_call)
            calls.append(ToolCall(name=function["name"], arguments=parse_arguments(function.get("arguments")), id=raw_call.get("id", "")))
        content = data.get("content")
        if isinstance(content, list):  # multi-part content: keep the text parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return cls(role=data["role"], content=content, tool_calls=calls, tool_call_id=data.get("tool_call_id"))


MessageLike = Union[ChatMessage, dict]


def parse_arguments(arguments: Any) -> dict[str, Any] | str:
    """Decode tool-call arguments; keep the raw string when it is not a JSON object."""
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError):
        return str(arguments)
    return value if isinstance(value, dict) else str(arguments)


def normalize_messages(messages: Sequence[MessageLike]) -> list[ChatMessage]:
    """Turn a mix of dicts and ChatMessages into ChatMessages."""
    return [m if isinstance(m, ChatMessage) else ChatMessage.from_dict(m) for m in messages]


@dataclass
class StreamDelta:
    """A piece of a streamed reply."""

    content: str | None = None
    """New text, if any."""
    tool_calls: list[ToolCall] | None = None
    """Complete tool calls, given once they are fully received."""
    token_usage: TokenUsage | None = None
    """Usage, usually on the last delta only."""


class Model:
    """Base of every model backend.

    Subclasses implement :meth:`agenerate` and may implement :meth:`astream`
    (the default streams the whole reply as one delta). ``generate`` and
    ``stream`` are the blocking twins; they also work inside a running event
    loop, as in a Jupyter cell.
    """

    model_id: str = "model"

    def check(self) -> None:
        """Raise now when the set-up cannot work, before any call is made.

        HTTP backends check that the provider is known and its API key is set
        (:class:`~smolkernel.exceptions.MissingAPIKeyError` names the
        variable); models that need nothing do nothing. Calls check too, so
        this is only for failing early (e.g. when a notebook sets the model).
        """

    async def agenerate(
        self,
        messages: Sequence[MessageLike],
        *,
        stop: Sequence[str] | None = None,
        tools: Sequence[Tool] | None = None,
    ) -> ChatMessage:
        """Return the model's reply to ``messages``.

        Args:
            messages: the conversation so far.
            stop: sequences at which generation stops (not included in the reply).
            tools: tools offered for native tool calling.

        Raises:
            ModelCallError: the call failed after retries.
        """
        raise NotImplementedError

    async def astream(
        self,
        messages: Sequence[MessageLike],
        *,
        stop: Sequence[str] | None = None,
        tools: Sequence[Tool] | None = None,
    ) -> AsyncIterator[StreamDelta]:
        """Yield the reply as it is generated; the last delta carries the usage."""
        message = await self.agenerate(messages, stop=stop, tools=tools)
        yield StreamDelta(content=message.content, tool_calls=message.tool_calls or None, token_usage=message.token_usage)

    def generate(self, messages: Sequence[MessageLike], *, stop: Sequence[str] | None = None, tools: Sequence[Tool] | None = None) -> ChatMessage:
        """Blocking twin of :meth:`agenerate`."""
        return run_sync(self.agenerate(messages, stop=stop, tools=tools))

    def stream(self, messages: Sequence[MessageLike], *, stop: Sequence[str] | None = None, tools: Sequence[Tool] | None = None) -> Iterator[StreamDelta]:
        """Blocking twin of :meth:`astream`."""
        return iterate_sync(self.astream(messages, stop=stop, tools=tools))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r})"


def collect_stream(deltas: Sequence[StreamDelta]) -> ChatMessage:
    """Assemble streamed deltas into one assistant ChatMessage."""
    text = "".join(d.content or "" for d in deltas)
    calls: list[ToolCall] = []
    usage: TokenUsage | None = None
    for delta in deltas:
        calls.extend(delta.tool_calls or [])
        if delta.token_usage is not None:
            usage = delta.token_usage
    return ChatMessage(role="assistant", content=text, tool_calls=calls, token_usage=usage)


def apply_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` at the first stop sequence (providers that ignore ``stop``)."""
    if not stop:
        return text
    cut = len(text)
    for sequence in stop:
        index = text.find(sequence)
        if index != -1:
            cut = min(cut, index)
    return text[:cut]
