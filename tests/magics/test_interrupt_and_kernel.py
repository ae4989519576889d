"""Interrupting a run, and the kernel executor: --vars sent to a sibling kernel, --out brought back."""

from __future__ import annotations

import _thread
import threading
import time

import pytest
from IPython.core.error import UsageError
from magic_helpers import code_reply, configure, run
from needs import needs_command


def test_ctrl_c_stops_the_run_within_two_seconds(shell, loopback, capsys):
    server = loopback([code_reply("n = 0\nwhile True:\n    n = n + 1"), code_reply("final_answer('after')")])
    configure(shell, server, "timeout=60")
    interrupted_at: list[float] = []

    def interrupt_once_running() -> None:
        deadline = time.monotonic() + 30
        while not server.chat_requests and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the generated loop is now spinning in the user's namespace
        interrupted_at.append(time.monotonic())
        _thread.interrupt_main()

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    result = run(shell, "%%agent\nCount forever.")
    stopped_after = time.monotonic() - interrupted_at[0]

    assert type(result.error_in_exec) is UsageError
    assert "interrupted" in str(result.error_in_exec)
    assert stopped_after < 2.0
    assert "Traceback" not in capsys.readouterr().err
    assert shell.user_ns["n"] > 0  # the loop did run in the user's namespace
    assert run(shell, "%%agent\nNow answer.").result == "after"  # the agent is usable again


@pytest.mark.slow
def test_kernel_executor_vars_and_out(shell, loopback):
    server = loopback([code_reply("total = sum(nums)\nprint(total)"), code_reply("final_answer({'total': total, 'n': len(nums)})")])
    configure(shell, server)
    run(shell, "nums = [2, 4, 6]")

    result = run(shell, "%%agent --executor kernel --vars nums --out summary\nSum the numbers.")

    assert result.success, result.error_in_exec
    assert result.result == {"total": 12, "n": 3}
    assert shell.user_ns["summary"] == {"total": 12, "n": 3}
    assert "total" not in shell.user_ns  # the code ran in the sibling kernel, not here
    assert "- nums: list = [2, 4, 6]" in server.chat_requests[0].messages[-1]["content"]
    run(shell, "%agent reset")  # stops the sibling kernel


@pytest.mark.slow
def test_kernel_executor_dataframe_needs_pickle(shell, loopback, capsys):
    pd = pytest.importorskip("pandas")
    server = loopback([code_reply("final_answer(float(df['x'].mean()))")])
    configure(shell, server, "executor=kernel")
    shell.user_ns["df"] = pd.DataFrame({"x": [1.0, 2.0, 6.0]})

    refused = run(shell, "%%agent --vars df\nMean of x.")
    assert type(refused.error_in_exec) is UsageError
    assert "pickle=true" in str(refused.error_in_exec)

    run(shell, "%agent config pickle=true")
    assert run(shell, "%%agent --vars df --out mean\nMean of x.").result == 3.0
    assert shell.user_ns["mean"] == 3.0
    run(shell, "%agent reset")


@pytest.mark.slow
@needs_command("bwrap", "bubblewrap")
def test_sandbox_executor_vars_and_out(shell, loopback):
    server = loopback([code_reply("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 1), timeout=0.5)\n    net = 'open'\nexcept OSError:\n    net = 'blocked'\nfinal_answer([max(nums), net])")])
    configure(shell, server)
    run(shell, "nums = [7, 3, 9]")
    result = run(shell, "%%agent --executor sandbox --vars nums --out found\nLargest number, and is the network reachable?")
    assert result.success, result.error_in_exec
    assert shell.user_ns["found"] == [9, "blocked"]
    run(shell, "%agent reset")
