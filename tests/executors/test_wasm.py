"""WasmExecutor: real Deno running real Pyodide (the npm packages `make wasm` installs); nothing stands in."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from executor_tools import add
import pytest_asyncio
from remote_standins import run_managed_agent
from needs import missing

from smolkernel.exceptions import ConfigurationError
from smolkernel.executors.wasm import WasmExecutor, find_runtime
from smolkernel.tools import tool

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


@tool
def opaque() -> Any:
    """Return something that is not JSON."""
    return Opaque()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor() -> AsyncIterator[WasmExecutor]:
    try:
        find_runtime()
    except ConfigurationError as exc:
        missing(str(exc))
    executor = WasmExecutor(timeout=5, memory_limit_mb=256)
    try:
        await asyncio.wait_for(executor.start(), 180)
        await executor.send_tools({"add": add, "opaque": opaque})
        yield executor
    finally:
        await executor.close()


async def test_state_output_and_synchronous_tools(executor: WasmExecutor) -> None:
    first = await executor.run("x = 20\nprint('hello')\nx + 1")
    second = await executor.run("total = add(x, 22)\nprint(total)\nopaque()")
    assert (first.output, first.logs, first.error) == ("21", "hello\n", None)
    assert (second.output, second.logs) == ("'<Opaque>'", "42\n")


async def test_variables_in_final_answer_out(executor: WasmExecutor) -> None:
    await executor.send_variables({"items": [1, 2, 3]})
    result = await executor.run("final_answer({'sum': sum(items)})\nprint('not reached')")
    assert result.is_final_answer and result.output == {"sum": 6} and "not reached" not in result.logs


async def test_errors_name_the_line_and_unavailable_imports_the_limit(executor: WasmExecutor) -> None:
    error = (await executor.run("def f():\n    return 1 / 0\nf()")).error
    missing_module = (await executor.run("import numpy")).error
    assert "line 2, in f" in error and error.endswith("ZeroDivisionError: division by zero")
    assert "No module named 'numpy'" in missing_module and "runs Pyodide offline" in missing_module


async def test_runtime_has_no_permission_but_reading_pyodide(executor: WasmExecutor) -> None:
    probes = {
        "read": "js.Deno.readTextFileSync('/etc/hostname')",
        "write": "js.Deno.writeTextFileSync('/tmp/smolkernel-wasm-pwned', 'x')",
        "env": "js.Deno.env.get('HOME')",
        "run": "js.Deno.Command.new('/bin/true').outputSync()",
        "net": "js.Deno.listen(js.Object.fromEntries([['port', 0]]))",
    }
    for name, code in probes.items():
        result = await executor.run(f"import js\n{code}")
        assert result.error and "NotCapable" in result.error, (name, result)
    assert not Path("/tmp/smolkernel-wasm-pwned").exists()
    flags = [a for a in executor.command() if a.startswith("--allow")]
    assert len(flags) == 1 and flags[0].startswith("--allow-read=") and "pyodide" in flags[0]


async def test_managed_agent_runs_in_the_host(executor: WasmExecutor) -> None:
    result = await run_managed_agent(executor)
    assert result.success and result.output == "Report: 42 moons"
    assert result.action_steps[0].managed_runs[0].output == "42 moons"
    await executor.send_tools({"add": add, "opaque": opaque})


async def test_memory_cap_raises_memory_error_inside(executor: WasmExecutor) -> None:
    result = await executor.run("hog = bytearray(400 * 2**20)")
    assert result.error and result.error.endswith("MemoryError") and not result.workspace_lost
    assert (await executor.run("add(1, 1)")).output == "2"


async def test_timeout_kills_and_restarts_the_runtime(executor: WasmExecutor) -> None:
    await executor.run("kept = 1")
    pid = executor.pid
    result = await executor.run("while True: pass")
    assert result.error and result.error.startswith("ExecutionTimeout") and result.workspace_lost
    assert executor.pid != pid
    after = await executor.run("add(2, 3), 'kept' in dir()")
    assert after.output == "(5, False)"


async def test_a_failure_of_the_runtime_itself_restarts_it(executor: WasmExecutor) -> None:
    result = await executor.run("import os\nos.system('true')")  # Deno refuses env access under Pyodide's feet
    assert result.workspace_lost and result.error.startswith("ExecutorDied") and "NotCapable" in result.logs
    assert (await executor.run("add(1, 2)")).output == "3"


async def test_close_leaves_nothing(executor: WasmExecutor) -> None:
    pid, home = executor.pid, executor._home  # runs last: the fixture's close() is then a no-op
    await executor.close()
    assert not Path(f"/proc/{pid}").exists() and not home.exists()
    assert not executor.is_alive()


async def test_missing_runtime_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOLKERNEL_WASM_RUNTIME", os.fspath(tmp_path))
    with pytest.raises(ConfigurationError, match="make wasm"):
        find_runtime()
    with pytest.raises(ConfigurationError, match="not found in"):
        WasmExecutor(runtime=os.fspath(tmp_path / "nowhere")).command()
