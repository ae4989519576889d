"""%%agent and %agent with the default local executor: the agent works in the user's namespace."""

from __future__ import annotations

from magic_helpers import code_reply, configure, run


def test_cell_computes_over_user_variable_and_leaves_its_variables(shell, loopback):
    server = loopback([code_reply("total = sum(nums)\nprint(total)"), code_reply("final_answer(total * 2)")])
    configure(shell, server)
    assert run(shell, "nums = [3, 4, 5]").success

    result = run(shell, "%%agent --out doubled\nDouble the sum of `nums`.")

    assert result.success, result.error_in_exec
    assert result.result == 24
    assert shell.user_ns["total"] == 12  # made by the agent, left for the user
    assert shell.user_ns["doubled"] == 24
    assert run(shell, "total + doubled").result == 36


def test_braces_are_filled_from_the_namespace(shell, loopback):
    server = loopback([code_reply("final_answer('ok')")])
    configure(shell, server)
    run(shell, "city = 'Lyon'\nconfig = {'a': 1}")

    assert run(shell, '%%agent\nWeather in {city} ({city!r}), as JSON {"k": 1}; braces {{city}}').result == "ok"

    task = server.chat_requests[0].messages[-1]["content"]
    assert "Weather in Lyon ('Lyon'), as JSON {\"k\": 1}; braces {city}" in task


def test_line_task_with_options(shell, loopback):
    server = loopback([code_reply("final_answer(x + 1)")])
    configure(shell, server)
    run(shell, "x = 41")

    result = run(shell, "%agent --max-steps 2 What's {x} plus one")

    assert result.result == 42
    assert "What's 41 plus one" in server.chat_requests[0].messages[-1]["content"]


def test_vars_are_described_in_the_task(shell, loopback):
    server = loopback([code_reply("final_answer(len(nums))")])
    configure(shell, server)
    run(shell, "nums = [1, 2, 3]")

    assert run(shell, "%%agent --vars nums\nHow many numbers?").result == 3

    task = server.chat_requests[0].messages[-1]["content"]
    assert "- nums: list = [1, 2, 3]" in task


def test_memory_spans_cells_and_usage_accumulates(shell, loopback, capsys):
    server = loopback([code_reply("a = 2\nfinal_answer(a)"), code_reply("final_answer(a * 10)")])
    configure(shell, server)

    assert run(shell, "%%agent\nSet a to 2.").result == 2
    assert run(shell, "%%agent\nMultiply a by ten.").result == 20

    second = server.chat_requests[1].messages
    assert any("Earlier task: Set a to 2." in (m.get("content") or "") for m in second)
    capsys.readouterr()
    run(shell, "%agent usage")
    run(shell, "%agent memory")
    out = capsys.readouterr().out
    assert "Total: 2 runs" in out
    assert "Memory: 2 of 5 slots used" in out


def test_memory_size_option_gives_a_separate_agent(shell, loopback):
    server = loopback([code_reply("final_answer(1)"), code_reply("final_answer(2)")])
    configure(shell, server)

    run(shell, "%%agent\nfirst")
    run(shell, "%%agent --memory-size 0\nsecond")

    second = server.chat_requests[1].messages
    assert not any("Earlier task" in (m.get("content") or "") for m in second)


def test_config_sets_defaults_for_later_cells(shell, loopback, capsys):
    server = loopback([code_reply("print('step')"), code_reply("print('again')"), "final: 7"])
    run(shell, f"%agent config model=openai/loopback api_base={server.api_base} max_steps=2 memory_size=3")
    capsys.readouterr()
    run(shell, "%agent config")
    shown = capsys.readouterr().out
    assert "max_steps    = 2" in shown and "memory_size  = 3" in shown and server.api_base in shown

    result = run(shell, "%%agent\nNever finishes.")

    assert len(server.chat_requests) == 3  # two steps, then the final attempt
    assert result.result == "final: 7"
    assert "did not finish" in capsys.readouterr().err


def test_export_puts_the_last_runs_code_in_the_next_cell(shell, loopback):
    server = loopback([code_reply("y = 5\nprint(y)"), code_reply("final_answer(y)")])
    configure(shell, server)
    run(shell, "%%agent\nMake y.")

    assert run(shell, "%agent export").success

    assert shell.rl_next_input.startswith("# exported from %%agent: Make y.")
    assert "y = 5\nprint(y)\n\nresult = y" in shell.rl_next_input


def test_tools_from_the_namespace(shell, loopback, capsys):
    server = loopback([code_reply("final_answer(triple(n=4))")])
    configure(shell, server)
    run(shell, 'from smolkernel import tool\n@tool\ndef triple(n: int) -> int:\n    """Triple a number.\n\n    Args:\n        n: the number\n    """\n    return 3 * n')

    assert run(shell, "%%agent --tools triple\nTriple 4.").result == 12
    assert "triple(n: int) -> int" in server.chat_requests[0].messages[0]["content"]
    capsys.readouterr()
    run(shell, "%agent tools")
    assert "triple: Triple a number." in capsys.readouterr().out


def test_toolcalling_kind(shell, loopback):
    server = loopback([{"tool_calls": [{"name": "final_answer", "arguments": {"answer": "done"}}]}])
    configure(shell, server, "kind=toolcalling")

    assert run(shell, "%agent Say done.").result == "done"


def test_reset_forgets_memory_but_keeps_variables(shell, loopback):
    server = loopback([code_reply("kept = 1\nfinal_answer(kept)"), code_reply("final_answer(2)")])
    configure(shell, server)
    run(shell, "%%agent\nfirst")

    assert run(shell, "%agent reset").success
    run(shell, "%%agent\nsecond")

    assert shell.user_ns["kept"] == 1
    assert not any("Earlier task" in (m.get("content") or "") for m in server.chat_requests[1].messages)


def test_help_for_both_magics(shell, capsys):
    run(shell, "%agent?")
    line_help = capsys.readouterr().out
    run(shell, "%%agent?")
    cell_help = capsys.readouterr().out

    assert "%agent config KEY=VALUE" in line_help and "--max-steps" in line_help
    assert "%%agent [--model MODEL]" in cell_help and "--vars VARS" in cell_help


def test_record_then_replay_offline(shell, loopback, tmp_path):
    cassette = tmp_path / "agent.jsonl"
    server = loopback([code_reply("final_answer(len('replayed'))")])
    configure(shell, server)
    recorded = run(shell, f"%%agent --record {cassette}\nCount the letters of 'replayed'.")
    assert recorded.success, recorded.error_in_exec
    assert recorded.result == 8 and cassette.read_text().count("\n") == 1
    replayed = run(shell, f"%%agent --model replay:{cassette}\nCount the letters of 'replayed'.")
    assert replayed.success, replayed.error_in_exec
    assert replayed.result == 8
    assert len(server.chat_requests) == 1  # the replay made no HTTP call
