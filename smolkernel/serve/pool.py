"""RunPool: at most ``concurrency`` runs at once, a bounded queue behind them.

A small asyncio worker pool with the interface the service needs (``submit``,
``cancel_queued``, ``start``, ``stop`` and its figures), so that another pool
(the batch engine's, Dask's) can replace it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable

from ..exceptions import QueueFull

__all__ = ["RunPool"]


class RunPool:
    """Runs ``execute(run_id)`` for submitted ids, ``concurrency`` at a time.

    Args:
        execute: the coroutine function that runs one run to its end.
        concurrency: runs at once.
        queue_size: ids waiting beyond that; ``submit`` raises QueueFull past it.
    """

    def __init__(self, execute: Callable[[str], Awaitable[None]], *, concurrency: int, queue_size: int):
        if concurrency < 1 or queue_size < 0:
            raise ValueError("concurrency must be at least 1 and queue_size at least 0")
        self.execute = execute
        self.concurrency = concurrency
        self.queue_size = queue_size
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._waiting: dict[str, None] = {}
        self._workers: list[asyncio.Task[None]] = []
        self.running: set[str] = set()
        """Ids executing now."""
        self._reserved = 0
        self._durations: deque[float] = deque(maxlen=50)

    @property
    def queued(self) -> list[str]:
        """Ids waiting, oldest first."""
        return list(self._waiting)

    def has_room(self) -> bool:
        """True when ``submit`` would be accepted."""
        return len(self.running) + len(self._waiting) + self._reserved < self.concurrency + self.queue_size

    def reserve_worker(self) -> bool:
        """Hold a free worker for the next ``submit(..., reserved=True)``; False when none is free.

        The caller may then save its run as running before submitting it: it
        starts at once, without waiting behind others.
        """
        if len(self.running) + len(self._waiting) + self._reserved >= self.concurrency:
            return False
        self._reserved += 1
        return True

    def release_worker(self) -> None:
        """Give back a worker held by ``reserve_worker`` that will not be used."""
        self._reserved -= 1

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the queue's expected drain time."""
        mean = sum(self._durations) / len(self._durations) if self._durations else 1.0
        return max(1, math.ceil(mean * (len(self._waiting) + 1) / self.concurrency))

    def submit(self, run_id: str, *, force: bool = False, reserved: bool = False) -> None:
        """Queue ``run_id``; ``force`` skips the bound (runs taken over after a crash); ``reserved`` uses a held worker.

        Raises:
            QueueFull: the queue is full.
        """
        if reserved:
            self._reserved -= 1
        elif not force and not self.has_room():
            raise QueueFull(f"{len(self.running)} runs are running and {len(self._waiting)} are queued; retry later", self.retry_after())
        self._waiting[run_id] = None
        self._queue.put_nowait(run_id)

    def cancel_queued(self, run_id: str) -> bool:
        """Take ``run_id`` out of the queue; True when it was there."""
        return self._waiting.pop(run_id, False) is None

    def start(self) -> None:
        """Start the workers (inside the running loop)."""
        self._workers = [asyncio.get_running_loop().create_task(self._work()) for _ in range(self.concurrency)]

    async def stop(self) -> None:
        """Stop the workers; runs executing are cancelled, queued ids stay unrun."""
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            run_id = await self._queue.get()
            if run_id not in self._waiting:  # cancelled while queued
                continue
            del self._waiting[run_id]
            self.running.add(run_id)
            began = loop.time()
            try:
                await self.execute(run_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # execute records its own failures; a bug must not kill the worker
                import logging

                logging.getLogger(__name__).exception("run %s failed in the pool", run_id)
            finally:
                self.running.discard(run_id)
                self._durations.append(loop.time() - began)
