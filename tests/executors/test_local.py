"""LocalExecutor: runs code in this process, in a namespace dict (trusted code only)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from executor_tools import add

from smolkernel.executors import CodeOutput, resolve_executor
from smolkernel.executors.local import LocalExecutor
from smolkernel.tools import Tool, tool


@tool
def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: why
    """
    raise ValueError(f"tool failed: {reason}")


@pytest.fixture
async def executor() -> AsyncIterator[LocalExecutor]:
    local = LocalExecutor(timeout=5)
    await local.start()
    await local.send_tools({"add": add, "explode": explode})
    yield local
    await local.close()


def test_registry_resolves_local() -> None:
    local = resolve_executor("local", timeout=3)
    assert isinstance(local, LocalExecutor)
    assert local.name == "local" and local.timeout == 3


# -- values, namespace, output --------------------------------------------------


async def test_last_expression_is_the_output(executor: LocalExecutor) -> None:
    result = await executor.run("x = 20\nx + 1")
    assert result == CodeOutput(output=21, duration=result.duration)


async def test_no_last_expression_gives_none(executor: LocalExecutor) -> None:
    assert (await executor.run("x = 1")).output is None
    assert (await executor.run("x = 1\nif x:\n    x + 1")).output is None


async def test_namespace_persists_across_runs(executor: LocalExecutor) -> None:
    await executor.run("import math\ndef area(r):\n    return math.pi * r ** 2\nradius = 2")
    result = await executor.run("round(area(radius), 2)")
    assert result.error is None and result.output == 12.57


async def test_print_and_stderr_are_captured_in_order() -> None:
    local = LocalExecutor(additional_imports=["sys"])
    code = "import sys\nprint('one', 1, sep='-')\nprint('two', end='!')\nprint()\nprint('err', file=sys.stderr)\nsys.stdout.write('three\\n')\n'done'"
    result = await local.run(code)
    assert result.output == "done"
    assert result.logs == "one-1\ntwo!\nerr\nthree\n"


async def test_print_does_not_leak_to_the_real_stdout(executor: LocalExecutor, capsys: pytest.CaptureFixture[str]) -> None:
    await executor.run("print('inside')")
    assert "inside" not in capsys.readouterr().out


async def test_other_threads_output_is_not_captured(executor: LocalExecutor) -> None:
    """While a run prints, a host thread's writes go to the host's stdout, not to the run's logs."""
    written = threading.Event()

    def host_thread() -> None:
        time.sleep(0.1)
        sys.stdout.write("host output\n")
        written.set()

    thread = threading.Thread(target=host_thread)
    thread.start()
    result = await executor.run("import time\nfor _ in range(30):\n    time.sleep(0.01)\nprint('agent output')")
    thread.join()
    assert written.is_set()
    assert result.logs == "agent output\n"


async def test_streams_are_restored_after_a_run(executor: LocalExecutor) -> None:
    before = (sys.stdout, sys.stderr)
    await executor.run("print('x')")
    assert (sys.stdout, sys.stderr) == before


async def test_long_logs_are_truncated_with_a_marker() -> None:
    local = LocalExecutor(max_output_chars=100)
    result = await local.run("print('a' * 1000)\nprint('END')")
    assert "[... output truncated: 905 characters omitted ...]" in result.logs
    assert result.logs.startswith("a" * 66) and result.logs.endswith("END\n")


async def test_huge_logs_stay_bounded_and_count_what_was_dropped() -> None:
    local = LocalExecutor(max_output_chars=100)
    result = await local.run("for i in range(200_000):\n    print('line', i)\nprint('END')")
    assert result.logs.startswith("line 0\nline 1\n")
    assert result.logs.endswith("END\n")
    total = sum(len(f"line {i}\n") for i in range(200_000)) + 4
    assert f"[... output truncated: {total - 100} characters omitted ...]" in result.logs


# -- errors --------------------------------------------------------------------------


async def test_error_names_line_source_type_and_message(executor: LocalExecutor) -> None:
    result = await executor.run("x = 1\nprint('before')\ny = x / 0\nprint('after')")
    assert result.error == "Error on line 3: `y = x / 0`\nZeroDivisionError: division by zero"
    assert result.logs == "before\n"
    assert result.output is None and not result.is_final_answer


async def test_error_inside_a_function_points_at_the_failing_line(executor: LocalExecutor) -> None:
    await executor.run("def ratio(a, b):\n    return a / b")
    result = await executor.run("ratio(1, 0)")
    assert result.error == "Error on line 2: `return a / b`\nZeroDivisionError: division by zero"


async def test_variables_set_before_an_error_are_kept(executor: LocalExecutor) -> None:
    await executor.run("kept = 5\nraise RuntimeError('stop')")
    assert (await executor.run("kept")).output == 5


async def test_syntax_error_names_the_line(executor: LocalExecutor) -> None:
    result = await executor.run("x = 1\ndef f(:\n    pass")
    assert result.error is not None
    assert result.error.startswith("Error on line 2: `def f(:`\nSyntaxError: ")
    assert "not run" in result.error


async def test_indentation_error_is_reported_as_such(executor: LocalExecutor) -> None:
    result = await executor.run("if True:\nprint(1)")
    assert result.error is not None and "IndentationError" in result.error and "line 2" in result.error


async def test_system_exit_is_an_error_not_a_crash(executor: LocalExecutor) -> None:
    result = await executor.run("raise SystemExit(3)")
    assert result.error == "Error on line 1: `raise SystemExit(3)`\nSystemExit: 3"


# -- tools and final_answer ------------------------------------------------------


async def test_tools_are_callable(executor: LocalExecutor) -> None:
    result = await executor.run("total = add(2, b=3)\ntotal * 2")
    assert result.output == 10 and result.error is None


async def test_tool_argument_error_is_shown_to_the_model(executor: LocalExecutor) -> None:
    result = await executor.run("add(1, 'two')")
    assert result.error == (
        "Error on line 1: `add(1, 'two')`\nAgentToolCallError: add(): argument 'b' must be integer, "
        "got str 'two'. Usage: add(a: int, b: int) -> int"
    )


async def test_tool_exception_is_shown_with_the_calling_line(executor: LocalExecutor) -> None:
    result = await executor.run("x = 1\nexplode('boom')")
    assert result.error == "Error on line 2: `explode('boom')`\nValueError: tool failed: boom"


async def test_final_answer_ends_the_run_with_output_and_logs(executor: LocalExecutor) -> None:
    result = await executor.run("print('working')\nfinal_answer({'total': add(1, 2)})\nprint('never')")
    assert result.is_final_answer and result.error is None
    assert result.output == {"total": 3}
    assert result.logs == "working\n"


async def test_final_answer_is_not_swallowed_by_except_exception(executor: LocalExecutor) -> None:
    result = await executor.run("try:\n    final_answer(7)\nexcept Exception:\n    pass\n'not this'")
    assert result.is_final_answer and result.output == 7


async def test_final_answer_is_there_without_send_tools() -> None:
    result = await LocalExecutor().run("final_answer('ok')")
    assert result.is_final_answer and result.output == "ok"


async def test_tools_come_back_after_being_overwritten(executor: LocalExecutor) -> None:
    await executor.run("add = 3")
    assert (await executor.run("add(1, 1)")).output == 2


# -- imports ------------------------------------------------------------------------


async def test_allowed_imports_work(executor: LocalExecutor) -> None:
    result = await executor.run("import numpy as np\nfrom collections import Counter\nint(np.arange(4).sum()) + Counter('aa')['a']")
    assert result.error is None and result.output == 8


async def test_disallowed_import_names_module_and_fix(executor: LocalExecutor) -> None:
    result = await executor.run("x = 1\nimport subprocess")
    assert result.error is not None
    assert result.error.startswith("Error on line 2: `import subprocess`\nImportError: import of 'subprocess' is not allowed.")
    assert "LocalExecutor(additional_imports=['subprocess'])" in result.error


@pytest.mark.parametrize("code", ["from os import path", "import os.path", "import importlib", "from sys import modules"])
async def test_disallowed_import_forms(executor: LocalExecutor, code: str) -> None:
    result = await executor.run(code)
    assert result.error is not None and "ImportError: import of" in result.error


async def test_disallowed_import_can_be_caught_for_a_fallback(executor: LocalExecutor) -> None:
    result = await executor.run("try:\n    import shutil\nexcept ImportError:\n    shutil = None\nshutil")
    assert result.error is None and result.output is None


async def test_additional_imports_extend_the_list_with_submodules() -> None:
    local = LocalExecutor(additional_imports=["os"])
    result = await local.run("import os.path\nos.path.basename('/a/b')")
    assert result.output == "b"


async def test_star_allows_every_module() -> None:
    result = await LocalExecutor(additional_imports=["*"]).run("import sys\nsys.maxsize > 0")
    assert result.output is True


async def test_relative_import_is_refused(executor: LocalExecutor) -> None:
    result = await executor.run("from . import thing")
    assert result.error is not None and "relative import" in result.error


# -- the AST guard -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "construct"),
    [
        ("().__class__.__bases__[0].__subclasses__()", "the dunder attribute '.__class__'"),
        ("x = 1\nx.__dict__", "the dunder attribute '.__dict__'"),
        ("__builtins__", "the dunder name '__builtins__'"),
        ("getattr(1, '__class__')", "getattr() of the attribute '__class__'"),
        ("setattr(1, '__doc__x__', 2)", "setattr() of the attribute '__doc__x__'"),
        ("hasattr(1, 'f_globals')", "hasattr() of the attribute 'f_globals'"),
        ("delattr(1, '__len__')", "delattr() of the attribute '__len__'"),
        ("import operator\noperator.attrgetter('__globals__')", "a string containing the dunder name '__globals__'"),
        ("'{0.__class__}'.format(1)", "a string containing the dunder name '__class__'"),
        ("def g():\n    yield 1\ng().gi_frame", "the interpreter-internal attribute '.gi_frame'"),
        ("async def c():\n    pass\nc().cr_frame", "the interpreter-internal attribute '.cr_frame'"),
        ("async def a():\n    yield 1\na().ag_frame", "the interpreter-internal attribute '.ag_frame'"),
        ("try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__", "the dunder attribute '.__traceback__'"),
        ("def tb(t):\n    return t.tb_frame.f_back.f_globals", "the interpreter-internal attribute '.tb_frame'"),
        ("def f():\n    pass\nf.func_globals", "the interpreter-internal attribute '.func_globals'"),
        ("def f():\n    pass\nf.__code__.co_code", "the dunder attribute '.__code__'"),
        ("match 1:\n    case int(__class__=c):\n        pass", "matching on the attribute '__class__'"),
        ("from collections import __builtins__", "importing the name '__builtins__'"),
        ("eval('1 + 1')", "'eval': dynamic code"),
        ("exec('x = 1')", "'exec': dynamic code"),
        ("compile('1', 'f', 'eval')", "'compile': dynamic code"),
        ("__import__('os')", "'__import__': dynamic code"),
        ("globals()", "'globals': dynamic code"),
        ("locals()", "'locals': dynamic code"),
        ("vars()", "'vars': dynamic code"),
        ("f = eval", "'eval': dynamic code"),
        ("open('/etc/passwd').read()", "'open': file access is off; pass LocalExecutor(allow_open=True)"),
        ("input('name? ')", "'input': it waits for keyboard input"),
        ("breakpoint()", "'breakpoint': it starts a debugger"),
        ("help(len)", "'help': it starts an interactive pager"),
    ],
)
async def test_guard_rejects_before_running(executor: LocalExecutor, code: str, construct: str) -> None:
    result = await executor.run(f"ran = True\n{code}")
    assert result.error is not None
    assert f"Not allowed: {construct}" in result.error
    assert result.error.startswith("Error on line ")
    assert "The code was not run" in result.error
    assert "ran" not in executor.namespace, "nothing may run when the guard rejects the code"


async def test_guard_reports_the_line_and_further_violations(executor: LocalExecutor) -> None:
    result = await executor.run("x = 1\ny = x.__class__\nz = eval('2')")
    assert result.error is not None
    assert result.error.startswith("Error on line 2: `y = x.__class__`\nNot allowed: the dunder attribute '.__class__'")
    assert "Also line 3: 'eval'" in result.error


@pytest.mark.parametrize(
    "code",
    [
        "__name__",
        "class A:\n    def __init__(self):\n        super().__init__()\n        self.x = 1\n    def __repr__(self):\n        return 'A'\nrepr(A())",
        "def f():\n    'doc'\nf.__name__ + f.__doc__ + f.__qualname__ + f.__module__",
        "if __name__ == '__main__':\n    x = 1",
        "import dataclasses\n@dataclasses.dataclass\nclass P:\n    x: int\nP(1).x",
        "class Obj:\n    size = 3\nfield = 'size'\ngetattr(Obj(), field)",
    ],
)
async def test_guard_allows_ordinary_code(executor: LocalExecutor, code: str) -> None:
    result = await executor.run(code)
    assert result.error is None, result.error


async def test_computed_dunder_names_are_refused_when_called(executor: LocalExecutor) -> None:
    result = await executor.run("name = '_' * 2 + 'class' + '_' * 2\ngetattr(1, name)")
    assert result.error == (
        "Error on line 2: `getattr(1, name)`\n"
        "AgentExecutionError: getattr() of the attribute '__class__' is not allowed in generated code"
    )


async def test_dynamic_import_of_dunder_names_is_refused() -> None:
    local = LocalExecutor(allow_dynamic=True)
    result = await local.run("__import__('collections', fromlist=['_' * 2 + 'builtins' + '_' * 2])")
    assert result.error is not None and "ImportError: importing the name '__builtins__'" in result.error


async def test_forbidden_builtins_are_also_removed_at_runtime(executor: LocalExecutor) -> None:
    """A second line behind the AST check: the names are not in the builtins either."""
    builtins_table = executor._builtins
    for name in ("eval", "exec", "compile", "open", "globals", "locals", "vars", "input", "breakpoint", "help"):
        assert name not in builtins_table


async def test_allow_open_permits_open(tmp_path: Any) -> None:
    target = tmp_path / "note.txt"
    target.write_text("hello")
    local = LocalExecutor(allow_open=True)
    result = await local.run(f"with open({str(target)!r}) as handle:\n    text = handle.read()\ntext")
    assert result.output == "hello"


async def test_allow_dynamic_permits_eval_but_still_checks_strings() -> None:
    local = LocalExecutor(allow_dynamic=True)
    assert (await local.run("x = 2\neval('x * 21')")).output == 42
    assert (await local.run("exec('y = 5')\ny")).output == 5
    result = await local.run("eval('().' + '_' * 2 + 'class' + '_' * 2)")
    assert result.error is not None and "not allowed in dynamic code" in result.error


async def test_user_namespace_keeps_real_builtins_after_a_run() -> None:
    user_ns: dict[str, Any] = {"__builtins__": __builtins__}
    local = LocalExecutor(user_ns)
    await local.run("x = 1")
    assert user_ns["__builtins__"] is __builtins__


# -- timeout, interrupt --------------------------------------------------------------


async def test_timeout_stops_a_busy_loop_and_the_executor_still_works() -> None:
    local = LocalExecutor(timeout=1)
    started = time.monotonic()
    result = await local.run("print('start')\nwhile True:\n    pass")
    elapsed = time.monotonic() - started
    assert result.error == "Execution timed out after 1 s"
    assert result.logs == "start\n"
    assert elapsed < 2.0
    after = await local.run("1 + 1")
    assert after.output == 2 and after.error is None


async def test_timeout_gets_through_a_bare_except() -> None:
    """The stop is repeated, so one bare ``except:`` does not keep the code running."""
    local = LocalExecutor(timeout=0.5)
    code = "try:\n    while True:\n        pass\nexcept:\n    print('caught')\nwhile True:\n    pass"
    started = time.monotonic()
    result = await local.run(code)
    assert result.error == "Execution timed out after 0.5 s"
    assert time.monotonic() - started < 1.5


async def test_code_blocked_in_c_is_reported_and_abandoned() -> None:
    """time.sleep cannot be interrupted in a worker thread: run() still returns after the grace period."""
    local = LocalExecutor(timeout=0.3)
    started = time.monotonic()
    result = await local.run("import time\ntime.sleep(3)")
    assert time.monotonic() - started < 2.0
    assert result.error is not None and result.error.startswith("Execution timed out after 0.3 s. The code did not stop")
    assert (await local.run("2 * 2")).output == 4


async def test_interrupt_stops_the_running_code(executor: LocalExecutor) -> None:
    task = asyncio.create_task(executor.run("n = 0\nwhile True:\n    n += 1"))
    await asyncio.sleep(0.2)
    await executor.interrupt()
    result = await asyncio.wait_for(task, 2)
    assert result.error == "Execution interrupted"
    assert (await executor.run("n > 0")).output is True


async def test_interrupt_when_idle_does_nothing(executor: LocalExecutor) -> None:
    await executor.interrupt()
    assert (await executor.run("3")).output == 3


# -- variables, reset, user namespace ---------------------------------------------


async def test_send_variables_puts_values_in_the_namespace(executor: LocalExecutor) -> None:
    await executor.send_variables({"data": [1, 2, 3]})
    assert (await executor.run("sum(data)")).output == 6


async def test_reset_forgets_variables_but_keeps_tools(executor: LocalExecutor) -> None:
    await executor.run("secret = 1")
    await executor.reset()
    result = await executor.run("secret")
    assert result.error == "Error on line 1: `secret`\nNameError: name 'secret' is not defined"
    assert (await executor.run("add(1, 2)")).output == 3


async def test_user_namespace_is_read_and_written() -> None:
    user_ns: dict[str, Any] = {"prices": [3, 4]}
    local = LocalExecutor(user_ns)
    result = await local.run("total = sum(prices)\ntotal")
    assert result.output == 7
    assert user_ns["total"] == 7


async def test_reset_of_a_user_namespace_keeps_the_users_own_names() -> None:
    user_ns: dict[str, Any] = {"mine": 1}
    local = LocalExecutor(user_ns)
    await local.run("theirs = 2\nmine = 10")
    await local.reset()
    assert user_ns["mine"] == 10
    assert "theirs" not in user_ns


async def test_functions_defined_by_the_agent_still_work_from_the_host() -> None:
    """A function the agent left in the user's namespace prints normally when the user calls it."""
    user_ns: dict[str, Any] = {}
    local = LocalExecutor(user_ns)
    await local.run("def shout(word):\n    print(word.upper())\n    return len(word)")
    assert user_ns["shout"]("hey") == 3


async def test_runs_do_not_block_the_event_loop(executor: LocalExecutor) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await executor.run("import time\ntime.sleep(0.3)")
    task.cancel()
    assert ticks >= 10


async def test_tool_subclass_with_state_runs_setup_once(executor: LocalExecutor) -> None:
    class Store(Tool):
        name = "store"
        description = "Remember a value and return how many are stored."
        inputs = {"value": {"type": "any", "description": "the value"}}
        output_type = "integer"

        def setup(self) -> None:
            self.items: list[Any] = []

        def forward(self, value: Any) -> int:
            self.items.append(value)
            return len(self.items)

    await executor.send_tools({"store": Store()})
    await executor.run("store(1)")
    assert (await executor.run("store('x')")).output == 2
