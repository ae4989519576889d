"""Spans of a run, read back through the OpenTelemetry SDK's in-memory exporter."""


from smolkernel import CodeAgent, ToolCallingAgent
from smolkernel.models import ScriptedModel
from smolkernel.tools import Tool, tool


@tool
def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number
    """
    return 2 * x


@tool
def explode(x: int) -> int:
    """Always fails.

    Args:
        x: ignored
    """
    raise ValueError("boom")


def _by_name(exporter):
    return {s.name: s for s in exporter.get_finished_spans()}


def test_code_agent_run_has_agent_chat_and_tool_spans(spans, reply):
    model = ScriptedModel([reply("```python\ny = double(x=4)\n```"), reply("```python\nfinal_answer(y)\n```")], model_id="gpt-4o-mini")
    agent = CodeAgent([double], model, name="calc", executor="local")
    result = agent.run("double 4")
    agent.close()
    assert result.output == 8
    finished = spans.get_finished_spans()
    names = [s.name for s in finished]
    assert names.count("chat gpt-4o-mini") == 2
    assert "execute_tool double" in names and "execute_tool final_answer" in names
    root = _by_name(spans)["invoke_agent calc"]
    assert root.parent is None
    for span in finished:
        if span is not root:  # every model and tool call nests in the run, also tools called from the executor's thread
            assert span.parent is not None and span.parent.span_id == root.context.span_id, span.name
            assert span.context.trace_id == root.context.trace_id
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "calc"
    assert root.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert root.attributes["gen_ai.usage.input_tokens"] == 2000
    assert root.attributes["gen_ai.usage.output_tokens"] == 200
    chat = _by_name(spans)["chat gpt-4o-mini"]
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 1000
    assert chat.attributes["smolkernel.cost_usd"] > 0
    tool_span = _by_name(spans)["execute_tool double"]
    assert tool_span.attributes["gen_ai.tool.name"] == "double"
    assert tool_span.status.is_ok


def test_failing_tool_span_carries_the_error_type(spans):
    model = ScriptedModel([
        {"tool_calls": [{"name": "explode", "arguments": {"x": 1}}]},
        {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "gave up"}}]},
    ])
    result = ToolCallingAgent([explode], model).run("try it")
    assert result.output == "gave up"
    failed = _by_name(spans)["execute_tool explode"]
    assert failed.attributes["error.type"] == "ValueError"
    assert not failed.status.is_ok
    assert failed.parent.span_id == _by_name(spans)["invoke_agent agent"].context.span_id


def test_managed_agent_run_nests_under_the_tool_call_that_started_it(spans):
    helper = CodeAgent([], ScriptedModel(["```python\nfinal_answer('inner')\n```"]), name="helper", description="helps", executor="local")
    boss = CodeAgent(
        [], ScriptedModel(["```python\nr = helper(task='x')\nfinal_answer(r)\n```"]), name="boss", managed_agents=[helper], executor="local"
    )
    assert boss.run("delegate").output == "inner"
    boss.close()
    helper.close()
    named = _by_name(spans)
    inner, call = named["invoke_agent helper"], named["execute_tool helper"]
    assert inner.parent.span_id == call.context.span_id
    assert call.parent.span_id == named["invoke_agent boss"].context.span_id


def test_failed_run_marks_its_span_and_unknown_model_has_no_cost(spans):
    model = ScriptedModel(["```python\nx = 1\n```"] * 3, model_id="scripted")
    result = CodeAgent([], model, max_steps=1, executor="local").run("never ends")
    assert not result.success
    root = _by_name(spans)["invoke_agent agent"]
    assert root.attributes["error.type"] == "RunFailed"
    assert result.cost is None
    assert "smolkernel.cost_usd" not in _by_name(spans)["chat scripted"].attributes


class AsyncAdd(Tool):
    """A tool with an async ``acall`` (as MCP tools have): the bridge awaits it on the loop."""

    name = "async_add"
    description = "Add one."
    inputs = {"x": {"type": "integer", "description": "a number"}}
    output_type = "integer"

    def forward(self, x: int) -> int:
        return x + 1

    async def acall(self, *args, **kwargs) -> int:
        return self.forward(**self.bind_arguments(args, kwargs))


def test_tools_called_from_a_sibling_kernel_nest_in_the_run(spans, reply):
    """Sync tools run in the host's bridge thread, async ones on its loop; both spans have the run as parent."""
    model = ScriptedModel([reply("```python\nfinal_answer(async_add(x=double(x=21)))\n```")], model_id="gpt-4o-mini")
    agent = CodeAgent([double, AsyncAdd()], model, name="remote", executor="kernel")
    try:
        assert agent.run("double in the kernel").output == 43
    finally:
        agent.close()
    named = _by_name(spans)
    root = named["invoke_agent remote"].context.span_id
    assert named["execute_tool double"].parent.span_id == root
    assert named["execute_tool async_add"].parent.span_id == root


def test_otel_traces_exporter_console_exports_the_spans(tmp_path):
    """An application (smolkernel serve) installs the SDK from OTEL_* variables; here in a fresh process."""
    import os
    import subprocess
    import sys

    script = (
        "from smolkernel import monitoring, CodeAgent\n"
        "from smolkernel.models import ScriptedModel\n"
        "assert monitoring.configure_tracing_from_env()\n"
        "CodeAgent([], ScriptedModel(['```python\\nfinal_answer(1)\\n```']), name='exported', executor='local').run('x')\n"
        "from opentelemetry import trace\n"
        "trace.get_tracer_provider().shutdown()\n"
    )
    env = dict(os.environ, OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="sk-test", LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"name": "invoke_agent exported"' in done.stdout and '"name": "chat scripted"' in done.stdout
    assert '"service.name": "sk-test"' in done.stdout
