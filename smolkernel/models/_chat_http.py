"""The part every OpenAI-style HTTP backend shares: request, retries, streaming.

A backend subclasses :class:`HTTPChatModel` and implements two methods:
``_create(request, stream)`` makes one call with its SDK, and
``_translate(exc)`` turns that SDK's exceptions into a
:class:`~smolkernel.models._retry.Failure`. Everything else (building the
request, retrying, reading the reply, assembling streams, cutting at stop
sequences) is here, so the backends behave the same.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..exceptions import SmolkernelError
from ._completions import StreamAssembler, message_from_completion, request_messages, request_tools
from ._retry import Failure, RetryPolicy, call_with_retries, classify, model_call_error, note_usage
from .base import ChatMessage, MessageLike, Model, StreamDelta, TokenUsage

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["HTTPChatModel", "PerLoop"]

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One object per running event loop, made on first use by ``factory``.

    Async HTTP clients hold connections bound to the loop that opened them,
    and smolkernel calls models both from the caller's loop (a Jupyter
    kernel's) and from the private loop behind ``generate``; sharing one
    client across them fails. Entries of closed loops are dropped.
    """

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._items: dict[int, tuple[asyncio.AbstractEventLoop, T]] = {}
        self._lock = threading.Lock()

    def get(self) -> T:
        """The object for the running loop (must be called inside a coroutine)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for key, (other, _) in list(self._items.items()):
                if other.is_closed():
                    del self._items[key]
            entry = self._items.get(id(loop))
            if entry is not None and entry[0] is loop:
                return entry[1]
            item = self._factory()
            self._items[id(loop)] = (loop, item)
            return item

    def pop_current(self) -> T | None:
        """Forget and return the running loop's object, if any."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._items.pop(id(loop), None)
        return entry[1] if entry is not None else None


class HTTPChatModel(Model):
    """Base of the backends that speak OpenAI-style chat completions.

    Args:
        model_id: the model's name at the provider.
        timeout: seconds to wait for a reply before the attempt fails.
        max_retries: retries of transient failures (429, 5xx, timeouts).
        retry_delay: seconds before the first retry, doubled for each next one.
        max_retry_delay: longest wait between attempts.
        completion_kwargs: extra request parameters (temperature, max_tokens, ...).
    """

    def __init__(
        self,
        model_id: str,
        *,
        timeout: float = 60,
        max_retries: int = 3,
        retry_delay: float = 0.5,
        max_retry_delay: float = 8.0,
        completion_kwargs: dict[str, Any] | None = None,
    ):
        self.model_id = model_id
        self.timeout = timeout
        self.retry_policy = RetryPolicy(max_retries=max_retries, base_delay=retry_delay, max_delay=max_retry_delay)
        self.completion_kwargs: dict[str, Any] = dict(completion_kwargs or {})
        """Extra parameters sent with every request."""

    # -- what subclasses implement -------------------------------------------

    async def _create(self, request: dict[str, Any], stream: bool) -> Any:
        """Make one call; return the completion, or an async iterable of chunks."""
        raise NotImplementedError

    def _translate(self, exc: BaseException) -> Failure | SmolkernelError | None:
        """Describe ``exc`` as a Failure; ``None`` lets it propagate unchanged."""
        return None

    def _check_ready(self) -> None:
        """Raise a ConfigurationError before any call when the set-up is incomplete."""

    def check(self) -> None:
        """Raise a ConfigurationError now when the provider or its key is missing."""
        self._check_ready()

    def _cost(self, usage: TokenUsage) -> float | None:
        """Dollar cost of ``usage``, when the price is known."""
        return None

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.model_id!r})"

    # -- the shared behaviour ------------------------------------------------

    def _request(self, messages: Sequence[MessageLike], stop: Sequence[str] | None, tools: Sequence[Tool] | None) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model_id, "messages": request_messages(messages), **self.completion_kwargs}
        if stop:
            request["stop"] = list(stop)
        payload_tools = request_tools(tools)
        if payload_tools:
            request["tools"] = payload_tools
        return request

    def _priced(self, usage: TokenUsage | None) -> TokenUsage | None:
        if usage is not None:
            note_usage(self.model_id, usage.input_tokens, usage.output_tokens)
            if usage.cost is None:
                usage.cost = self._cost(usage)
        return usage

    async def agenerate(
        self, messages: Sequence[MessageLike], *, stop: Sequence[str] | None = None, tools: Sequence[Tool] | None = None
    ) -> ChatMessage:
        """Return the model's reply, with token usage (and cost, when known).

        Raises:
            ModelCallError: the call failed after its retries, or the reply was malformed.
            MissingAPIKeyError: no API key is configured for a provider that needs one.
        """
        self._check_ready()
        request = self._request(messages, stop, tools)
        response = await call_with_retries(
            lambda: self._create(request, False), policy=self.retry_policy, translate=self._translate, what=self._describe(),
            key=self.model_id,
        )
        message = message_from_completion(response, stop)
        message.token_usage = self._priced(message.token_usage)
        return message

    async def astream(
        self, messages: Sequence[MessageLike], *, stop: Sequence[str] | None = None, tools: Sequence[Tool] | None = None
    ) -> AsyncIterator[StreamDelta]:
        """Yield the reply as it arrives; the last delta has the tool calls and usage.

        Opening the stream is retried like :meth:`agenerate`; a failure in the
        middle of a stream is raised as ModelCallError at once.
        """
        self._check_ready()
        request = self._request(messages, stop, tools)
        stream = await call_with_retries(
            lambda: self._create(request, True), policy=self.retry_policy, translate=self._translate, what=self._describe(),
            key=self.model_id,
        )
        assembler = StreamAssembler(stop)
        try:
            async for chunk in _translated(stream, self._translate, self._describe()):
                delta = assembler.feed(chunk)
                if delta is not None:
                    yield delta
        finally:
            await _close(stream)
        last = assembler.finish()
        last.token_usage = self._priced(last.token_usage)
        yield last


async def _translated(stream: Any, translate: Callable[[BaseException], Any], what: str) -> AsyncIterator[Any]:
    """Iterate ``stream``, raising its failures as ModelCallError."""
    iterator = stream.__aiter__()
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise model_call_error(classify(exc, translate), what + " (while streaming)") from exc
        yield chunk


async def _close(stream: Any) -> None:
    """Close a stream of any SDK (``aclose`` or ``close``, async or not); best effort."""
    for name in ("aclose", "close"):
        closer = getattr(stream, name, None)
        if closer is None:
            continue
        try:
            result = closer()
            if inspect.isawaitable(result):
                await result
        except Exception:  # the connection may already be gone
            pass
        return
