"""``KernelPool``: N sibling kernels kept warm, handed out clean.

Starting a kernel costs about half a second; clearing one (``%reset -f`` and
the tools re-sent) costs a few milliseconds. A pool therefore starts its
kernels once and resets each one when it comes back::

    pool = KernelPool(size=4, tools={"search": search})
    async with pool.acquire() as executor:       # a started KernelExecutor
        await executor.run("x = search('cats')")
    await pool.close()

A kernel that died or cannot be reset is replaced by a fresh one.

Tenants. What a returned kernel keeps depends on its ``reset()``:

* ``SandboxExecutor`` (``fresh_on_reset``): every lease gets a fresh sandbox:
  new process, new ``/tmp``, new cgroup. Nothing a previous lease did (threads,
  patched modules, hooks, files, descriptors, inotify instances) survives;
  safe for untrusted tenants. Each return costs a sandbox start.
* ``KernelExecutor``: ``reset()`` clears variables and imports in place;
  threads, files and patched modules survive. Fine for one user's tasks;
  pass ``isolate=True`` to replace the process on every return instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from .kernel import KernelExecutor

__all__ = ["KernelPool"]


class KernelPool:
    """Keep ``size`` started executors; ``acquire()`` lends one, reset on return.

    Args:
        size: how many kernels to keep.
        tools: the tools every lent executor has.
        factory: makes one executor (default: ``KernelExecutor(**options)``;
            pass ``SandboxExecutor`` for sandboxed kernels).
        isolate: replace the process on every return (``restart()``) instead
            of ``reset()``; a ``SandboxExecutor``'s reset already does.
        **options: passed to the factory.
    """

    def __init__(self, size: int = 2, *, tools: Mapping[str, Any] | None = None,
                 factory: Callable[..., KernelExecutor] = KernelExecutor, isolate: bool = False, **options: Any) -> None:
        if size < 1:
            raise ValueError("a KernelPool needs size >= 1")
        self.isolate = isolate
        self.size = size
        self.tools = dict(tools or {})
        self._factory = factory
        self._options = options
        self._idle: asyncio.Queue[KernelExecutor] = asyncio.Queue()
        self._all: set[KernelExecutor] = set()
        self._started = False
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Start every kernel of the pool, concurrently (idempotent)."""
        async with self._start_lock:
            if self._started:
                return
            executors = await asyncio.gather(*(self._new() for _ in range(self.size)))
            for executor in executors:
                self._idle.put_nowait(executor)
            self._started = True

    async def _new(self) -> KernelExecutor:
        executor = self._factory(**self._options)
        self._all.add(executor)
        try:
            await executor.start()
            await executor.send_tools(self.tools)
        except BaseException:
            self._all.discard(executor)
            await executor.close()
            raise
        return executor

    @property
    def idle(self) -> int:
        """How many kernels are waiting to be lent."""
        return self._idle.qsize()

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[KernelExecutor]:
        """Lend a started executor with an empty workspace; waits while all are lent."""
        await self.start()
        executor = await self._idle.get()
        try:
            yield executor
        finally:
            await self._give_back(executor)

    async def _give_back(self, executor: KernelExecutor) -> None:
        """Reset the executor (or replace it when that fails) and make it available again."""
        try:
            if not executor.is_alive():
                raise RuntimeError("the kernel died while it was lent")
            lent_tools = executor.bridge.tools
            if set(lent_tools) != {"final_answer", *self.tools} or any(lent_tools[k] is not v for k, v in self.tools.items()):
                await executor.send_tools(self.tools)
            if self.isolate and not getattr(executor, "fresh_on_reset", False):
                await executor.restart()
            else:
                await executor.reset()
        except Exception:
            self._all.discard(executor)
            await executor.close()
            if not self._started:  # closed meanwhile
                return
            executor = await self._new()
        if self._started:
            self._idle.put_nowait(executor)
        else:
            await executor.close()

    async def close(self) -> None:
        """Stop every kernel, lent or idle."""
        self._started = False
        executors, self._all = list(self._all), set()
        while not self._idle.empty():
            self._idle.get_nowait()
        await asyncio.gather(*(executor.close() for executor in executors), return_exceptions=True)

    async def __aenter__(self) -> KernelPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
