"""%agent save and %agent load in a real IPython shell, with loopback model servers."""

from __future__ import annotations

import yaml
from magic_helpers import code_reply, configure, run

TOOL_CELL = '''
from smolkernel import tool
RATE = 3

@tool
def rate(x: int) -> int:
    """Multiply by the rate.

    Args:
        x: the number
    """
    return x * RATE
'''


def test_save_then_load_needs_trust_and_restores_the_tool(shell, loopback, tmp_path):
    server = loopback([code_reply("final_answer(rate(2))"), code_reply("final_answer(rate(5))")])
    configure(shell, server, "max_steps=4")
    assert run(shell, TOOL_CELL).success
    assert run(shell, "%%agent --tools rate\nRate 2").result == 6

    saved = run(shell, f"%agent save {tmp_path / 'rated'}")
    assert saved.success, saved.error_in_exec
    spec = yaml.safe_load((tmp_path / "rated/agent.yaml").read_text())
    assert spec["model"] == "openai/loopback" and spec["model_options"]["api_base"] == server.api_base
    assert spec["tools"] == [{"file": "tools/rate.py", "name": "rate"}] and spec["max_steps"] == 4
    assert "RATE = 3" in (tmp_path / "rated/tools/rate.py").read_text()

    assert run(shell, "RATE = 100\ndel rate").success
    refused = run(shell, f"%agent load {tmp_path / 'rated'}")
    assert not refused.success and "trust_remote_code" in str(refused.error_in_exec)
    loaded = run(shell, f"%agent load {tmp_path / 'rated'} --trust-remote-code")
    assert loaded.success, loaded.error_in_exec
    assert type(loaded.result).__name__ == "CodeAgent"
    assert "rate" in shell.user_ns  # the tool is defined in the notebook again
    assert run(shell, "%%agent\nRate 5").result == 15  # with the saved RATE, in the loaded agent


def test_load_a_toolcalling_agent_saved_in_python(shell, loopback, tmp_path):
    from smolkernel import ScriptedModel, ToolCallingAgent

    server = loopback([{"tool_calls": [{"name": "final_answer", "arguments": {"answer": "salut"}}]}])
    spec = ToolCallingAgent([], ScriptedModel(["x"]), instructions="Answer in French.").to_spec()
    spec.model, spec.model_options = "openai/loopback", {"api_base": server.api_base}
    spec.save(tmp_path / "agent.yaml")
    assert run(shell, f"%agent load {tmp_path}").success
    assert "kind         = toolcalling" in _config_text(shell)
    assert run(shell, "%%agent\nGreet").result == "salut"
    assert "Answer in French." in server.chat_requests[0].messages[0]["content"]


def test_save_to_hub_and_load_an_older_revision(shell, loopback, tmp_path, monkeypatch):
    """Against HubStandIn, a loopback stand-in of the Hub's endpoints (the Hub is unreachable here)."""
    from smolkernel.testing.hub import HubStandIn

    server = loopback([])
    configure(shell, server)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with HubStandIn() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert run(shell, "%agent config max_steps=2").success
        assert run(shell, "%agent save hub:me/magic --message 'two steps'").success
        first = hub.history("me/magic")[-1]
        assert first.message == "two steps"
        assert run(shell, "%agent config max_steps=9").success
        run(shell, "%agent reset")
        assert run(shell, "%agent save hub:me/magic").success
        loaded = run(shell, f"%agent load hub:me/magic --revision {first.oid}")
        assert loaded.success, loaded.error_in_exec
        assert loaded.result.max_steps == 2


def test_usage_errors_are_short(shell):
    result = run(shell, "%agent save")
    assert not result.success and "takes one folder" in str(result.error_in_exec)
    result = run(shell, "%agent load a b")
    assert not result.success and "takes one folder" in str(result.error_in_exec)
    result = run(shell, "%agent load /no/such/folder --bogus")
    assert not result.success and "unknown option --bogus" in str(result.error_in_exec)


def _config_text(shell) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run(shell, "%agent config")
    return buffer.getvalue()
