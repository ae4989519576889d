"""Class 7: the ``kernel`` sibling cannot read the host's memory nor signal it (cheap guards, not a boundary)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import platform
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from smolkernel.executors import KernelExecutor

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64") or not os.path.exists("/proc/self"),
                       reason="the seccomp guard is built for Linux on x86-64 and aarch64"),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def executor() -> AsyncIterator[KernelExecutor]:
    executor = KernelExecutor(timeout=30)
    try:
        await asyncio.wait_for(executor.start(), 60)
        yield executor
    finally:
        await executor.close()


async def test_the_host_is_not_dumpable_once_it_started_a_sibling(executor: KernelExecutor) -> None:
    pr_get_dumpable = 3
    assert ctypes.CDLL(None).prctl(pr_get_dumpable, 0, 0, 0, 0) == 0


async def test_the_sibling_cannot_read_the_host_memory(executor: KernelExecutor) -> None:
    code = (f"out = []\nfor path in ('/proc/{os.getpid()}/mem',):\n"
            "    try:\n        open(path, 'rb').read(16); out.append('READ')\n"
            "    except OSError as e:\n        out.append(type(e).__name__)\nout")
    result = await asyncio.wait_for(executor.run(code), 30)
    assert "READ" not in result.output and "PermissionError" in result.output, result


async def test_the_sibling_cannot_signal_or_trace_the_host(executor: KernelExecutor) -> None:
    host = os.getpid()
    code = (
        "import os, signal, ctypes\nout = []\n"
        f"for pid in ({host}, -os.getpgid({host}), -1):\n"
        "    try:\n        os.kill(pid, signal.SIGSTOP); out.append('SENT')\n"
        "    except OSError as e:\n        out.append(e.errno)\n"
        f"out.append(ctypes.CDLL(None, use_errno=True).ptrace(16, {host}, 0, 0))\n"  # PTRACE_ATTACH
        "os.kill(os.getpid(), 0)\n"
        "import subprocess\nchild = subprocess.Popen(['sleep', '30'])\nchild.kill(); out.append(child.wait())\nout"
    )
    result = await asyncio.wait_for(executor.run(code), 30)
    assert result.output == "[1, 1, 1, -1, -9]", result  # EPERM three times; its own children still obey it
    with open(f"/proc/{host}/stat") as stat:
        assert stat.read().rsplit(")", 1)[1].split()[0] != "T"  # the host was never stopped
