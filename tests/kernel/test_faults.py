"""Bad input and faults: interrupts, an unreachable model, a dead sibling, the kernel's own errors."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from harness import code_reply, start_kernel

INTERRUPT_LIMIT = 2.0
"""Seconds from Kernel -> Interrupt to the cell's end, as the issue requires."""


@pytest.fixture(scope="module")
def kernel(text_kernel):
    """The faults run on the text-mode kernel (so they also cover the text views)."""
    return text_kernel


def _interrupt_after(kernel, code, delay=1.0, timeout=30):
    msg_id = kernel.client.execute(code)
    time.sleep(delay)
    started = time.monotonic()
    kernel.manager.interrupt_kernel()
    run = kernel.collect(msg_id, timeout=timeout)
    return run, time.monotonic() - started


def _sibling_pid(kernel) -> int:
    run = kernel.execute("%%python\nimport os\nos.getpid()")
    return int(run.result["data"]["text/plain"])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def test_interrupt_running_code_keeps_memory_and_workspace(kernel, llm):
    llm.add_replies(code_reply("kept = 'still here'\nfinal_answer(kept)"))
    kernel.execute("Remember MARKER-KEEP")
    llm.add_replies(code_reply("import time\ntime.sleep(60)\nfinal_answer('too late')"))
    run, took = _interrupt_after(kernel, "Sleep a minute", delay=1.5)
    assert took < INTERRUPT_LIMIT
    assert run.status == "error" and run.reply["ename"] == "KeyboardInterrupt"
    assert "MARKER-KEEP" in kernel.execute("%memory").text()
    assert kernel.execute("%%python\nkept").result["data"]["text/plain"] == "'still here'"
    llm.add_replies(code_reply("final_answer(kept.upper())"))
    assert kernel.execute("Shout kept").result["data"]["text/plain"] == "STILL HERE"


def test_interrupt_a_hanging_model_call(kernel, llm):
    llm.inject_fault("hang")
    run, took = _interrupt_after(kernel, "Wait for the model", delay=1.0)
    assert took < INTERRUPT_LIMIT
    assert run.reply["ename"] == "KeyboardInterrupt"
    llm.add_replies(code_reply("final_answer('next')"))
    assert kernel.execute("Next").result["data"]["text/plain"] == "next"


def test_interrupt_a_python_cell(kernel):
    run, took = _interrupt_after(kernel, "%%python\nimport time\ntime.sleep(60)", delay=1.0)
    assert took < INTERRUPT_LIMIT and run.status == "error"
    assert kernel.execute("%%python\n1 + 1").result["data"]["text/plain"] == "2"


def test_interrupt_host_code_in_a_tool_cell(kernel):
    run, took = _interrupt_after(kernel, "%%tool\nimport time\ntime.sleep(60)", delay=1.0)
    assert took < INTERRUPT_LIMIT and run.reply["ename"] == "KeyboardInterrupt"
    assert kernel.execute("%help").status == "ok"


def test_unreachable_model_gives_a_clear_error_in_time(kernel, llm):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        kernel.execute(f"%model openai/test --api-base http://127.0.0.1:{port}/v1")
        started = time.monotonic()
        run = kernel.execute("Anything", timeout=60)
        assert time.monotonic() - started < 30
        assert run.status == "error" and run.reply["ename"] == "RunFailed"
        assert "could not reach the server" in run.reply["evalue"]
    finally:
        kernel.execute(f"%model openai/test --api-base {llm.api_base}")


def test_killed_sibling_is_reported_and_the_next_cell_works(kernel, llm):
    pid = _sibling_pid(kernel)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    llm.add_replies(code_reply("import os\nfinal_answer(os.getpid())"))
    run = kernel.execute("Which process are you?")
    assert run.status == "ok", run.text()
    assert "restarted" in run.stderr, run.outputs
    assert int(run.result["data"]["text/plain"]) != pid



def test_sibling_dying_mid_run_is_reported_to_the_model(kernel, llm):
    llm.add_replies(code_reply("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), code_reply("final_answer('survived')"))
    run = kernel.execute("Crash the workspace")
    assert run.result["data"]["text/plain"] == "survived"
    assert "died" in run.stderr


def test_kernel_survives_an_error_in_its_own_code(kernel, llm):
    kernel.execute("%%tool\nk = get_ipython().kernel\nk.agent_session.ensure_agent = lambda: 1 / 0")
    run = kernel.execute("Anything")
    assert run.status == "error" and run.reply["ename"] == "ZeroDivisionError"
    assert "SmolKernel itself" in run.reply["evalue"]
    kernel.execute("%%tool\ndel k.agent_session.ensure_agent")
    llm.add_replies(code_reply("final_answer('fine')"))
    assert kernel.execute("Still fine?").result["data"]["text/plain"] == "fine"


def test_shutdown_and_restart_stop_the_sibling(llm):
    driver = start_kernel()
    try:
        first = _sibling_pid(driver)
        driver.manager.restart_kernel(now=False)
        driver.client.wait_for_ready(timeout=60)
        assert not _pid_alive(first)
        second = _sibling_pid(driver)
    finally:
        driver.shutdown()
    deadline = time.monotonic() + 10
    while _pid_alive(second) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(second)
