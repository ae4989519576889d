"""Prometheus metrics on an app-owned registry, read back as exposition text."""

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from smolkernel import CodeAgent, ToolCallingAgent
from smolkernel.models import ScriptedModel
from smolkernel.monitoring import Metrics, use_metrics
from smolkernel.tools import tool


@tool
def shout(text: str) -> str:
    """Upper-case a text.

    Args:
        text: the text
    """
    return text.upper()


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    """Every sample of the exposition text, keyed by (name, sorted labels)."""
    parsed = text_string_to_metric_families(metrics.render().decode())
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in parsed for s in family.samples}


def test_runs_tokens_cost_and_tools_are_counted_only_where_metrics_are_active():
    metrics, other = Metrics(), Metrics()
    model = ScriptedModel([
        {"tool_calls": [{"name": "shout", "arguments": {"text": "hi"}}]},
        {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "HI"}}]},
    ], model_id="gpt-4o-mini")
    with use_metrics(metrics):
        result = ToolCallingAgent([shout], model).run("shout")
    assert result.success
    got = samples(metrics)
    assert got[("smolkernel_runs_total", (("status", "succeeded"),))] == 1
    assert got[("smolkernel_runs_in_progress", ())] == 0
    assert got[("smolkernel_tool_calls_total", (("status", "ok"), ("tool", "shout")))] == 1
    assert got[("smolkernel_tool_calls_total", (("status", "ok"), ("tool", "final_answer")))] == 1
    labels = (("gen_ai_operation_name", "chat"), ("gen_ai_request_model", "gpt-4o-mini"), ("gen_ai_token_type", "input"))
    assert got[("gen_ai_client_token_usage_count", labels)] == 2
    assert got[("gen_ai_client_token_usage_sum", labels)] == result.token_usage.input_tokens
    duration = (("error_type", ""), ("gen_ai_operation_name", "chat"), ("gen_ai_request_model", "gpt-4o-mini"))
    assert got[("gen_ai_client_operation_duration_seconds_count", duration)] == 2
    assert got[("smolkernel_cost_usd_total", (("model", "gpt-4o-mini"),))] == pytest.approx(result.cost)
    # a second registry saw nothing: no process-global state
    assert ("smolkernel_runs_total", (("status", "succeeded"),)) not in samples(other)


def test_failed_and_cancelled_runs_and_in_progress_gauge():
    metrics = Metrics()
    seen_in_progress = []

    def slow(messages):
        seen_in_progress.append(samples(metrics)[("smolkernel_runs_in_progress", ())])
        return "```python\nx = 1\n```"

    async def scenario():
        with use_metrics(metrics):
            failed = await CodeAgent([], ScriptedModel(slow), max_steps=1, executor="local").arun("fails")
            agent = CodeAgent([], ScriptedModel(lambda m: "```python\nimport time; time.sleep(5)\n```"), executor="local")
            task = asyncio.ensure_future(agent.arun("cancel me"))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            agent.close()
        return failed

    failed = asyncio.run(scenario())
    assert not failed.success and seen_in_progress[0] == 1
    got = samples(metrics)
    assert got[("smolkernel_runs_total", (("status", "failed"),))] == 1
    assert got[("smolkernel_runs_total", (("status", "cancelled"),))] == 1
    assert got[("smolkernel_runs_in_progress", ())] == 0


def test_unknown_model_adds_no_cost_series(reply):
    metrics = Metrics()
    with use_metrics(metrics):
        CodeAgent([], ScriptedModel([reply("```python\nfinal_answer(1)\n```")]), executor="local").run("x")
    assert not [k for k in samples(metrics) if k[0] == "smolkernel_cost_usd_total"]


def test_a_recorder_carries_figures_to_another_processes_metrics():
    """What a Dask worker records (model and tool calls) is applied to the server's Metrics; the run counters are skipped."""
    import pickle

    from smolkernel.models import ChatMessage, TokenUsage
    from smolkernel.monitoring import MetricsRecorder, model_call, replay_metrics, tool_call

    recorder = MetricsRecorder()
    with use_metrics(recorder), tool_call("add"), model_call("gpt-4o-mini") as call:
        call.done(ChatMessage(role="assistant", content="ok", token_usage=TokenUsage(100, 20)))
    records = pickle.loads(pickle.dumps(recorder.records))  # plain data: it travels through Dask
    server = Metrics()
    replay_metrics(records + [("runs", ("succeeded",), "inc", 1)], server, skip=("runs",))
    text = server.render().decode()
    assert 'smolkernel_tool_calls_total{status="ok",tool="add"} 1.0' in text
    assert 'gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat",gen_ai_request_model="gpt-4o-mini"} 1.0' in text
    assert 'gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_request_model="gpt-4o-mini",gen_ai_token_type="input"} 100.0' in text
    assert not any(line.startswith("smolkernel_runs_total") for line in text.splitlines())  # skipped
