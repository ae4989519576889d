"""``%%python`` cells behave like Python cells; the kernel adapts to what its client can do.

Real SmolKernel processes over jupyter_client; the client plays the parts a
frontend plays (answers ``input_request``, opens the widget control comm).
"""

from __future__ import annotations

import time

from harness import code_reply, start_kernel

from smolkernel.kernel.frontend import console_command, is_parameters_cell

TASK_TIMEOUT = 180
"""Seconds a task may take: a kernel's first model call imports litellm, slow on a loaded machine."""
TOOL_CELL = '%%tool\nfrom smolkernel import tool\n\n@tool\ndef shout(text: str) -> str:\n    """Upper-case text.\n\n    Args:\n        text: the text\n    """\n    return text.upper()\n'


def _timed_outputs(kernel, msg_id: str, timeout: float = 60) -> list[tuple[float, str, dict]]:
    """(arrival time, type, content) of each output of ``msg_id`` until the kernel is idle."""
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        msg = kernel.client.get_iopub_msg(timeout=deadline - time.monotonic())
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            return found
        if kind not in ("status", "execute_input"):
            found.append((time.monotonic(), kind, msg["content"]))
    raise TimeoutError("no idle status")


def test_output_arrives_live_and_in_order(kernel):
    code = ("%%python\nimport sys, time\nfrom IPython.display import display\n"
            "for i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.7)\n"
            "print('to stderr', file=sys.stderr, flush=True)\ndisplay('shown')\nprint('after', flush=True)")
    outputs = _timed_outputs(kernel, kernel.client.execute(code))
    ticks = [t for t, kind, c in outputs if kind == "stream" and c["text"].startswith("tick")]
    assert len(ticks) == 3 and ticks[-1] - ticks[0] > 0.5  # three messages, sent while the loop ran
    sequence = [(kind, c.get("name"), c.get("text", c.get("data", {}).get("text/plain"))) for _, kind, c in outputs]
    assert sequence[3:] == [("stream", "stderr", "to stderr\n"), ("display_data", None, "'shown'"), ("stream", "stdout", "after\n")]


def test_display_ids_updates_and_clear_output_are_forwarded(kernel):
    code = ("%%python\nfrom IPython.display import display, update_display, clear_output\n"
            "display('first', display_id='d-1')\nupdate_display('second', display_id='d-1')\n"
            "clear_output(wait=True)\nprint('fresh')")
    run = kernel.execute(code)
    assert run.status == "ok", run.text()
    kinds = [(kind, c.get("transient", {}).get("display_id")) for kind, c in run.outputs]
    assert kinds == [("display_data", "d-1"), ("update_display_data", "d-1"), ("clear_output", None), ("stream", None)]
    assert run.outputs[2][1] == {"wait": True}


def test_input_asks_the_user_while_tools_still_work(kernel):
    assert kernel.execute(TOOL_CELL).status == "ok"
    msg_id = kernel.client.execute("%%python\nname = input('who? ')\nprint('hi', shout(name))\nimport getpass\nlen(getpass.getpass('pin: '))")
    first = kernel.client.get_stdin_msg(timeout=60)
    assert first["content"] == {"prompt": "who? ", "password": False}
    kernel.client.input("ada")
    second = kernel.client.get_stdin_msg(timeout=60)
    assert second["content"]["password"] is True
    kernel.client.input("1234")
    run = kernel.collect(msg_id)
    assert run.status == "ok", run.text()
    assert run.stdout == "hi ADA\n" and run.result["data"]["text/plain"] == "4"


def test_input_without_stdin_is_end_of_file(kernel):
    run = kernel.execute("%%python\ninput('x')", allow_stdin=False)
    assert run.status == "error" and run.reply["ename"] == "EOFError"


def test_generated_code_stays_out_of_the_users_history(kernel, llm):
    llm.add_replies(code_reply("agent_history_marker = 1\nfinal_answer('ok')"))
    assert kernel.execute("Set the marker", timeout=TASK_TIMEOUT).status == "ok"
    history = kernel.request("history", hist_access_type="tail", n=50, raw=True, output=False)["history"]
    sources = [entry[2] for entry in history]
    assert "Set the marker" in sources
    assert not any("agent_history_marker" in s for s in sources)


def test_console_words_leave_or_help_instead_of_starting_tasks(kernel, llm):
    before = len(llm.chat_requests)
    for word in ("exit", "quit()"):
        run = kernel.execute(word)
        assert run.reply["payload"] == [{"source": "ask_exit", "keepkernel": False}]
    assert "%model" in kernel.execute("help").stdout
    assert len(llm.chat_requests) == before
    assert console_command("exit the loop when done") is None


def test_parameters_cell_runs_as_python(kernel, llm):
    before = len(llm.chat_requests)
    run = kernel.execute("# Parameters\nn = 7\nlabel = 'seven'\n")
    assert run.status == "ok" and run.outputs == []
    assert len(llm.chat_requests) == before
    llm.add_replies(code_reply("final_answer(n * 6)"))
    assert kernel.execute("Multiply n by six", timeout=TASK_TIMEOUT).result["data"]["text/plain"] == "42"
    prompt = " ".join(str(m.get("content")) for m in llm.chat_requests[-1].messages)
    assert "n = 7" in prompt and "label = 'seven'" in prompt  # the agent is told what the parameters are


def test_parameters_cells_are_told_from_tasks():
    assert is_parameters_cell("n = 3\nname = 'x'  # default")
    assert is_parameters_cell("anything", {"tags": ["injected-parameters"]})
    assert not is_parameters_cell("Set n = 3 and report it")
    assert not is_parameters_cell("n = compute()")
    assert not is_parameters_cell("# just a comment")


def test_completion_works_before_the_workspace_started(llm):
    driver = start_kernel()
    try:
        reply = driver.request("complete", "%%python\nzi", 11, timeout=90)
        assert "zip" in reply["matches"] and reply["cursor_start"] == 9
        assert driver.request("inspect", "%%python\nlen", 12, timeout=60)["found"]
    finally:
        driver.shutdown()


def test_runs_show_text_progress_until_the_client_renders_widgets(llm):
    driver = start_kernel()
    try:
        assert driver.execute(f"%model openai/test --api-base {llm.api_base}").status == "ok"
        llm.add_replies(code_reply("print('step output')"), code_reply("final_answer(3)"))
        run = driver.execute("Two steps", timeout=TASK_TIMEOUT)
        assert "[step 1] code:" in run.stdout and "step output" in run.stdout
        assert not any("application/vnd.jupyter.widget-view+json" in d["data"] for d in run.displays)
        driver.open_widget_manager()
        llm.add_replies(code_reply("final_answer(4)"))
        run = driver.execute("One step", timeout=TASK_TIMEOUT)
        assert any("application/vnd.jupyter.widget-view+json" in d["data"] for d in run.displays)
        assert "[step 1] code:" not in run.stdout
    finally:
        driver.shutdown()
