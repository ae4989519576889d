"""Class 4: what the kernel sends is capped where it enters the host, and every kept field is bounded."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import zmq

from smolkernel.executors import KernelExecutor
from smolkernel.executors._bounds import (
    MAX_DISPLAYS_CHARS, MAX_FIELD_CHARS, MAX_MESSAGE_BYTES, bounded_context,
)
from smolkernel.executors.bridge import MAX_ANSWER_CHARS

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_bounded_context_drops_an_oversized_message_unread(tmp_path) -> None:
    address = f"ipc://{tmp_path}/s"
    receiver_context = bounded_context()
    sender = zmq.Context()
    pull = receiver_context.socket(zmq.PULL)
    pull.bind(address)
    push = sender.socket(zmq.PUSH)
    push.connect(address)
    try:
        push.send(b"x" * (MAX_MESSAGE_BYTES + 1))
        assert await pull.poll(500) == 0  # the connection was dropped before the body was read
        push.send(b"small")  # ZMQ reconnects; later messages arrive
        assert await pull.poll(3000) and await pull.recv() == b"small"
    finally:
        push.close(0)
        pull.close(0)
        sender.term()
        receiver_context.destroy(0)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def executor() -> AsyncIterator[KernelExecutor]:
    executor = KernelExecutor(timeout=60)
    try:
        await asyncio.wait_for(executor.start(), 60)
        yield executor
    finally:
        await executor.close()


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def test_huge_prints_do_not_grow_the_host(executor: KernelExecutor) -> None:
    before = _rss_mb()
    for _ in range(3):
        result = await asyncio.wait_for(executor.run("print('x' * 100_000_000)\n'after'"), 60)
        assert result.output == "'after'" and len(result.logs) < 2 * executor.max_output_chars
    assert _rss_mb() - before < 200, "host RSS grew by more than 200 MB for 300 MB printed"


async def test_last_value_error_and_displays_are_truncated(executor: KernelExecutor) -> None:
    value = await asyncio.wait_for(executor.run("'v' * 3_000_000"), 60)
    assert len(value.output) <= MAX_FIELD_CHARS + 100 and "characters omitted" in value.output
    error = await asyncio.wait_for(executor.run("raise ValueError('e' * 3_000_000)"), 60)
    assert len(error.error) <= MAX_FIELD_CHARS + 100 and "ValueError" in error.error
    honest = await asyncio.wait_for(executor.run("from IPython.display import display, HTML\ndisplay(HTML('d' * 3_000_000))"), 60)
    assert "omitted in the kernel" in honest.displays[0]["data"]["text/plain"]
    # hostile code bypasses the kernel-side cut and publishes raw messages: the host's own caps hold
    raw = ("k = get_ipython().kernel\nfor i in range(12):\n"
           "    k.session.send(k.iopub_socket, 'display_data', {'data': {'text/html': 'd' * 3_000_000}, 'metadata': {}},"
           " parent=k.get_parent('shell'))")
    shown = await asyncio.wait_for(executor.run(raw), 60)
    kept = sum(len(v) for d in shown.displays for v in d["data"].values())
    notes = [d for d in shown.displays if "omitted" in d["data"].get("text/plain", "")]
    assert 0 < kept <= MAX_DISPLAYS_CHARS and notes, (kept, len(shown.displays))


async def test_an_oversized_final_answer_is_refused_with_a_clear_error(executor: KernelExecutor) -> None:
    result = await asyncio.wait_for(executor.run(f"final_answer('a' * {MAX_ANSWER_CHARS + 10})"), 60)
    assert not result.is_final_answer and "final_answer too large" in result.error


async def test_a_deeply_nested_final_answer_is_refused(executor: KernelExecutor) -> None:
    result = await asyncio.wait_for(executor.run("x = []\nfor _ in range(1000):\n    x = [x]\nfinal_answer(x)"), 60)
    assert not result.is_final_answer and "nested" in result.error
    forged = ("import sys\nb = sys.modules['_smolkernel_bridge']\n"
              "b._ask_host(b.MARKER + '{\"t\": \"final_answer\", \"a\": [' + '[' * 900 + ']' * 900 + ']}')")
    result = await asyncio.wait_for(executor.run(forged), 60)
    assert "nested deeper" in result.output and executor.bridge.final_answer is None


async def test_a_flood_sent_while_the_host_is_idle_is_bounded(executor: KernelExecutor) -> None:
    code = ("import threading, sys, time\n"
            "def flood():\n    for _ in range(40):\n        sys.stdout.write('z' * 5_000_000); sys.stdout.flush()\n"
            "threading.Thread(target=flood, daemon=True).start()")
    before = _rss_mb()
    await asyncio.wait_for(executor.run(code), 60)
    time.sleep(3)  # the host does not read while it is idle: ZMQ may queue only a few messages
    assert _rss_mb() - before < 100
    result = await asyncio.wait_for(executor.run("'next'"), 60)
    assert result.output == "'next'" and len(result.logs) < 2 * executor.max_output_chars
    assert os.getpid() != executor.pid


async def test_the_memory_window_bounds_the_displays_it_keeps() -> None:
    from smolkernel.agents.result import RunResult
    from smolkernel.memory import MAX_WINDOW_DISPLAY_CHARS, ActionStep, AgentMemory

    memory = AgentMemory(memory_size=5)
    for run in range(5):
        steps = [ActionStep(step_number=i, displays=[{"data": {"text/html": "d" * 3_000_000}, "metadata": {}}]) for i in range(4)]
        memory.record(RunResult(task=f"task {run}", output=run, steps=steps, success=True))
    kept = sum(len(v) for i in memory.interactions for s in i.steps for d in s.displays for v in d["data"].values())
    assert kept <= MAX_WINDOW_DISPLAY_CHARS
    newest = memory.interactions[-1].steps[-1].displays[0]["data"]
    assert "text/html" in newest  # the newest displays are the ones kept
