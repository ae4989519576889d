"""Retries with exponential backoff, and the translation of SDK errors into ours.

Every HTTP backend runs its call through :func:`call_with_retries`: transient
failures (429, 408, 5xx, timeouts, refused connections) are retried after
``base_delay * 2**attempt`` seconds (or the server's ``Retry-After``, capped
at ``max_delay``); the last failure, or any other one, is raised as a
:class:`~smolkernel.exceptions.ModelCallError` saying what failed and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..exceptions import ModelCallError, SmolkernelError

__all__ = [
    "RetryPolicy", "classify", "Failure", "call_with_retries", "failure_from_openai_error", "failure_from_status",
    "transport_failure", "CallGate", "CALL_GATE", "note_usage",
]

T = TypeVar("T")
logger = logging.getLogger("smolkernel.models")

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


@dataclass
class RetryPolicy:
    """How often and how long to retry a failed model call."""

    max_retries: int = 3
    """Retries after the first attempt (0 disables retrying)."""
    base_delay: float = 0.5
    """Seconds before the first retry; doubled for each further one."""
    max_delay: float = 8.0
    """Longest wait between attempts, also for a server's ``Retry-After``."""

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_delay)
        return min(self.base_delay * (2**attempt), self.max_delay)


@dataclass
class Failure:
    """One failed attempt, described in our terms."""

    message: str
    """What went wrong, with the provider's own message when there is one."""
    status_code: int | None = None
    """HTTP status, when there was a response."""
    retryable: bool = False
    """Whether trying again may help (429, 5xx, timeout, connection)."""
    retry_after: float | None = None
    """Seconds the server asked us to wait, from ``Retry-After``."""


Translate = Callable[[BaseException], "Failure | SmolkernelError | None"]


class CallGate(Protocol):
    """What many concurrent runs share around their model calls (``smolkernel.batch.ModelLimiter``).

    When a gate is set in :data:`CALL_GATE`, every attempt of
    :func:`call_with_retries` holds one of its slots, and a 429 pauses the
    gate (so every caller of that model waits out ``Retry-After`` together)
    instead of each caller sleeping on its own.
    """

    rate_limit_retries: int
    """Retries allowed after 429 replies (they do not use up ``max_retries``)."""

    def slot(self, key: str) -> contextlib.AbstractAsyncContextManager[Any]:
        """Wait until a call to ``key`` (a model id) may start; held during the call."""

    def pause(self, key: str, seconds: float) -> None:
        """Hold back every call to ``key`` for ``seconds``."""

    def record(self, key: str, input_tokens: int, output_tokens: int) -> None:
        """Count the tokens a finished call to ``key`` spent."""


CALL_GATE: ContextVar[CallGate | None] = ContextVar("smolkernel_call_gate", default=None)
"""The gate of the current context (set by the batch engine; None: calls go straight out)."""


def note_usage(key: str, input_tokens: int, output_tokens: int) -> None:
    """Tell the current gate, if any, what a call spent."""
    gate = CALL_GATE.get()
    if gate is not None:
        gate.record(key, input_tokens, output_tokens)


async def _attempt_through(gate: CallGate | None, key: str, attempt: Callable[[], Awaitable[T]]) -> T:
    if gate is None:
        return await attempt()
    async with gate.slot(key):
        return await attempt()


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]], *, policy: RetryPolicy, translate: Translate, what: str, key: str | None = None
) -> T:
    """Await ``attempt()`` until it succeeds, retrying transient failures.

    Args:
        attempt: makes one call; called again for each retry.
        policy: how many retries and how long to wait.
        translate: turns an exception into a :class:`Failure`, a smolkernel
            error to raise as is, or ``None`` to let the exception propagate.
        what: names the call in messages, e.g. ``"OpenAIServerModel('gpt-4o') at http://..."``.
        key: the model id the current :data:`CALL_GATE` limits by (default ``what``).

    Raises:
        ModelCallError: the call failed and retrying did not help (or was not allowed).
        ConfigurationError: translate said the set-up is wrong (e.g. a missing key).
    """
    number = 0
    limited = 0
    gate = CALL_GATE.get()
    while True:
        try:
            return await _attempt_through(gate, key or what, attempt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = classify(exc, translate)
            if gate is not None and failure.status_code == 429 and limited < gate.rate_limit_retries:
                # Everyone waits out the provider's Retry-After together, in gate.slot().
                wait = failure.retry_after if failure.retry_after is not None else policy.delay(limited)
                gate.pause(key or what, wait)
                limited += 1
                logger.info("%s was rate limited; every call to it pauses %.2fs", what, wait)
                continue
            if not failure.retryable or number >= policy.max_retries:
                raise model_call_error(failure, what, attempts=number + 1) from exc
            wait = policy.delay(number, failure.retry_after)
            logger.info("%s failed (%s); retry %d/%d in %.2fs", what, failure.message, number + 1, policy.max_retries, wait)
            number += 1
            await asyncio.sleep(wait)


def classify(exc: Exception, translate: Translate) -> Failure:
    """The Failure ``translate`` sees in ``exc``.

    Raises:
        ``exc`` itself when translate does not recognise it, or the smolkernel
        error (e.g. a missing key) that translate returned.
    """
    failure = translate(exc)
    if failure is None:
        failure = transport_failure(exc)
    if failure is None:
        raise exc
    if isinstance(failure, SmolkernelError):
        raise failure from exc
    return failure


# The HTTP stacks a backend may use underneath (huggingface_hub 1.x used httpx,
# 2.x uses httpx2; litellm uses httpx and aiohttp; others use requests).
_HTTP_STACKS = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "aiohttp", "requests", "urllib3", "openai", "litellm", "huggingface_hub"})
_TIMEOUT_NAMES = ("Timeout", "TimedOut")
_TRANSPORT_NAMES = ("Connect", "Connection", "Transport", "Network", "Disconnected", "RemoteProtocol", "ProxyError", "NameResolution")


def transport_failure(exc: BaseException, *, timeout: float | None = None) -> Failure | None:
    """A Failure when ``exc`` (or one of its causes) is a transport failure of any HTTP stack.

    Recognises timeouts and connection errors by class, from the stacks in
    ``_HTTP_STACKS`` (``httpx``, ``httpx2``, ``aiohttp``, ``requests``, ...)
    and from the standard library (``TimeoutError``, ``ConnectionError``,
    ``socket.gaierror``), so a backend whose library changes its HTTP client
    still reports "could not reach ..." rather than a raw traceback.
    Returns ``None`` for anything else.
    """
    for link in _cause_chain(exc):
        kind = _transport_kind(type(link))
        if kind == "timeout":
            after = f" after {timeout:g}s" if timeout else ""
            return Failure(f"the request timed out{after} (no reply from the server)", retryable=True)
        if kind == "transport":
            return Failure(f"could not reach the server: {type(link).__name__}: {link}", retryable=True)
    return None


def _transport_kind(cls: type) -> str | None:
    """``"timeout"``, ``"transport"`` or None for an exception class, by its ancestry."""
    import socket

    if issubclass(cls, TimeoutError):
        return "timeout"
    if issubclass(cls, (ConnectionError, socket.gaierror)):
        return "transport"
    for base in cls.__mro__:
        if base.__module__.partition(".")[0] not in _HTTP_STACKS:
            continue
        if any(word in base.__name__ for word in _TIMEOUT_NAMES):
            return "timeout"
        if any(word in base.__name__ for word in _TRANSPORT_NAMES):
            return "transport"
    return None


def model_call_error(failure: Failure, what: str, *, attempts: int = 1) -> ModelCallError:
    """The ModelCallError for ``failure``, saying how many attempts were made."""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    status = f"HTTP {failure.status_code}: " if failure.status_code is not None else ""
    return ModelCallError(f"{what} failed{tries}: {status}{failure.message}", status_code=failure.status_code, retryable=failure.retryable)


def failure_from_status(status: int, message: str, headers: Any = None) -> Failure:
    """A Failure for an HTTP error response."""
    return Failure(message=message or "(no message)", status_code=status, retryable=status in RETRYABLE_STATUS, retry_after=retry_after_seconds(headers))


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (or ``retry-after-ms``), if present and numeric."""
    if not headers:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return float(millis) / 1000
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):  # an HTTP date: fall back to backoff
        return None


def provider_message(body: Any, fallback: str) -> str:
    """The ``error.message`` of an OpenAI-style error body, else ``fallback``."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return (body.decode(errors="replace") if isinstance(body, bytes) else body).strip()[:500] or fallback
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return fallback


def failure_from_openai_error(exc: BaseException, *, timeout: float | None = None) -> Failure | None:
    """Translate an exception of the ``openai`` SDK (or litellm, whose errors subclass them).

    The whole chain of causes is read, because litellm reports a timeout, a
    refused connection or a reply that is not JSON as an "HTTP 500".
    Returns ``None`` for exceptions that are not call failures (bugs should
    propagate unchanged).
    """
    import openai

    chain = _cause_chain(exc)
    root = chain[-1]
    for link in chain:
        if isinstance(link, openai.APITimeoutError):
            after = f" after {timeout:g}s" if timeout else ""
            return Failure(f"the request timed out{after} (no reply from the server)", retryable=True)
        if isinstance(link, openai.APIConnectionError):
            detail = f" ({type(root).__name__}: {root})" if root is not link else ""
            return Failure(f"could not reach the server: {link}{detail}", retryable=True)
        if isinstance(link, (json.JSONDecodeError, UnicodeDecodeError)):
            return Failure(f"the server sent a malformed reply (invalid JSON: {link})")
    if isinstance(exc, openai.APIResponseValidationError):
        return Failure(f"the server sent a malformed reply: {exc}")
    if isinstance(exc, openai.APIStatusError):
        message = provider_message(getattr(exc, "body", None), str(getattr(exc, "message", exc)))
        return failure_from_status(exc.status_code, message, _headers_with_retry_after(chain))
    if isinstance(exc, openai.APIError):  # litellm's generic APIError carries status_code
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            return failure_from_status(status, str(getattr(exc, "message", exc)))
        return Failure(f"the call failed: {exc}")
    return None


def _headers_with_retry_after(chain: list[BaseException]) -> Any:
    """The first response headers in the chain that carry ``Retry-After``.

    litellm re-raises the SDK's error with a stand-in response whose headers
    are empty; the real ones are on ``litellm_response_headers`` or a cause.
    """
    for link in chain:
        response = getattr(link, "response", None)
        for headers in (getattr(link, "litellm_response_headers", None), getattr(response, "headers", None), getattr(link, "headers", None)):
            if headers and retry_after_seconds(headers) is not None:
                return headers
    return None


def _cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, outermost first."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain and len(chain) < 20:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain
