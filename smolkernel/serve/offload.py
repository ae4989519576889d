"""QuickCalls: run a blocking function in the event loop once it has proven quick.

Every run builds its agent with the user's factory and closes it afterwards.
Those may block for seconds (an agent spec that starts a sandbox), so they
start out in a worker thread; but for most agents they take well under a
millisecond, and then the thread hop (executor queue, GIL hand-over, waking
the loop) costs more than the call. A function whose last few calls were all
quick is called in the loop; one slow call sends it back to threads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["QuickCalls"]

T = TypeVar("T")


class QuickCalls:
    """Calls blocking functions inline once each has proven quick, else in a worker thread.

    Args:
        limit: seconds under which a call counts as quick.
        proof: quick calls in a row (in threads) before a function runs inline.
    """

    def __init__(self, limit: float = 0.002, proof: int = 5):
        self.limit = limit
        self.proof = proof
        self._quick: dict[str, int] = {}

    def inline(self, key: str) -> bool:
        """True when the calls named ``key`` run in the event loop now."""
        return self._quick.get(key, 0) >= self.proof

    async def __call__(self, key: str, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)``, inline or in a worker thread; ``key`` names the kind of call (``"build"``)."""
        if self.inline(key):
            began = time.perf_counter()
            try:
                return function(*args)
            finally:
                self._note(key, time.perf_counter() - began)
        result, seconds = await asyncio.to_thread(_timed, function, *args)
        self._note(key, seconds)
        return result

    def _note(self, key: str, seconds: float) -> None:
        self._quick[key] = self._quick.get(key, 0) + 1 if seconds < self.limit else 0


def _timed(function: Callable[..., T], *args: Any) -> tuple[T, float]:
    began = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - began
