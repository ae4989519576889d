"""KernelExecutor: a real sibling ipykernel; one shared kernel for the behaviours that keep it healthy."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from smolkernel.exceptions import ConfigurationError, ExecutorError
from smolkernel.executors.kernel import KernelExecutor
from smolkernel.tools import tool

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET = "sk-test-not-for-the-sibling"


@tool
def add(a: int, b: int = 2) -> int:
    """Add two integers.

    Args:
        a: the first
        b: the second
    """
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: why
    """
    raise ValueError(f"tool failed: {reason}")


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


@tool
def opaque() -> Any:
    """Return something that is not JSON."""
    return Opaque()


class Researcher:
    """A managed-agent-like object: called like a tool, runs in the host."""

    name = "researcher"
    description = "Research a task and report."
    inputs = {"task": {"type": "string", "description": "what to research"}}
    output_type = "string"

    async def acall(self, task: str) -> str:
        await asyncio.sleep(0)
        return f"report on {task}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor() -> AsyncIterator[KernelExecutor]:
    os.environ["SMOLKERNEL_TEST_API_KEY"] = SECRET
    os.environ["LC_SMOLKERNEL_TEST"] = "visible"
    executor = KernelExecutor(timeout=20)
    try:
        await asyncio.wait_for(executor.start(), 60)
        await executor.send_tools({"add": add, "explode": explode, "opaque": opaque, "researcher": Researcher()})
        yield executor
    finally:
        del os.environ["SMOLKERNEL_TEST_API_KEY"], os.environ["LC_SMOLKERNEL_TEST"]
        await executor.close()


async def run(executor: KernelExecutor, code: str, limit: float = 30):
    return await asyncio.wait_for(executor.run(code), limit)


async def test_variables_persist_and_last_expression_is_output(executor: KernelExecutor) -> None:
    await run(executor, "counter = 41")
    result = await run(executor, "counter += 1\ncounter")
    assert result.output == "42" and result.error is None


async def test_streams_are_logs(executor: KernelExecutor) -> None:
    result = await run(executor, "import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert "out\n" in result.logs and "err\n" in result.logs


async def test_error_line_numbers_refer_to_generated_code(executor: KernelExecutor) -> None:
    result = await run(executor, "a = 1\n\ndef f():\n    return 1 / 0\nf()")
    assert "\x1b[" not in result.error
    assert "line 5, in <module>" in result.error and "line 4, in f" in result.error
    assert result.error.rstrip().endswith("ZeroDivisionError: division by zero")


async def test_syntax_error_is_readable(executor: KernelExecutor) -> None:
    result = await run(executor, "x = (1,\n")
    assert "SyntaxError" in result.error and "\x1b[" not in result.error


async def test_matplotlib_figure_comes_back_as_image(executor: KernelExecutor) -> None:
    result = await run(executor, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t');", 60)
    assert any("image/png" in display["data"] for display in result.displays)


async def test_rich_result_keeps_its_mime_bundle(executor: KernelExecutor) -> None:
    result = await run(executor, "class R:\n    def _repr_html_(self): return '<b>x</b>'\n    def __repr__(self): return 'R()'\nR()")
    assert result.output == "R()"
    assert result.displays[-1]["data"]["text/html"] == "<b>x</b>"


async def test_long_output_is_cut_with_a_marker(executor: KernelExecutor) -> None:
    executor.max_output_chars = 1000
    try:
        result = await run(executor, "for i in range(20000): print(i)")
    finally:
        executor.max_output_chars = 20_000
    assert "output truncated" in result.logs and len(result.logs) < 1200
    assert result.logs.startswith("0\n1\n") and result.logs.rstrip().endswith("19999")


async def test_tool_call_crosses_to_the_host(executor: KernelExecutor) -> None:
    calls = executor.bridge.calls
    result = await run(executor, "add(40) + add(a=1, b=1)")
    assert result.output == "44" and executor.bridge.calls == calls + 2


async def test_stub_has_the_tool_signature_and_docstring(executor: KernelExecutor) -> None:
    result = await run(executor, "import inspect\nprint(add.__name__, inspect.signature(add))\nprint(add.__doc__)")
    assert "add (a: 'int', b: 'int' = 2) -> 'int'" in result.logs
    assert "Add two integers." in result.logs and "a: the first" in result.logs


async def test_bad_arguments_show_the_tool_call_error(executor: KernelExecutor) -> None:
    result = await run(executor, "add('x')")
    assert "ToolError: AgentToolCallError: add(): argument 'a' must be integer" in result.error


async def test_tool_errors_can_be_caught_in_code(executor: KernelExecutor) -> None:
    result = await run(executor, "try:\n    explode('boom')\nexcept ToolError as e:\n    print('caught:', e)")
    assert result.error is None and "caught: ValueError: tool failed: boom" in result.logs


async def test_non_json_result_comes_back_as_repr(executor: KernelExecutor) -> None:
    result = await run(executor, "opaque()")
    assert result.output == "'<Opaque thing>'"


async def test_managed_agent_goes_through_the_bridge(executor: KernelExecutor) -> None:
    result = await run(executor, "researcher(task='cats')")
    assert result.output == "'report on cats'"


async def test_final_answer_ends_the_execution(executor: KernelExecutor) -> None:
    result = await run(executor, "final_answer({'n': add(1, 2)})\nprint('not reached')")
    assert result.is_final_answer and result.output == {"n": 3}
    assert result.error is None and "not reached" not in result.logs
    follow_up = await run(executor, "1 + 1")
    assert not follow_up.is_final_answer and follow_up.output == "2"


async def test_final_answer_is_not_swallowed_by_except_exception(executor: KernelExecutor) -> None:
    result = await run(executor, "try:\n    final_answer('done')\nexcept Exception:\n    print('swallowed')")
    assert result.is_final_answer and result.output == "done" and "swallowed" not in result.logs


async def test_non_json_final_answer_brings_its_rich_display(executor: KernelExecutor) -> None:
    code = "class Table:\n    def _repr_html_(self): return '<table>rich</table>'\n    def __repr__(self): return 'Table()'\nfinal_answer(Table())"
    result = await run(executor, code)
    assert result.is_final_answer and result.output == "Table()"
    assert result.answer_bundle == {"data": {"text/html": "<table>rich</table>", "text/plain": "Table()"}, "metadata": {}}
    assert result.displays == []


async def test_json_final_answer_has_no_answer_bundle(executor: KernelExecutor) -> None:
    result = await run(executor, "final_answer([1, 2])")
    assert result.output == [1, 2] and result.answer_bundle is None


async def test_complete_and_inspect_in_the_workspace(executor: KernelExecutor) -> None:
    await run(executor, "workspace_only_name = 12")
    completed = await executor.complete("workspace_only_na", 17)
    assert "workspace_only_name" in completed["matches"] and completed["cursor_start"] == 0
    inspected = await executor.inspect("workspace_only_name", 5)
    assert inspected["found"] and "int" in inspected["data"]["text/plain"]


async def test_input_gives_a_clear_error(executor: KernelExecutor) -> None:
    result = await run(executor, "input('name? ')")
    assert "input() is not available" in result.error


async def test_raw_stdin_request_gets_end_of_file(executor: KernelExecutor) -> None:
    result = await run(executor, "get_ipython().kernel.raw_input('hello')")
    assert "EOFError" in result.error and "input() is not available" in result.logs


async def test_overwritten_stub_is_repaired_before_the_next_run(executor: KernelExecutor) -> None:
    await run(executor, "add = lambda *a: 'hijacked'")
    result = await run(executor, "add(1)")
    assert result.output == "3"


async def test_broken_bridge_is_reinstalled(executor: KernelExecutor) -> None:
    await run(executor, "import sys\nip = get_ipython()\nfor cb in list(ip.events.callbacks['pre_run_cell']): ip.events.unregister('pre_run_cell', cb)\ndel sys.modules['_smolkernel_bridge']\ndel add")
    result = await run(executor, "add(5)")
    assert result.output == "7"


async def test_forged_bridge_requests_are_rejected(executor: KernelExecutor) -> None:
    forged_marker = await run(executor, "get_ipython().kernel.raw_input('\\x00smolkernel-bridge:0000:{\"t\": \"add\", \"a\": [1]}')")
    assert "EOFError" in forged_marker.error
    unknown_tool = await run(executor, "import sys\nsys.modules['_smolkernel_bridge'].call_tool('os_system', ('ls',), {})")
    assert "unknown tool 'os_system'" in unknown_tool.error


async def test_send_variables_json(executor: KernelExecutor) -> None:
    await executor.send_variables({"cfg": {"k": [1, 2]}, "name": "x"})
    result = await run(executor, "cfg['k'][1], name")
    assert result.output == "(2, 'x')"


async def test_send_variables_refuses_non_json_without_pickle(executor: KernelExecutor) -> None:
    with pytest.raises(ConfigurationError, match="allow_pickle"):
        await executor.send_variables({"thing": Opaque()})


async def test_host_secrets_do_not_reach_the_sibling(executor: KernelExecutor) -> None:
    result = await run(executor, "import os\nsorted(os.environ)")
    assert "SMOLKERNEL_TEST_API_KEY" not in result.output and "LC_SMOLKERNEL_TEST" in result.output
    assert SECRET not in (await run(executor, "open('/proc/self/environ','rb').read()")).output


async def test_resource_limits_are_applied(executor: KernelExecutor) -> None:
    result = await run(executor, "import resource\nresource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_NOFILE)[0]")
    assert result.output == f"({8192 * 1024 * 1024}, 1024)"


FIND_CONNECTION_FILES = (
    "import glob\n"
    "def _is_connection_file(path):\n"
    "    try:\n"
    "        text = open(path).read(4096)\n"
    "    except OSError:\n"
    "        return False\n"
    "    return 'signature_scheme' in text and 'shell_port' in text\n"
    "[p for root in ('/tmp', '/run') for p in glob.glob(root + '/**/*.json', recursive=True) if _is_connection_file(p)]"
)
"""Generated code that lists every readable kernel connection file under /tmp and /run."""


async def test_runtime_folder_is_private_and_connection_file_gone(executor: KernelExecutor) -> None:
    runtime = executor.log_path.parent
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert not list(runtime.rglob("*.json"))
    visible = (await run(executor, FIND_CONNECTION_FILES)).output
    assert str(runtime) not in visible  # its own is gone (other kernels' files may be visible: not a boundary)


async def test_timeout_interrupts_and_the_next_run_works(executor: KernelExecutor) -> None:
    await run(executor, "kept = 'yes'")
    executor.timeout = 1.0
    try:
        started = time.monotonic()
        result = await run(executor, "while True:\n    pass")
    finally:
        executor.timeout = 20
    assert "timed out after 1 s" in result.error and time.monotonic() - started < 5
    assert not result.workspace_lost
    assert (await run(executor, "kept")).output == "'yes'"


async def test_stdin_wait_is_interrupted_on_timeout(executor: KernelExecutor) -> None:
    executor.timeout = 1.0
    try:
        await executor.send_tools({"add": add, "sleepy": _sleepy})
        result = await run(executor, "sleepy(5)")
        assert "timed out after 1 s" in result.error
        assert (await run(executor, "add(1)")).output == "3"
    finally:
        executor.timeout = 20
        await executor.send_tools({"add": add, "explode": explode, "opaque": opaque, "researcher": Researcher()})


@tool
def _sleepy(seconds: float) -> str:
    """Sleep in the host.

    Args:
        seconds: how long
    """
    time.sleep(seconds)
    return "woke"


async def test_killed_sibling_is_noticed_quickly_and_restarted(executor: KernelExecutor) -> None:
    await run(executor, "doomed = 1")
    started = time.monotonic()
    result = await run(executor, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert time.monotonic() - started < 2.0 + 1.5  # detection < 2 s, plus the restart
    assert result.workspace_lost and "workspace was lost" in result.error and "SIGKILL" in result.error
    after = await run(executor, "add(1), 'doomed' in globals()")
    assert after.output == "(3, False)"


async def test_sibling_killed_between_runs_is_restarted(executor: KernelExecutor) -> None:
    os.kill(executor.pid, 9)
    await asyncio.sleep(0.2)
    result = await run(executor, "add(2)")
    assert result.output == "4" and result.workspace_lost and "restarted" in result.logs


async def test_sibling_dead_under_framework_code_is_reported_by_the_next_run(executor: KernelExecutor) -> None:
    restarts = executor.restarts
    os.kill(executor.pid, 9)
    await asyncio.sleep(0.2)
    with pytest.raises(ExecutorError):
        await executor.send_variables({"lost_soon": 1})
    result = await run(executor, "add(2)")
    assert result.output == "4" and result.workspace_lost and executor.restarts == restarts + 1


async def test_tools_sent_to_a_dead_sibling_arrive_with_the_restart(executor: KernelExecutor) -> None:
    os.kill(executor.pid, 9)
    await asyncio.sleep(0.2)
    await executor.send_tools({"add": add, "explode": explode, "opaque": opaque, "researcher": Researcher()})
    result = await run(executor, "add(3)")
    assert result.output == "5" and result.workspace_lost


async def test_interrupt_method_stops_the_execution(executor: KernelExecutor) -> None:
    task = asyncio.create_task(run(executor, "import time\ntime.sleep(30)"))
    await asyncio.sleep(0.5)
    await executor.interrupt()
    result = await asyncio.wait_for(task, 10)
    assert "KeyboardInterrupt" in result.error


async def test_reset_forgets_variables_but_keeps_tools(executor: KernelExecutor) -> None:
    await run(executor, "temp = 5")
    await executor.reset()
    result = await run(executor, "('temp' in globals(), add(1))")
    assert result.output == "(False, 3)"


async def test_sibling_stderr_goes_to_the_log_file(executor: KernelExecutor) -> None:
    await run(executor, "import os\nos.write(2, b'raw fd noise\\n')")
    assert executor.log_path.exists()
