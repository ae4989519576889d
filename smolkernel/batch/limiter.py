"""ModelLimiter: one gate for every model call of a batch.

Many agents at once can overrun a provider. The limiter caps, per model id,
the calls in flight, the requests per minute and the tokens per minute; and
when the provider answers 429 it pauses every call to that model for the
reply's ``Retry-After``, so the whole batch backs off once instead of each
task retrying on its own. It is set for a batch's tasks through
``smolkernel.models._retry.CALL_GATE``, which every HTTP model backend
consults around each attempt::

    limiter = ModelLimiter(max_concurrent=8, requests_per_minute=500)
    await arun_batch(spec, inputs, limiter=limiter)

One limiter belongs to one event loop (a batch's). On Dask each worker has
its own, so per-minute limits there are per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelLimiter"]

WINDOW = 60.0
"""Seconds of the rate windows."""


@dataclass
class _ModelState:
    semaphore: asyncio.Semaphore | None
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0
    paused_until: float = 0.0


class ModelLimiter:
    """Caps on the model calls of many concurrent runs, per model id.

    Args:
        max_concurrent: calls in flight per model (None: no cap).
        requests_per_minute: calls started per model in any 60 s (None: no cap).
        tokens_per_minute: tokens spent per model in any 60 s (None: no cap);
            a call starts only while the last minute's tokens are under it.
        max_pause: the longest pause a ``Retry-After`` can ask for, in seconds.
        rate_limit_retries: how often one call is tried again after a 429.
    """

    def __init__(
        self,
        *,
        max_concurrent: int | None = None,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        max_pause: float = 60.0,
        rate_limit_retries: int = 10,
    ) -> None:
        for name, value in (("max_concurrent", max_concurrent), ("requests_per_minute", requests_per_minute), ("tokens_per_minute", tokens_per_minute)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no cap), not {value}")
        self.max_concurrent = max_concurrent
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.max_pause = max_pause
        self.rate_limit_retries = rate_limit_retries
        self.pauses = 0
        """How many 429 replies paused the calls."""
        self.in_flight = 0
        """Calls under way now (all models)."""
        self._models: dict[str, _ModelState] = {}

    def options(self) -> dict[str, Any]:
        """The caps as keyword arguments (what a Dask worker's own limiter is made from)."""
        return {
            "max_concurrent": self.max_concurrent, "requests_per_minute": self.requests_per_minute, "tokens_per_minute": self.tokens_per_minute,
            "max_pause": self.max_pause, "rate_limit_retries": self.rate_limit_retries,
        }

    def _state(self, key: str) -> _ModelState:
        state = self._models.get(key)
        if state is None:
            semaphore = asyncio.Semaphore(self.max_concurrent) if self.max_concurrent else None
            state = self._models[key] = _ModelState(semaphore)
        return state

    def pause(self, key: str, seconds: float) -> None:
        """Hold back every call to ``key`` for ``seconds`` (capped at ``max_pause``)."""
        state = self._state(key)
        state.paused_until = max(state.paused_until, time.monotonic() + min(max(seconds, 0.0), self.max_pause))
        self.pauses += 1

    def record(self, key: str, input_tokens: int, output_tokens: int) -> None:
        """Count the tokens of a finished call."""
        if self.tokens_per_minute is None:
            return
        state = self._state(key)
        spent = input_tokens + output_tokens
        state.tokens.append((time.monotonic(), spent))
        state.token_sum += spent

    def _wait_seconds(self, state: _ModelState) -> float:
        """How long until a call may start (0: now)."""
        now = time.monotonic()
        wait = state.paused_until - now
        if self.requests_per_minute is not None:
            while state.requests and state.requests[0] <= now - WINDOW:
                state.requests.popleft()
            if len(state.requests) >= self.requests_per_minute:
                wait = max(wait, state.requests[0] + WINDOW - now)
        if self.tokens_per_minute is not None:
            while state.tokens and state.tokens[0][0] <= now - WINDOW:
                state.token_sum -= state.tokens.popleft()[1]
            if state.token_sum >= self.tokens_per_minute and state.tokens:
                wait = max(wait, state.tokens[0][0] + WINDOW - now)
        return max(wait, 0.0)

    async def _wait_turn(self, state: _ModelState) -> None:
        while True:
            wait = self._wait_seconds(state)
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """Wait until a call to ``key`` may start; the slot is held during the call."""
        state = self._state(key)
        await self._wait_turn(state)
        async with state.semaphore or contextlib.nullcontext():
            await self._wait_turn(state)  # a 429 may have paused everyone meanwhile
            if self.requests_per_minute is not None:
                state.requests.append(time.monotonic())
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1
