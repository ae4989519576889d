"""Class 5: the whole sandbox shares one memory cap (tmpfs included), inotify is capped, runaway code is killed."""

from __future__ import annotations

import asyncio
import ctypes
import os
import time

import pytest
from needs import needs_command

from smolkernel.executors._process import still_busy
from smolkernel.executors.limits import SiblingCgroup
from smolkernel.executors.sandbox import SandboxExecutor

pytestmark = [pytest.mark.sandbox, needs_command("bwrap", "bubblewrap")]


def _cgroup_available() -> bool:
    group = SiblingCgroup.create(None, 64)
    if group is None or "memory" not in group.paths and "unified" not in group.paths:
        return False
    group.kill_and_remove()
    return True


needs_memory_cgroup = pytest.mark.skipif(not _cgroup_available(), reason="a memory cgroup needs a root host and a writable cgroup fs")

THREE_HOGS = """
import subprocess, sys
hog = "b = bytearray(450 * 1024 * 1024)\\nfor i in range(0, len(b), 4096): b[i] = 1\\nimport time; time.sleep(20)"
procs = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(3)]
import time
deadline = time.time() + 15
while time.time() < deadline and all(p.poll() is None for p in procs):
    time.sleep(0.1)
print("exit codes", [p.poll() for p in procs])
for p in procs:
    p.kill()
"""


@needs_memory_cgroup
async def test_processes_together_cannot_pass_the_memory_limit() -> None:
    executor = SandboxExecutor(timeout=40, memory_limit_mb=1024)
    try:
        await asyncio.wait_for(executor.start(), 60)
        started = time.monotonic()
        result = await asyncio.wait_for(executor.run(THREE_HOGS), 60)
        assert "MemoryLimit" in (result.error or ""), result
        assert "-9" in result.logs and time.monotonic() - started < 20
    finally:
        await executor.close()


@needs_memory_cgroup
async def test_tmpfs_files_count_against_the_memory_limit() -> None:
    executor = SandboxExecutor(timeout=40, memory_limit_mb=1024, tmp_mb=2048)
    try:
        await asyncio.wait_for(executor.start(), 60)
        started = time.monotonic()
        code = "chunk = b'x' * (1 << 20)\nwith open('/tmp/fill', 'wb') as f:\n    for _ in range(1300):\n        f.write(chunk)\n'wrote all'"
        result = await asyncio.wait_for(executor.run(code), 60)
        assert result.output != "'wrote all'" and "MemoryLimit" in (result.error or ""), result
        assert time.monotonic() - started < 15
        assert (await asyncio.wait_for(executor.run("import os\nos.path.exists('/tmp/fill')"), 30)).output == "False"
    finally:
        await executor.close()


async def test_tmpfs_sizes_hold_without_a_cgroup() -> None:
    executor = SandboxExecutor(timeout=40, tmp_mb=16, shm_mb=8)
    try:
        await asyncio.wait_for(executor.start(), 60)
        code = ("import errno\nout = {}\nfor path in ('/tmp/f', '/dev/shm/f'):\n    n = 0\n    try:\n"
                "        with open(path, 'wb') as f:\n            for _ in range(64):\n                f.write(b'x' * (1 << 20)); f.flush(); n += 1\n"
                "    except OSError as e:\n        out[path] = (n, e.errno == errno.ENOSPC)\nout")
        result = await asyncio.wait_for(executor.run(code), 60)
        written = eval(result.output)
        assert written["/tmp/f"][1] and written["/tmp/f"][0] <= 16
        assert written["/dev/shm/f"][1] and written["/dev/shm/f"][0] <= 8
    finally:
        await executor.close()


INOTIFY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fds = []
for _ in range(64):
    fd = libc.inotify_init1(0)
    if fd < 0:
        break
    fds.append(fd)
len(fds)
"""


async def test_inotify_instances_are_capped_inside() -> None:
    executor = SandboxExecutor(timeout=40, max_inotify=8)
    try:
        await asyncio.wait_for(executor.start(), 60)
        result = await asyncio.wait_for(executor.run(INOTIFY), 30)
        assert int(result.output) <= 8, result
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(0)
        assert fd >= 0  # the host still can
        os.close(fd)
    finally:
        await executor.close()


async def test_code_that_ignores_interrupts_is_killed_after_the_grace() -> None:
    executor = SandboxExecutor(timeout=1, interrupt_grace=1)
    try:
        await asyncio.wait_for(executor.start(), 60)
        code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    try:\n        pass\n    except BaseException:\n        pass"
        result = await asyncio.wait_for(executor.run(code), 60)
        assert "did not stop" in result.error and result.workspace_lost
        executor.timeout = 20
        assert (await asyncio.wait_for(executor.run("1 + 1"), 30)).output == "2"
    finally:
        await executor.close()


async def test_threads_left_spinning_after_a_timeout_get_a_fresh_kernel() -> None:
    executor = SandboxExecutor(timeout=1.5, interrupt_grace=2)
    try:
        await asyncio.wait_for(executor.start(), 60)
        code = "import threading, time\ndef spin():\n    while True:\n        pass\nthreading.Thread(target=spin, daemon=True).start()\ntime.sleep(60)"
        result = await asyncio.wait_for(executor.run(code), 60)
        assert "kept running" in result.error and result.workspace_lost, result.error
        executor.timeout = 20
        assert (await asyncio.wait_for(executor.run("'spin' in globals()"), 30)).output == "False"
        assert not still_busy(executor.pid)  # the spinning thread died with the old kernel
    finally:
        await executor.close()


FORGE_REPLY = """
import time
k = get_ipython().kernel
parent = k.get_parent("shell")
ident = k._get_shell_context_var(k._shell_parent_ident)
k.session.send(k.shell_stream.socket, "execute_reply", {"status": "ok", "execution_count": 1, "user_expressions": {}}, parent=parent, ident=ident)
k.session.send(k.iopub_socket, "status", {"execution_state": "idle"}, parent=parent)
time.sleep(2)
print("finished for real")
"""


async def test_a_forged_execute_reply_does_not_end_the_run() -> None:
    executor = SandboxExecutor(timeout=20)
    try:
        await asyncio.wait_for(executor.start(), 60)
        started = time.monotonic()
        result = await asyncio.wait_for(executor.run(FORGE_REPLY), 30)
        assert time.monotonic() - started >= 2 and "finished for real" in result.logs, result
        following = await asyncio.wait_for(executor.run("'clean'"), 30)
        assert following.output == "'clean'" and following.error is None
    finally:
        await executor.close()
