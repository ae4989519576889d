"""run_batch on the local backend: results, failures kept apart, timeouts, retries, the limiter."""

from __future__ import annotations

import json
import time

import pytest

from smolkernel import CodeAgent, ScriptedModel
from smolkernel.batch import BatchResult, ModelLimiter, arun_batch, read_results, run_batch
from smolkernel.exceptions import ConfigurationError
from smolkernel.testing import LoopbackLLMServer

from batch_helpers import loopback_spec, scripted_spec, two_step_reply


def test_every_input_gets_a_fresh_agent_and_a_line(tmp_path):
    out = tmp_path / "results.jsonl"
    result = run_batch(scripted_spec(), [f"task {i}" for i in range(12)], concurrency=4, results=out, progress=False)
    assert isinstance(result, BatchResult)
    assert [r.index for r in result] == list(range(12))
    assert all(r.success and r.output == 42 and r.steps == 2 for r in result)  # a shared script would run out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(12))
    assert lines[0]["token_usage"]["input_tokens"] >= 0 and "cost" in lines[0]
    frame = result.to_pandas()
    assert list(frame.index) == list(range(12)) and frame["success"].all() and set(frame["output"]) == {42}
    assert "12 succeeded, 0 failed" in result.summary()


def test_dict_inputs_fill_the_task_template(server):
    inputs = [{"text": "ab"}, {"text": "abcde"}]
    result = run_batch(loopback_spec(server), inputs, task="Measure: {text}", progress=False)
    assert result.outputs == [len("Measure: ab"), len("Measure: abcde")]
    assert result.token_usage.input_tokens > 0


def test_a_missing_template_field_fails_that_input_only(server):
    result = run_batch(loopback_spec(server), [{"text": "a"}, {"other": 1}], task="Measure: {text}", progress=False)
    assert result[0].success
    assert not result[1].success and "text" in result[1].error


def test_failures_and_timeouts_do_not_stop_the_others(server):
    inputs = ["ok one", "please sleep", "ok two"]
    began = time.monotonic()
    result = run_batch(loopback_spec(server), inputs, timeout=2, concurrency=3, progress=False)
    assert time.monotonic() - began < 20
    assert result[0].success and result[2].success
    assert not result[1].success and "timed out after 2 s" in result[1].error
    assert result.failed == 1 and result.failures[0].index == 1


def test_a_plain_agent_gives_its_spec_and_an_agent_made_in_code_is_cloned(server):
    agent = CodeAgent(model=ScriptedModel(two_step_reply_messages), max_steps=3)
    result = run_batch(agent, ["abc", "abcdef"], progress=False)
    assert result.outputs == [len("abc"), len("abcdef")]
    assert agent.memory.to_messages() == []  # the given agent itself never ran


def two_step_reply_messages(messages):
    return two_step_reply({"messages": [m.to_dict() for m in messages]})


def test_factory_errors_are_configuration_errors_before_any_task(tmp_path):
    with pytest.raises(ConfigurationError):
        run_batch({"kind": "code", "model": "no-such-backend:x"}, ["a"], results=tmp_path / "r.jsonl", progress=False)
    assert read_results(tmp_path / "r.jsonl") == {}


def test_model_errors_are_retried_when_asked():
    with LoopbackLLMServer(two_step_reply, faults=["500"]) as server:
        spec = loopback_spec(server, model_options={"max_retries": 0})
        result = run_batch(spec, ["abc"], retries=1, progress=False)
    assert result[0].success and result[0].attempts == 2 and result[0].output == 3


def test_model_errors_without_retries_fail_the_task():
    with LoopbackLLMServer(two_step_reply, faults=["500"]) as server:
        result = run_batch(loopback_spec(server, model_options={"max_retries": 0}), ["abc"], progress=False)
    assert not result[0].success and "model call failed" in result[0].error and result[0].attempts == 1


async def test_a_429_pauses_every_call_for_its_retry_after():
    """One 429 (Retry-After: 1) pauses the whole batch: 8 one-call-per-step tasks on a
    server with no latency then take over a second, and only the limited call is repeated."""
    with LoopbackLLMServer(two_step_reply, faults=["429"], retry_after=1) as server:
        limiter = ModelLimiter()
        began = time.monotonic()
        result = await arun_batch(loopback_spec(server), [f"t{i}" for i in range(8)], concurrency=8, limiter=limiter, progress=False)
        elapsed = time.monotonic() - began
        assert result.succeeded == 8
        assert limiter.pauses == 1
        assert len(server.chat_requests) == 8 * 2 + 1
    assert elapsed >= 1.0


async def test_max_concurrent_caps_calls_in_flight():
    """With latency 0.3 s and two calls at a time, six two-step tasks need at least 6 * 2 * 0.3 / 2 s."""
    with LoopbackLLMServer(two_step_reply, latency=0.3) as server:
        began = time.monotonic()
        result = await arun_batch(loopback_spec(server), [f"t{i}" for i in range(6)], concurrency=6,
                                  limiter=ModelLimiter(max_concurrent=2), progress=False)
        assert result.succeeded == 6
    assert time.monotonic() - began >= 6 * 2 * 0.3 / 2


def test_resume_false_starts_the_file_afresh(tmp_path):
    out = tmp_path / "r.jsonl"
    run_batch(scripted_spec(), ["a", "b"], results=out, progress=False)
    run_batch(scripted_spec(), ["c"], results=out, resume=False, progress=False)
    assert [json.loads(line)["input"] for line in out.read_text().splitlines()] == ["c"]


def test_results_of_other_inputs_are_refused(tmp_path):
    out = tmp_path / "r.jsonl"
    run_batch(scripted_spec(), ["a", "b"], results=out, progress=False)
    with pytest.raises(ConfigurationError, match="not in these inputs"):
        run_batch(scripted_spec(), ["x", "y"], results=out, progress=False)
    assert len(out.read_text().splitlines()) == 2


def test_terminal_progress_is_quiet_when_not_a_tty(capfd):
    run_batch(scripted_spec(), ["a"], progress=True)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_a_spec_batch_makes_its_http_model_once(server, monkeypatch):
    """Agents of one spec share one stateless HTTP model (and its connections): it is built once, not per input."""
    from smolkernel.models.openai_server import OpenAIServerModel

    made = []
    original = OpenAIServerModel.__init__

    def counting_init(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(OpenAIServerModel, "__init__", counting_init)
    result = run_batch(loopback_spec(server), [f"abc{i}" for i in range(6)], concurrency=3, progress=False)
    assert result.outputs == [len(f"abc{i}") for i in range(6)]
    assert len(made) == 1
