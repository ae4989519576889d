"""Directive cells in a running SmolKernel: %help, %model, %tools, %%tool, %memory, %usage, %reset, ..."""

from __future__ import annotations

import json

from harness import code_reply, start_kernel


def test_help_lists_every_directive(kernel):
    text = kernel.execute("%help").stdout
    for name in ("%model", "%agent", "%executor", "%tools", "%%tool", "%memory", "%usage", "%reset", "%%python", "%export", "%unfinished", "%help"):
        assert name in text


def test_unknown_directive_lists_the_valid_ones(kernel):
    run = kernel.execute("%modle gpt")
    assert run.status == "error"
    assert run.reply["ename"] == "UnknownDirective"
    assert "%model" in run.reply["evalue"] and "%%python" in run.reply["evalue"]
    assert len(run.reply["traceback"]) == 1


def test_line_form_of_a_cell_directive_says_which_is_meant(kernel):
    run = kernel.execute("%python print(1)")
    assert run.status == "error" and "%%python" in run.reply["evalue"]


def test_empty_cell_does_nothing(kernel):
    before = kernel.execute("%help").reply["execution_count"]
    run = kernel.execute("   \n  ")
    assert run.status == "ok" and run.outputs == []
    assert kernel.execute("%help").reply["execution_count"] == before + 1


def test_bad_model_spec_is_a_short_error(kernel):
    run = kernel.execute("%model not a model")
    assert run.status == "error"
    assert "model" in run.reply["evalue"] and "Traceback" not in "".join(run.reply["traceback"])


def test_missing_api_key_variable_is_named(kernel):
    run = kernel.execute("%model openai/x --api-key-env SMOLKERNEL_TEST_UNSET_KEY")
    assert run.status == "error" and "SMOLKERNEL_TEST_UNSET_KEY" in run.reply["evalue"]


def test_missing_provider_key_fails_when_the_model_is_set(monkeypatch):
    """The key is checked by %model itself, not by the first task seconds later."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    kernel = start_kernel()
    try:
        run = kernel.execute("%model openai/gpt-4o-mini")
    finally:
        kernel.shutdown()
    assert run.status == "error" and run.reply["ename"] == "MissingAPIKeyError"
    evalue = run.reply["evalue"]
    assert "OPENAI_API_KEY" in evalue and "--api-key-env" in evalue and "interrupted" not in evalue
    assert "api_key=" not in evalue  # Python-only advice does not belong in the kernel


def test_model_without_spec_shows_the_current_one(kernel, llm):
    assert "openai/test" in kernel.execute("%model").stdout


def test_agent_kind_must_be_known(kernel):
    run = kernel.execute("%agent clever")
    assert run.status == "error" and "code" in run.reply["evalue"] and "toolcalling" in run.reply["evalue"]


def test_tool_cell_registers_tools_the_agent_can_call(kernel, llm):
    run = kernel.execute('%%tool\nfrom smolkernel import tool\n\n@tool\ndef shout(text: str) -> str:\n    """Upper-case text.\n\n    Args:\n        text: the text\n    """\n    return text.upper()\n')
    assert run.status == "ok", run.text()
    assert "shout" in run.stdout
    assert "shout(text: str)" in kernel.execute("%tools").stdout
    llm.add_replies(code_reply("final_answer(shout('quiet'))"))
    assert kernel.execute("Shout quiet").result["data"]["text/plain"] == "QUIET"


def test_tool_cell_error_is_shown(kernel):
    run = kernel.execute("%%tool\nraise ValueError('bad tool cell')")
    assert run.status == "error" and run.reply["ename"] == "ValueError"


def test_tools_adds_a_tool_by_module_path(kernel):
    run = kernel.execute("%tools smolkernel.tools.final_answer:FinalAnswerTool")
    assert run.status == "error" and "not a Tool" in run.reply["evalue"]
    run = kernel.execute("%tools no_such_name")
    assert run.status == "error" and "no_such_name" in run.reply["evalue"]


def test_memory_size_and_clear(kernel, llm):
    assert "keeps the last 2" in kernel.execute("%memory size 2").stdout
    for answer in ("a", "b", "c"):
        llm.add_replies(code_reply(f"final_answer({answer!r})"))
        kernel.execute(f"say {answer}")
    shown = kernel.execute("%memory").text()
    assert "say c" in shown and "say a" not in shown
    kernel.execute("%memory clear")
    assert "say c" not in kernel.execute("%memory").text()
    kernel.execute("%memory size 5")


def test_memory_rejects_a_bad_size(kernel):
    assert kernel.execute("%memory size many").status == "error"


def test_usage_shows_tokens(kernel, llm):
    llm.add_replies(code_reply("final_answer(1)"))
    kernel.execute("count")
    assert "in" in kernel.execute("%usage").text()


def test_reset_forgets_memory_and_workspace(kernel, llm):
    kernel.execute("%%python\nbefore_reset = 1")
    run = kernel.execute("%reset")
    assert run.status == "ok" and "cleared" in run.stdout
    assert kernel.execute("%%python\nbefore_reset").reply["ename"] == "NameError"


def test_export_without_a_run_is_a_clear_error():
    driver = start_kernel()
    try:
        run = driver.execute("%export", timeout=30)
        assert run.status == "error" and "run a task first" in run.reply["evalue"]
    finally:
        driver.shutdown()


def test_executor_switch_to_local(kernel, llm):
    try:
        assert kernel.execute("%executor local --timeout 5").status == "ok"
        llm.add_replies(code_reply("final_answer(2 + 2)"))
        assert kernel.execute("add").result["data"]["text/plain"] == "4"
        assert kernel.execute("%executor warp").status == "error"
    finally:
        kernel.execute("%executor kernel --timeout 60")


def test_directives_complete_in_task_cells(kernel):
    reply = kernel.request("complete", "%mem", 4)
    assert reply["matches"] == ["%memory"] and reply["cursor_start"] == 0
    reply = kernel.request("complete", "%agent to", 9)
    assert reply["matches"] == ["toolcalling"]
    assert "%%python" in kernel.request("complete", "%%", 2)["matches"]


def test_python_cell_final_answer_keeps_its_rich_display(kernel):
    run = kernel.execute("%%python\nimport pandas as pd\nfinal_answer(pd.DataFrame({'city': ['Oslo']}))")
    assert run.status == "ok", run.text()
    assert "<table" in run.result["data"]["text/html"] and "Oslo" in run.result["data"]["text/plain"]


def test_python_cells_complete_and_inspect_in_the_sibling(kernel):
    kernel.execute("%%python\nsibling_only_variable = 3")
    code = "%%python\nsibling_only_v"
    reply = kernel.request("complete", code, len(code))
    assert "sibling_only_variable" in reply["matches"]
    assert reply["cursor_start"] == code.index("sibling_only_v")
    inspected = kernel.request("inspect", "%%python\nsibling_only_variable", 30)
    assert inspected["found"] and "int" in inspected["data"]["text/plain"]


def test_directive_inspection_shows_its_help(kernel):
    reply = kernel.request("inspect", "%memory", 3)
    assert reply["found"] and "size N" in reply["data"]["text/plain"]


def test_no_model_explains_how_to_set_one():
    driver = start_kernel()
    try:
        run = driver.execute("What is 2 + 2?", timeout=30)
        assert run.status == "error"
        assert "%model" in run.reply["evalue"] and "SMOLKERNEL_MODEL" in run.reply["evalue"]
        assert not any("Traceback" in line for line in run.reply["traceback"])
    finally:
        driver.shutdown()


def test_configuration_from_traitlets_and_environment(tmp_path):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([code_reply("print('one')"), code_reply("final_answer('late')"), "gave up"]))
    driver = start_kernel(extra_args=(f"--SmolKernel.model=scripted:{replies}", "--SmolKernel.max_steps=1", "--SmolKernel.executor=local"))
    try:
        run = driver.execute("Try once", timeout=30)
        assert "max_steps=1" in run.stderr
        assert "local" in driver.execute("%executor").stdout
    finally:
        driver.shutdown()
    replies.write_text(json.dumps([code_reply("final_answer('from env')")]))
    driver = start_kernel(env={"SMOLKERNEL_MODEL": f"scripted:{replies}"})
    try:
        assert driver.execute("Go", timeout=60).result["data"]["text/plain"] == "from env"
    finally:
        driver.shutdown()


def test_model_if_unset_keeps_the_configured_model(kernel):
    run = kernel.execute("%model scripted:/nonexistent.json --if-unset")
    assert run.status == "ok" and "already configured" in run.stdout
    assert "openai/test" in kernel.execute("%model").stdout


def test_model_record_writes_a_cassette_that_replays(kernel, llm, tmp_path):
    cassette = tmp_path / "cell.jsonl"
    base = llm.api_base
    assert kernel.execute(f"%model openai/test --api-base {base} --record {cassette}").status == "ok"
    llm.add_replies(code_reply("final_answer(6 * 7)"))
    assert kernel.execute("Multiply six by seven").result["data"]["text/plain"] == "42"
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert len(lines) == 1 and "final_answer(6 * 7)" in lines[0]["response"]["content"]
    assert kernel.execute(f"%model openai/test --api-base {base}").status == "ok"
