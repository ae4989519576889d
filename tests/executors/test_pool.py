"""KernelPool: warm kernels handed out with an empty workspace."""

from __future__ import annotations

import asyncio
import os

import pytest

from smolkernel.executors.pool import KernelPool
from smolkernel.tools import tool


@tool
def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number
    """
    return 2 * x


async def test_lent_kernels_are_reset_and_keep_their_tools() -> None:
    async with KernelPool(size=1, tools={"double": double}, timeout=20) as pool:
        async with pool.acquire() as executor:
            await executor.run("leftover = 1")
            first_pid = executor.pid
        async with pool.acquire() as executor:
            result = await executor.run("'leftover' in globals(), double(4)")
            # the same process (a reset, not a new kernel), with the workspace cleared and tools kept
            assert executor.pid == first_pid and result.output == "(False, 8)"


async def test_parallel_acquire_gives_distinct_kernels() -> None:
    async with KernelPool(size=2, timeout=20) as pool:
        async def use() -> int:
            async with pool.acquire() as executor:
                await executor.run("import time; time.sleep(0.2)")
                return executor.pid

        pids = await asyncio.wait_for(asyncio.gather(use(), use()), 30)
        assert len(set(pids)) == 2 and pool.idle == 2


async def test_dead_kernel_is_replaced_on_return() -> None:
    async with KernelPool(size=1, timeout=20) as pool:
        async with pool.acquire() as executor:
            old = executor
            os.kill(executor.pid, 9)
            await asyncio.sleep(0.2)
        async with pool.acquire() as executor:
            assert executor is not old and (await executor.run("1 + 1")).output == "2"


async def test_close_stops_every_kernel() -> None:
    pool = KernelPool(size=2, timeout=20)
    await pool.start()
    async with pool.acquire() as executor:
        pid = executor.pid
    await pool.close()
    await asyncio.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}/status") or "zombie" in open(f"/proc/{pid}/status").read()


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        KernelPool(size=0)
