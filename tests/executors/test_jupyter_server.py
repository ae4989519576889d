"""JupyterServerExecutor against a real ``jupyter server`` and a real ``jupyter kernelgateway``.

Both servers are started on loopback by the fixture, with token auth; the
executor talks to them over HTTP and the websocket kernel protocol, and the
kernels they start are real ipykernels. Nothing stands in.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
from executor_tools import add
import pytest_asyncio
from remote_standins import run_managed_agent, start_server, stop

from smolkernel.exceptions import ConfigurationError, ExecutorError
from smolkernel.executors import resolve_executor
from smolkernel.executors.jupyter_server import JupyterServerExecutor

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
TOKEN = "test-token-123"


def kernels_on(url: str) -> list[dict]:
    request = urllib.request.Request(url + "/api/kernels", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module", params=["server", "gateway"])
def server_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_server(request.param, tmp_path_factory.mktemp(request.param), TOKEN)
    try:
        yield url
    finally:
        stop(process)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor(server_url: str) -> AsyncIterator[JupyterServerExecutor]:
    executor = JupyterServerExecutor(server_url, token=TOKEN, timeout=5)
    try:
        await asyncio.wait_for(executor.start(), 90)
        await executor.send_tools({"add": add})
        yield executor
    finally:
        await executor.close()


async def test_state_persists_and_output_comes_back(executor: JupyterServerExecutor) -> None:
    first = await executor.run("x = 20\nprint('hello')\nx + 1")
    second = await executor.run("x * 2")
    assert (first.output, first.logs, first.error) == ("21", "hello\n", None)
    assert second.output == "40"


async def test_tool_runs_in_the_host_through_stdin(executor: JupyterServerExecutor) -> None:
    calls = executor.bridge.calls
    result = await executor.run("y = add(40, 2)\ny")
    assert result.output == "42"
    assert executor.bridge.calls == calls + 1


async def test_variables_in_and_final_answer_out(executor: JupyterServerExecutor) -> None:
    await executor.send_variables({"items": [1, 2, 3], "label": "n"})
    result = await executor.run("final_answer({label: sum(items)})")
    assert result.is_final_answer and result.output == {"n": 6}


async def test_errors_come_back_readable(executor: JupyterServerExecutor) -> None:
    result = await executor.run("1 / 0")
    assert result.error and "ZeroDivisionError" in result.error


async def test_managed_agent_runs_in_the_host(executor: JupyterServerExecutor) -> None:
    result = await run_managed_agent(executor)
    assert result.success and result.output == "Report: 42 moons"
    assert result.action_steps[0].managed_runs[0].output == "42 moons"
    await executor.send_tools({"add": add})


async def test_timeout_interrupts_and_keeps_the_workspace(executor: JupyterServerExecutor) -> None:
    await executor.run("kept = 'still here'")
    started = time.monotonic()
    result = await executor.run("import time\nwhile True: time.sleep(0.1)")
    assert result.error and result.error.startswith("ExecutionTimeout")
    assert time.monotonic() - started < 15
    assert (await executor.run("kept")).output == "'still here'"


async def test_dead_kernel_is_replaced_and_reported(executor: JupyterServerExecutor, server_url: str) -> None:
    old = executor.kernel_id
    started = time.monotonic()
    result = await executor.run("import os\nos._exit(3)")
    assert result.workspace_lost and result.error and result.error.startswith("ExecutorDied")
    assert time.monotonic() - started < 10
    assert executor.kernel_id != old
    assert (await executor.run("add(1, 2)")).output == "3"  # tools re-sent to the new kernel
    assert old not in {k["id"] for k in kernels_on(server_url)}


async def test_close_deletes_the_kernel(server_url: str) -> None:
    executor = resolve_executor("jupyter-server", url=server_url, token=TOKEN, timeout=10)
    await executor.start()
    kernel_id = executor.kernel_id
    assert kernel_id in {k["id"] for k in kernels_on(server_url)}
    await executor.close()
    assert kernel_id not in {k["id"] for k in kernels_on(server_url)}


async def test_wrong_token_is_a_clear_error(server_url: str) -> None:
    executor = JupyterServerExecutor(server_url, token="wrong", timeout=5)
    with pytest.raises(ExecutorError, match="HTTP 40[13].*check the token"):
        await executor.start()


async def test_url_is_required_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMOLKERNEL_JUPYTER_URL", raising=False)
    with pytest.raises(ConfigurationError, match="needs url="):
        JupyterServerExecutor()
    with pytest.raises(ConfigurationError, match="http://"):
        JupyterServerExecutor("127.0.0.1:8888")
