"""E2BExecutor on the real ``e2b-code-interpreter`` SDK in its debug mode.

What is real: the SDK (``AsyncSandbox.create``, ``run_code``, ``get_host``,
``kill``) with ``E2B_DEBUG=true``, which makes no cloud call and talks to
``localhost`` ports; a real ``jupyter server`` (what the code-interpreter
template runs inside the sandbox) on loopback; real ipykernels.
What stands in: the sandbox itself. Its ``POST /execute`` API on port 49999
is a loopback stand-in (``remote_standins.ExecuteAPI``) backed by a real
local kernel; no Firecracker VM isolates anything here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from executor_tools import add
import pytest_asyncio
from remote_standins import ExecuteAPI, run_managed_agent, start_server, stop

from smolkernel.exceptions import ConfigurationError
from smolkernel.executors import resolve_executor
from smolkernel.executors.e2b import E2BExecutor

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
TOKEN = "e2b-standin-token"


@pytest.fixture(scope="module")
def sandbox_parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ExecuteAPI, int]]:
    previous = os.environ.get("E2B_DEBUG")
    os.environ["E2B_DEBUG"] = "true"
    execute_api = ExecuteAPI(49999)  # the SDK's fixed JUPYTER_PORT for /execute
    process, url = start_server("server", tmp_path_factory.mktemp("e2b"), TOKEN)
    try:
        yield execute_api, int(url.rsplit(":", 1)[1])
    finally:
        stop(process)
        execute_api.close()
        if previous is None:
            os.environ.pop("E2B_DEBUG", None)
        else:
            os.environ["E2B_DEBUG"] = previous


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor(sandbox_parts: tuple[ExecuteAPI, int]) -> AsyncIterator[E2BExecutor]:
    _, port = sandbox_parts
    executor = resolve_executor("e2b", timeout=5, jupyter_port=port, jupyter_token=TOKEN)
    try:
        await asyncio.wait_for(executor.start(), 90)
        await executor.send_tools({"add": add})
        yield executor
    finally:
        await executor.close()


async def test_readiness_is_probed_through_execute(executor: E2BExecutor, sandbox_parts: tuple[ExecuteAPI, int]) -> None:
    execute_api, port = sandbox_parts
    assert executor.sandbox_id == "debug_sandbox_id"
    assert {"code": "1 + 1"}.items() <= execute_api.requests[0].items()
    assert executor.url == f"http://localhost:{port}"


async def test_state_tools_and_final_answer(executor: E2BExecutor) -> None:
    first = await executor.run("x = add(40, 2)\nprint('in the sandbox')\nx")
    await executor.send_variables({"n": 3})
    second = await executor.run("final_answer(x * n)")
    assert (first.output, first.logs) == ("42", "in the sandbox\n")
    assert second.is_final_answer and second.output == 126


async def test_managed_agent_runs_in_the_host(executor: E2BExecutor) -> None:
    result = await run_managed_agent(executor)
    assert result.success and result.output == "Report: 42 moons"
    assert result.action_steps[0].managed_runs[0].output == "42 moons"
    await executor.send_tools({"add": add})


async def test_timeout_interrupts(executor: E2BExecutor) -> None:
    result = await executor.run("import time\ntime.sleep(60)")
    assert result.error and result.error.startswith("ExecutionTimeout")
    assert (await executor.run("add(1, 1)")).output == "2"


async def test_close_kills_the_sandbox(sandbox_parts: tuple[ExecuteAPI, int]) -> None:
    _, port = sandbox_parts
    executor = E2BExecutor(timeout=5, jupyter_port=port, jupyter_token=TOKEN)
    await executor.start()
    assert executor.sandbox is not None and executor.kernel_id is not None
    await executor.close()
    assert executor.sandbox is None and executor.kernel_id is None


async def test_api_key_is_required_outside_debug_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2B_DEBUG", raising=False)
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="E2B_API_KEY"):
        await E2BExecutor().start()
