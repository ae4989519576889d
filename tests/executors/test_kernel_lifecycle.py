"""KernelExecutor lifecycle: processes end with close() and with the host; hung kernels are replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from smolkernel.executors import resolve_executor
from smolkernel.executors.kernel import KernelExecutor
from smolkernel.executors._process import descendants


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_close_leaves_no_process() -> None:
    executor = KernelExecutor(timeout=20)
    await asyncio.wait_for(executor.start(), 60)
    result = await executor.run("import subprocess\nchild = subprocess.Popen(['sleep', '60'])\nchild.pid")
    kernel_pid, child_pid = executor.pid, int(result.output)
    runtime = executor.log_path.parent
    assert _alive(kernel_pid) and _alive(child_pid)
    await asyncio.wait_for(executor.close(), 20)
    await asyncio.sleep(0.1)
    assert not _alive(kernel_pid) and not _alive(child_pid)
    assert not runtime.exists()


async def test_executor_can_start_again_after_close() -> None:
    async with KernelExecutor(timeout=20) as executor:
        await executor.run("x = 1")
    async with executor:
        assert (await executor.run("1 + 1")).output == "2"


async def test_registry_name_kernel() -> None:
    executor = resolve_executor("kernel", timeout=5)
    assert isinstance(executor, KernelExecutor) and executor.timeout == 5


async def test_hung_kernel_is_restarted_after_the_grace_period() -> None:
    async with KernelExecutor(timeout=1, interrupt_grace=0.5) as executor:
        await executor.run("x = 1")
        started = time.monotonic()
        # a loop in C never checks for KeyboardInterrupt: the interrupt cannot stop it
        result = await asyncio.wait_for(executor.run("sum(range(10**13))"), 20)
        assert time.monotonic() - started < 5
        assert "timed out after 1 s" in result.error and "restarted" in result.error and result.workspace_lost
        assert (await executor.run("2 * 21")).output == "42"


async def test_sync_tools_run_on_one_thread_so_sqlite_works() -> None:
    import sqlite3

    from smolkernel.tools import Tool

    class Database(Tool):
        name = "sql"
        description = "Run SQL on the host's database."
        inputs = {"query": {"type": "string", "description": "the statement"}}
        output_type = "array"

        def setup(self) -> None:
            self.connection = sqlite3.connect(":memory:")  # bound to the creating thread

        def forward(self, query: str) -> list:
            rows = self.connection.execute(query).fetchall()
            self.connection.commit()
            return rows

    async with KernelExecutor(timeout=20) as executor:
        await executor.send_tools({"sql": Database()})
        await executor.run("sql('create table t (v int)')")
        await executor.run("for i in range(3): sql(f'insert into t values ({i})')")
        result = await executor.run("sql('select sum(v) from t')")
        assert result.output == "[[3]]", result.error


async def test_allow_pickle_sends_exact_types_and_objects() -> None:
    import fractions

    async with KernelExecutor(timeout=20, allow_pickle=True) as executor:
        await executor.send_variables({"pair": (1, 2), "ratio": fractions.Fraction(1, 3)})
        result = await executor.run("type(pair).__name__, ratio * 3")
        assert result.output == "('tuple', Fraction(1, 1))"


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_sibling_dies_with_its_host(how: str, tmp_path) -> None:
    """A host process that dies without closing takes its sibling with it."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys
        from smolkernel.executors.kernel import KernelExecutor
        async def main():
            executor = KernelExecutor()
            await executor.start()
            print(executor.pid, flush=True)
            sys.stdin.readline()
            if {how!r} == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(0)
        asyncio.run(main())
        """
    )
    host = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(host.stdout.readline())
        assert _alive(pid)
        host.stdin.write("\n")
        host.stdin.flush()
        host.wait(timeout=20)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


def test_descendants_finds_grandchildren() -> None:
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        time.sleep(0.2)
        assert len(descendants(parent.pid)) == 2
    finally:
        for pid in descendants(parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()
