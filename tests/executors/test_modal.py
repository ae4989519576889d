"""ModalExecutor with ``modal.Sandbox`` replaced by a local stand-in.

What is real: the executor's whole path after the sandbox exists: the
entrypoint it asks Modal to run (a real ``jupyter kernelgateway``, started
here as a local subprocess by ``remote_standins.LocalSandbox``), the readiness
probe through the "tunnel", the websocket kernel protocol, real ipykernels,
host tools over the stdin channel. What stands in: ``modal.Sandbox`` itself
(no Modal cloud is reachable): ``create`` runs the entrypoint locally,
``tunnels()`` points at loopback, and there is no gVisor isolation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from executor_tools import add
import pytest_asyncio
from remote_standins import LocalSandbox, free_port, run_managed_agent

from smolkernel.executors.modal import ModalExecutor

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor() -> AsyncIterator[ModalExecutor]:
    executor = ModalExecutor(timeout=5, port=free_port(), sandbox_factory=LocalSandbox, cpu=1.0, memory_limit_mb=512)
    try:
        await asyncio.wait_for(executor.start(), 120)
        await executor.send_tools({"add": add})
        yield executor
    finally:
        await executor.close()


async def test_sandbox_is_asked_for_a_gateway_with_a_token(executor: ModalExecutor) -> None:
    entrypoint, options = LocalSandbox.created[-1]
    assert entrypoint[:2] == ("jupyter", "kernelgateway")
    assert f"--KernelGatewayApp.auth_token={executor.token}" in entrypoint and len(executor.token) >= 32
    assert options["encrypted_ports"] == [executor.port] and options["block_network"] is True
    assert (options["cpu"], options["memory"]) == (1.0, 512)


async def test_state_tools_and_final_answer(executor: ModalExecutor) -> None:
    first = await executor.run("x = add(40, 2)\nx")
    second = await executor.run("final_answer({'x': x})")
    assert first.output == "42" and second.is_final_answer and second.output == {"x": 42}


async def test_managed_agent_runs_in_the_host(executor: ModalExecutor) -> None:
    result = await run_managed_agent(executor)
    assert result.success and result.output == "Report: 42 moons"
    assert result.action_steps[0].managed_runs[0].output == "42 moons"
    await executor.send_tools({"add": add})


async def test_dead_sandbox_is_recreated(executor: ModalExecutor) -> None:
    await executor.run("lost = 1")
    old = executor.sandbox
    old.terminate()  # the whole sandbox ends, as when Modal's timeout hits
    result = await executor.run("'lost' in dir()")
    assert result.workspace_lost
    after = await executor.run("add(1, 2), 'lost' in dir()")
    assert after.output == "(3, False)" and executor.sandbox is not old


async def test_close_terminates_the_sandbox(executor: ModalExecutor) -> None:
    sandbox = executor.sandbox  # runs last: the fixture's close() is then a no-op
    await executor.close()
    assert sandbox.poll() is not None and executor.sandbox is None
