"""The sibling's process limit, also as root (where RLIMIT_NPROC does nothing and a pids cgroup caps it)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from smolkernel.executors import KernelExecutor
from smolkernel.executors.limits import PidsCgroup

SPAWN_THREADS = """
import threading
gate = threading.Event()
started = 0
try:
    for _ in range(300):
        threading.Thread(target=gate.wait, daemon=True).start()
        started += 1
except RuntimeError:
    pass
gate.set()
started
"""


async def test_thread_and_process_bombs_hit_the_limit() -> None:
    executor = KernelExecutor(timeout=30, max_processes=40)
    try:
        await asyncio.wait_for(executor.start(), 60)
        result = await asyncio.wait_for(executor.run(SPAWN_THREADS), 40)
        assert result.error is None, result.error
        assert 0 < int(result.output) < 40
        assert (await executor.run("1 + 1")).output == "2"  # the kernel survived the bomb
    finally:
        await executor.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="the pids cgroup is made only when the host runs as root")
async def test_root_host_uses_a_pids_cgroup_that_close_removes() -> None:
    made = PidsCgroup.create(10)
    assert made is not None, "cgroup file system not writable here"
    made.kill_and_remove()
    executor = KernelExecutor(timeout=30)
    try:
        await asyncio.wait_for(executor.start(), 60)
        groups = [g for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup") if os.path.isdir(root)
                  for g in os.listdir(root) if g.startswith(f"smolkernel-{os.getpid()}-")]
        assert len(groups) == 1
        # a daemonized process leaves the kernel's process tree; the cgroup still finds it
        escaped = await executor.run("import subprocess\nint(subprocess.run(['sh', '-c', 'setsid sleep 300 >/dev/null 2>&1 & echo $!'], capture_output=True, text=True).stdout)")
        pid = int(escaped.output)
        assert os.path.exists(f"/proc/{pid}")
    finally:
        await executor.close()
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
    assert not any(os.path.exists(os.path.join(root, groups[0])) for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"))
