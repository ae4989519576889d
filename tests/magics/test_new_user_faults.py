"""Faults a new user hit with the magics: each gets a precise, single message."""

from __future__ import annotations

import json

from magic_helpers import code_reply, run
from test_errors import assert_short_error


def test_missing_api_key_fails_when_the_model_is_configured(shell, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    message = assert_short_error(shell, capsys, "%agent config model=openai/gpt-4o-mini", "OPENAI_API_KEY", "%agent config api_key_env=")
    assert "api_key=" not in message.replace("api_key_env=", "")  # no Python-only advice
    assert "interrupted" not in message
    assert run(shell, "%agent config").success  # the bad model was not kept


def test_missing_api_key_on_a_cell_names_the_variable(shell, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert_short_error(shell, capsys, "%%agent --model openai/gpt-4o-mini\nhello", "OPENAI_API_KEY", "--api-key-env")


def test_a_scripted_file_plays_from_its_start_in_every_cell(shell, tmp_path, capsys):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([code_reply("final_answer(6 * 7)")]))
    first = run(shell, f"%%agent --model scripted:{replies}\nAnswer.")
    second = run(shell, f"%%agent --model scripted:{replies}\nAnswer again.")
    assert first.result == 42 and second.result == 42
    assert "ran out of responses" not in capsys.readouterr().err


def test_a_failed_run_gets_the_hint_that_matches_its_cause(shell, tmp_path, capsys):
    replies = tmp_path / "one.json"
    replies.write_text(json.dumps([code_reply("x = 1")]))  # one step, no answer, then nothing left
    run(shell, f"%%agent --model scripted:{replies} --max-steps 3\nNever answers.")
    err = capsys.readouterr().err
    assert "ran out of responses" in err and "--max-steps" not in err


def test_final_answer_stays_out_of_the_users_namespace(shell, tmp_path, capsys):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([code_reply("total = sum(range(5))\nfinal_answer(total)")]))
    assert run(shell, f"%%agent --model scripted:{replies}\nSum.").result == 10
    assert "final_answer" not in shell.user_ns and shell.user_ns["total"] == 10
    capsys.readouterr()
    run(shell, "%agent tools")
    assert "final_answer" not in capsys.readouterr().out


def test_exported_code_runs_on_its_own(shell, tmp_path):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([code_reply("values = [3, 1, 2]\nfinal_answer(sorted(values))")]))
    run(shell, f"%%agent --model scripted:{replies}\nSort.")
    shell.rl_next_input = None
    assert run(shell, "%agent export").success
    exported = shell.rl_next_input
    assert "final_answer" not in exported and "result = sorted(values)" in exported
    shell.user_ns.pop("values", None)
    ran = run(shell, exported)
    assert ran.success, ran.error_in_exec
    assert shell.user_ns["result"] == [1, 2, 3]


def test_a_refused_import_gives_advice_that_works_in_the_magics(shell, tmp_path):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([code_reply("import sys\nfinal_answer(1)"), code_reply("final_answer(2)")]))
    assert run(shell, f"%%agent --model scripted:{replies}\nUse sys.").result == 2
    session = shell.magics_manager.registry["AgentMagics"].session
    first_error = session.last_agent.last_run.action_steps[0].error
    assert "import of 'sys' is not allowed" in first_error
    assert "%agent config imports=sys" in first_error and "LocalExecutor(" not in first_error
