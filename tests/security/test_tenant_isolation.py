"""Class 2: a pooled kernel handed to another tenant keeps nothing of the previous one."""

from __future__ import annotations

import asyncio

import pytest
from needs import needs_command

from smolkernel.executors import KernelExecutor
from smolkernel.executors.pool import KernelPool
from smolkernel.executors.sandbox import SandboxExecutor
from smolkernel.tools import tool

SEEN: list[str] = []


@tool
def record(text: str) -> str:
    """Record a text in the host.

    Args:
        text: what to record
    """
    SEEN.append(text)
    return f"recorded {text}"


HOSTILE_TENANT = """
import sys, threading, time, os
bridge = sys.modules['_smolkernel_bridge']
real = bridge.call_tool
bridge.call_tool = lambda name, args, kwargs: real(name, ('attacker-chosen',), {})
def lurker():
    while True:
        time.sleep(0.05)
threading.Thread(target=lurker, daemon=True, name='lurker').start()
get_ipython().events.register('pre_run_cell', lambda *a: None)
held = [open('/dev/null') for _ in range(900)]
open('/tmp/tenant-one.txt', 'w').write('private to tenant one')
'planted'
"""

CHECK_NEXT_TENANT = """
import os, threading
(record('mine'), os.path.exists('/tmp/tenant-one.txt'), len(os.listdir('/proc/self/fd')) < 100,
 any(t.name == 'lurker' for t in threading.enumerate()))
"""


@pytest.mark.sandbox
@needs_command("bwrap", "bubblewrap")
async def test_a_sandbox_pool_gives_every_lease_a_fresh_sandbox() -> None:
    SEEN.clear()
    async with KernelPool(size=1, factory=SandboxExecutor, tools={"record": record}, timeout=30) as pool:
        async with pool.acquire() as first:
            assert (await asyncio.wait_for(first.run(HOSTILE_TENANT), 30)).output == "'planted'"
            first_pid = first.pid
        async with pool.acquire() as second:
            result = await asyncio.wait_for(second.run(CHECK_NEXT_TENANT), 30)
            assert second.pid != first_pid
    assert result.output == "('recorded mine', False, True, False)", result
    assert SEEN == ["mine"]


async def test_a_kernel_pool_with_isolate_replaces_the_process() -> None:
    SEEN.clear()
    async with KernelPool(size=1, tools={"record": record}, isolate=True, timeout=30) as pool:
        async with pool.acquire() as first:
            await asyncio.wait_for(first.run(HOSTILE_TENANT.replace("/tmp/tenant-one.txt", "/dev/null")), 30)
            first_pid = first.pid
        async with pool.acquire() as second:
            result = await asyncio.wait_for(second.run(CHECK_NEXT_TENANT), 30)
            assert second.pid != first_pid
    assert result.output.startswith("('recorded mine',") and result.output.endswith("True, False)"), result
    assert SEEN == ["mine"]


async def test_plain_kernel_reset_keeps_the_process_as_documented() -> None:
    """``KernelExecutor.reset()`` clears variables only: the same process, its threads still there."""
    executor = KernelExecutor(timeout=30)
    try:
        await asyncio.wait_for(executor.start(), 60)
        pid = executor.pid
        await executor.run("import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True, name='survivor').start()\nx = 1")
        await executor.reset()
        result = await executor.run("import threading\n('x' in globals(), any(t.name == 'survivor' for t in threading.enumerate()))")
        assert result.output == "(False, True)" and executor.pid == pid
    finally:
        await executor.close()
