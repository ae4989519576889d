"""Record a run against the loopback server, replay it offline, and keep secrets out."""

import json

import pytest

from smolkernel import CodeAgent, ToolCallingAgent
from smolkernel.models import ScriptedModel
from smolkernel.models.cassette import RecordingModel, ReplayModel
from smolkernel.testing import LoopbackLLMServer

SECRET = "sk-test-0123456789abcdef-very-secret"

REPLIES = [
    "```python\nrows = [3, 1, 2]\nprint(sorted(rows))\n```",
    "```python\nfinal_answer(max(rows))\n```",
]


def record(tmp_path, monkeypatch):
    from smolkernel.models import LiteLLMModel

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-abcdefgh-12345")
    cassette = tmp_path / "run.jsonl"
    with LoopbackLLMServer(REPLIES) as server:
        model = RecordingModel(LiteLLMModel("openai/loopback", api_base=server.api_base, api_key=SECRET), cassette)
        # the task itself mentions a secret, as a careless user might
        result = CodeAgent([], model).run("Sort the rows. (my token is tok-abcdefgh-12345)")
        headers = [r.headers for r in server.chat_requests]
    return cassette, result, headers


def test_replay_reproduces_the_recorded_run(tmp_path, monkeypatch):
    cassette, recorded, _ = record(tmp_path, monkeypatch)
    assert recorded.success and recorded.output == 3
    assert len(cassette.read_text().splitlines()) == 2
    replayed = CodeAgent([], ReplayModel(cassette)).run("Sort the rows. (my token is tok-abcdefgh-12345)")
    assert replayed.output == recorded.output
    assert [s.observations for s in replayed.action_steps] == [s.observations for s in recorded.action_steps]
    assert replayed.token_usage.input_tokens == recorded.token_usage.input_tokens


def test_no_secret_is_written(tmp_path, monkeypatch):
    cassette, _, headers = record(tmp_path, monkeypatch)
    text = cassette.read_text()
    assert SECRET not in text and "tok-abcdefgh-12345" not in text
    assert "<redacted:MY_SERVICE_TOKEN>" in text
    # the key did travel to the server, so the check above is meaningful
    assert any(SECRET in json.dumps(h) for h in headers)


def test_a_different_request_stops_with_a_clear_error(tmp_path, monkeypatch):
    cassette, _, _ = record(tmp_path, monkeypatch)
    result = CodeAgent([], ReplayModel(cassette)).run("A different task")
    assert not result.success
    assert "differs from cassette run.jsonl at message" in result.error


def test_asking_for_more_calls_than_recorded(tmp_path):
    cassette = tmp_path / "short.jsonl"
    model = RecordingModel(ScriptedModel([{"tool_calls": [{"name": "final_answer", "arguments": {"answer": 1}}]}]), cassette)
    ToolCallingAgent([], model).run("one")
    replay = ReplayModel(cassette)
    agent = ToolCallingAgent([], replay)
    assert agent.run("one").output == 1
    result = agent.run("one")
    assert "holds 1 calls" in result.error


def test_missing_cassette_is_a_configuration_error(tmp_path):
    from smolkernel.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="cannot be read"):
        ReplayModel(tmp_path / "nope.jsonl")


def test_resolve_model_records_and_replays(tmp_path, monkeypatch):
    from smolkernel.models import resolve_model

    script = tmp_path / "script.json"
    script.write_text(json.dumps(["```python\nfinal_answer(6 * 7)\n```"]))
    cassette = tmp_path / "c.jsonl"
    monkeypatch.setenv("SMOLKERNEL_RECORD", str(cassette))
    assert CodeAgent([], resolve_model(f"scripted:{script}")).run("answer").output == 42
    monkeypatch.delenv("SMOLKERNEL_RECORD")
    replay = resolve_model(f"replay:{cassette}")
    assert isinstance(replay, ReplayModel)
    assert CodeAgent([], replay).run("answer").output == 42
