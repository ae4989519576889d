"""Class 6: the tool bridge under abuse: threads, caught final answers, abandoned tool calls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from smolkernel.executors import KernelExecutor
from smolkernel.executors.bridge import MAX_ABANDONED_CALLS
from smolkernel.tools import tool

pytestmark = pytest.mark.asyncio(loop_scope="module")

RELEASE = threading.Event()


@tool
def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number
    """
    return 2 * x


@tool
def stuck(x: int) -> int:
    """A tool that blocks until the test releases it.

    Args:
        x: anything
    """
    RELEASE.wait(30)
    return x


CANCELLED: list[bool] = []


@tool
async def slow_async(x: int) -> int:
    """An async tool that takes long.

    Args:
        x: anything
    """
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        CANCELLED.append(True)
        raise
    return x


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def executor() -> AsyncIterator[KernelExecutor]:
    executor = KernelExecutor(timeout=30)
    try:
        await asyncio.wait_for(executor.start(), 60)
        await executor.send_tools({"double": double, "stuck": stuck, "slow_async": slow_async})
        yield executor
    finally:
        RELEASE.set()
        await executor.close()


THREADS = """
import threading
results = {}
def work(n):
    results[n] = [double(n * 10 + i) for i in range(5)]
threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
sorted(results.items())
"""


async def test_tool_calls_from_four_threads_all_get_their_own_answer(executor: KernelExecutor) -> None:
    pid = executor.pid
    result = await asyncio.wait_for(executor.run(THREADS), 60)
    expected = sorted((n, [2 * (n * 10 + i) for i in range(5)]) for n in range(4))
    assert result.error is None and eval(result.output) == expected, result
    assert executor.pid == pid and executor.is_alive()


async def test_an_error_raised_after_a_caught_final_answer_is_reported_and_the_answer_stands(executor: KernelExecutor) -> None:
    code = "try:\n    final_answer(42)\nexcept BaseException:\n    raise ValueError('raised after the answer')"
    result = await asyncio.wait_for(executor.run(code), 30)
    assert result.is_final_answer and result.output == 42 and result.error is None
    assert "after final_answer" in result.logs and "raised after the answer" in result.logs


async def test_abandoned_tool_calls_are_bounded_and_reported(executor: KernelExecutor) -> None:
    RELEASE.clear()
    executor.timeout = 0.5
    try:
        for _ in range(MAX_ABANDONED_CALLS):
            result = await asyncio.wait_for(executor.run("stuck(1)"), 30)
            assert "timed out" in result.error and "still running in the host" in result.error and "stuck" in result.error
        assert len(executor.bridge.abandoned_calls()) == MAX_ABANDONED_CALLS
        refused = await asyncio.wait_for(executor.run("double(1)"), 30)
        assert "abandoned after timeouts are still running" in refused.error
    finally:
        executor.timeout = 30
        RELEASE.set()
    for _ in range(50):
        if not executor.bridge.abandoned_calls():
            break
        await asyncio.sleep(0.05)
    assert (await asyncio.wait_for(executor.run("double(4)"), 30)).output == "8"


async def test_an_async_tool_is_cancelled_when_its_execution_times_out(executor: KernelExecutor) -> None:
    executor.timeout = 0.5
    try:
        result = await asyncio.wait_for(executor.run("slow_async(1)"), 30)
    finally:
        executor.timeout = 30
    assert "timed out" in result.error and CANCELLED == [True] and not executor.bridge.abandoned_calls()
