"""Run coroutines from synchronous code, also inside a running event loop.

Jupyter runs cells inside an asyncio loop, so ``asyncio.run`` fails there.
Every synchronous call therefore runs its coroutine on one private loop in a
daemon worker thread, and the caller blocks until it finishes;
``KeyboardInterrupt`` in the caller cancels the coroutine. Using the same loop
for every call (rather than ``asyncio.run`` when no loop is running) keeps
loop-bound clients, such as HTTP connection pools, valid between calls.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run_sync", "iterate_sync", "within"]


class _LoopThread:
    """A daemon thread that owns an event loop, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="smolkernel-loop", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop


_worker = _LoopThread()


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion and return its result.

    Works with or without a running event loop in the calling thread.

    Raises:
        Whatever the awaitable raises; ``KeyboardInterrupt`` cancels it.
    """
    loop = _worker.loop
    if _on_loop_thread(loop):
        raise RuntimeError(
            "run_sync() was called from smolkernel's own event-loop thread, where blocking would deadlock; "
            "await the coroutine instead, or call from another thread"
        )
    future = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), loop)
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()
        raise


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def iterate_sync(aiterator: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from synchronous code (loop or no loop)."""
    loop = _worker.loop
    try:
        while True:
            future = asyncio.run_coroutine_threadsafe(_anext(aiterator), loop)
            try:
                done, item = future.result()
            except KeyboardInterrupt:
                future.cancel()
                raise
            if done:
                return
            yield item
    finally:
        closer = getattr(aiterator, "aclose", None)
        if closer is not None:
            try:
                asyncio.run_coroutine_threadsafe(closer(), loop).result(timeout=5)
            except Exception:  # closing is best effort
                pass


async def _anext(aiterator: AsyncIterator[Any]) -> tuple[bool, Any]:
    try:
        return False, await aiterator.__anext__()
    except StopAsyncIteration:
        return True, None


if sys.version_info >= (3, 11):

    async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
        """``await awaitable``, cancelled after ``seconds`` (None: no limit).

        Like ``asyncio.wait_for``, without the task ``wait_for`` wraps a
        coroutine in on Python 3.11 (a cost paid on every model call and step).

        Raises:
            asyncio.TimeoutError: ``seconds`` passed first.
        """
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
        """``await awaitable``, cancelled after ``seconds`` (None: no limit)."""
        return await asyncio.wait_for(awaitable, seconds)
