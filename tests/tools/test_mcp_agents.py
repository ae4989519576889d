"""Agents using MCP tools: the tools run in the host and are called from generated code in
every executor (here the sibling-kernel one and the local one) and by the tool-calling agent;
a failing, dying or hanging server becomes an observation and the run goes on."""

from __future__ import annotations

import pytest
from needs import needs_command

from smolkernel import CodeAgent, ScriptedModel, ToolCallingAgent
from smolkernel.models import ChatMessage, ToolCall
from smolkernel.tools.mcp import MCPClient


@pytest.fixture(scope="module")
def everything(everything_command):
    with MCPClient(everything_command, timeout=60) as client:
        yield client


def test_code_agent_in_a_kernel_executor_calls_mcp_tools_and_shows_images(everything):
    model = ScriptedModel([
        "```python\ntotal = get_sum(a=2, b=40)\nprint(total)\nparts = get_tiny_image()\nprint(parts[1])\n```",
        "```python\nfinal_answer(total)\n```",
    ])
    agent = CodeAgent(everything.tools, model, executor="kernel", executor_options={"timeout": 60})
    try:
        result = agent.run("Add 2 and 40, and show the logo.")
    finally:
        agent.close()
    assert result.success, result.error
    assert "42" in result.output
    first = result.action_steps[0]
    assert first.error is None, first.error
    assert "<image/png, 4,033 bytes>" in first.observations
    assert any("image/png" in bundle["data"] for bundle in first.displays)


def test_code_agent_local_executor_gets_media_objects(everything):
    model = ScriptedModel([
        "```python\nimage = [p for p in get_tiny_image() if not isinstance(p, str)][0]\nfinal_answer(image)\n```",
    ])
    result = CodeAgent(everything.tools, model).run("the logo")
    assert result.success, result.error
    assert result.output.mime_type == "image/png"
    assert "image/png" in result.output._repr_mimebundle_()


def test_dying_server_is_an_observation_and_the_run_goes_on(edge_command):
    with MCPClient(edge_command, timeout=20, connect_timeout=60) as client:
        model = ScriptedModel([
            "```python\ndie()\n```",
            "```python\nadd(1, 2)\n```",
            "```python\nfinal_answer('went on without the server')\n```",
        ])
        agent = CodeAgent(client.tools, model, executor="kernel", executor_options={"timeout": 60})
        try:
            result = agent.run("try the server")
        finally:
            agent.close()
    assert result.success and result.output == "went on without the server"
    first, second = result.action_steps[0], result.action_steps[1]
    assert "ToolServerError" in first.error and "not available" in first.error
    assert "not available" in second.error


def test_tool_calling_agent_sees_server_errors_and_timeouts(edge_command):
    with MCPClient(edge_command, timeout=2, connect_timeout=60) as client:
        model = ScriptedModel([
            ChatMessage(role="assistant", content="", tool_calls=[
                ToolCall(id="a", name="fail", arguments={"message": "quota exceeded"}),
                ToolCall(id="b", name="hang", arguments={}),
                ToolCall(id="c", name="picture", arguments={}),
            ]),
            ChatMessage(role="assistant", content="", tool_calls=[ToolCall(id="d", name="final_answer", arguments={"answer": "done"})]),
        ])
        result = ToolCallingAgent(client.tools, model).run("use the server")
    assert result.success and result.output == "done"
    step = result.action_steps[0]
    assert "quota exceeded" in step.tool_results["a"]
    assert "did not answer within 2 s" in step.tool_results["b"]
    assert step.tool_results["c"].startswith('"<image/png')
    assert any("image/png" in bundle["data"] for bundle in step.displays)


@needs_command("bwrap", "bubblewrap")
def test_mcp_tools_from_the_sandbox_executor(everything):
    """The sandbox has no network; its code reaches the host's MCP tools through the bridge only."""
    model = ScriptedModel(["```python\nfinal_answer(echo(message='from the sandbox'))\n```"])
    agent = CodeAgent(everything.tools, model, executor="sandbox", executor_options={"timeout": 60})
    try:
        result = agent.run("echo")
    finally:
        agent.close()
    assert result.success, result.error
    assert result.output == "Echo: from the sandbox"
