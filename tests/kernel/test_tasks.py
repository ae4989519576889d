"""Task cells: answers as execute_result, live steps, memory and workspace across cells."""

from __future__ import annotations

from harness import code_reply


def test_task_answer_is_the_execute_result(kernel, llm):
    llm.add_replies(code_reply("total = 21 * 2\nprint('computed', total)\nfinal_answer(total)"))
    run = kernel.execute("What is 21 times 2?")
    assert run.status == "ok", run.text()
    assert run.result["data"]["text/plain"] == "42"
    assert run.result["execution_count"] == run.reply["execution_count"]


def test_execution_count_grows_like_a_python_kernel(kernel, llm):
    first = kernel.execute("%help")
    llm.add_replies(code_reply("final_answer('done')"))
    second = kernel.execute("say done")
    assert second.reply["execution_count"] == first.reply["execution_count"] + 1
    assert second.result["data"]["text/plain"] == "done"


def test_later_task_uses_a_variable_an_earlier_task_made(kernel, llm):
    llm.add_replies(code_reply("prices = [3, 4, 5]\nfinal_answer(len(prices))"))
    assert kernel.execute("Make a list of prices").result["data"]["text/plain"] == "3"
    llm.add_replies(code_reply("final_answer(sum(prices))"))
    run = kernel.execute("Sum the prices you made")
    assert run.status == "ok", run.text()
    assert run.result["data"]["text/plain"] == "12"


def test_memory_reaches_the_next_prompt(kernel, llm):
    llm.add_replies(code_reply("final_answer('blue')"))
    kernel.execute("Pick a colour called MARKER-7")
    llm.add_replies(code_reply("final_answer('ok')"))
    kernel.execute("What colour did you pick?")
    prompt = " ".join(str(m.get("content")) for m in llm.chat_requests[-1].messages)
    assert "MARKER-7" in prompt and "blue" in prompt


def test_dataframe_answer_shows_as_a_table(kernel, llm):
    llm.add_replies(code_reply("import pandas as pd\nfinal_answer(pd.DataFrame({'city': ['Oslo', 'Lima'], 'n': [1, 2]}))"))
    run = kernel.execute("Make a table of two cities")
    assert run.status == "ok", run.text()
    assert "<table" in run.result["data"]["text/html"]
    assert "Oslo" in run.result["data"]["text/plain"]


def test_displays_from_generated_code_appear_in_the_cell(kernel, llm):
    code = "from IPython.display import display, HTML\ndisplay(HTML('<b>chart-here</b>'))\nfinal_answer('shown')"
    llm.add_replies(code_reply(code))
    run = kernel.execute("Show a chart")
    assert any("chart-here" in d["data"].get("text/html", "") for d in run.displays)
    rendered = [c for t, c in run.outputs if t in ("display_data", "update_display_data") and "<b>chart-here</b>" in c["data"].get("text/html", "")]
    assert len(rendered) == 1, "the run view's snapshot must not repeat the display (its code shows it escaped)"


def test_run_is_shown_live_as_text(text_kernel, llm):
    llm.add_replies(code_reply("print('step output here')"), code_reply("final_answer(7)"))
    run = text_kernel.execute("Two steps please")
    assert run.result["data"]["text/plain"] == "7"
    assert "[step 1] code:" in run.stdout and "step output here" in run.stdout
    assert "[step 2] code:" in run.stdout and "2 steps" in run.stdout


def test_step_error_is_shown_and_the_run_recovers(text_kernel, llm):
    llm.add_replies(code_reply("1 / 0"), code_reply("final_answer('recovered')"))
    run = text_kernel.execute("Divide")
    assert "ZeroDivisionError" in run.stderr
    assert run.result["data"]["text/plain"] == "recovered"


def test_python_cell_runs_in_the_agents_workspace(kernel, llm):
    llm.add_replies(code_reply("shared_value = 99\nfinal_answer(shared_value)"))
    kernel.execute("Set shared_value")
    run = kernel.execute("%%python\nprint('seen', shared_value)\nshared_value + 1")
    assert run.status == "ok", run.text()
    assert "seen 99" in run.stdout
    assert run.result["data"]["text/plain"] == "100"


def test_python_cell_error_is_an_error_reply(kernel):
    run = kernel.execute("%%python\nundefined_name_xyz")
    assert run.status == "error"
    assert run.reply["ename"] == "NameError"


def test_python_cell_values_reach_the_next_task(kernel, llm):
    kernel.execute("%%python\nfrom_python = 'hello'")
    llm.add_replies(code_reply("final_answer(from_python.upper())"))
    assert kernel.execute("Shout it").result["data"]["text/plain"] == "HELLO"


def test_export_offers_the_last_code_as_a_new_cell(kernel, llm):
    llm.add_replies(code_reply("exported = 5 * 5\nfinal_answer(exported)"))
    kernel.execute("Square five")
    run = kernel.execute("%export")
    (payload,) = run.reply["payload"]
    assert payload["source"] == "set_next_input"
    assert "exported = 5 * 5" in payload["text"]


def test_toolcalling_agent_keeps_the_memory(kernel, llm):
    kernel.execute("%agent toolcalling")
    try:
        llm.add_replies({"tool_calls": [{"name": "final_answer", "arguments": {"answer": "via tools"}}]})
        run = kernel.execute("Answer with a tool call")
        assert run.result["data"]["text/plain"] == "via tools", run.text()
        assert "memory" in kernel.execute("%memory").text().lower()
    finally:
        kernel.execute("%agent code")


def test_run_without_final_answer_fails_the_cell_after_the_last_attempt(kernel, llm):
    llm.add_replies(*[code_reply("print('thinking')")] * 10, "my best guess")
    run = kernel.execute("Never finish")
    assert run.status == "error" and run.reply["ename"] == "MaxStepsReached"
    assert "max_steps=10" in run.reply["evalue"] and "%unfinished allow" in run.reply["evalue"]
    assert "no final answer" in run.stderr
    assert run.result["data"]["text/plain"] == "my best guess"
    assert run.error["ename"] == "MaxStepsReached"


def test_unfinished_allow_lets_the_cell_end_ok(kernel, llm):
    assert "allow" in kernel.execute("%unfinished allow").stdout
    try:
        llm.add_replies(*[code_reply("print('thinking')")] * 10, "my best guess")
        run = kernel.execute("Never finish")
        assert run.status == "ok" and run.error is None
        assert run.result["data"]["text/plain"] == "my best guess"
    finally:
        assert "error" in kernel.execute("%unfinished error").stdout
    assert kernel.execute("%unfinished maybe").status == "error"
