import threading

import pytest

from smolkernel import ToolCallingAgent
from smolkernel.models import ScriptedModel
from smolkernel.tools import tool


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


def test_recovers_from_a_bad_argument_then_answers(add_tool, counter):
    model = ScriptedModel([
        {"tool_calls": [call("add", a=1, b="two")]},
        {"tool_calls": [call("add", a=1, b=2), call("count", step=5)]},
        {"tool_calls": [call("final_answer", answer=8)]},
    ])
    agent = ToolCallingAgent([add_tool, counter], model)
    result = agent.run("add 1 and 2, then count 5")
    assert result.success and result.output == 8
    first, second, third = result.action_steps
    assert "argument 'b' must be integer" in first.error
    assert second.error is None and second.observations == "add: 3\ncount: 5"
    assert third.is_final_answer
    # the model saw the error of step 1 as the result of its call
    tool_messages = [m for m in model.calls[1] if m.role == "tool"]
    assert "must be integer" in tool_messages[0].content
    assert tool_messages[0].tool_call_id == first.tool_calls[0].id


def test_calls_in_one_step_run_concurrently():
    barrier = threading.Barrier(3, timeout=5)

    @tool
    def wait_for_others(n: int) -> int:
        """Block until three calls are running at once.

        Args:
            n: an id
        """
        barrier.wait()
        return n

    model = ScriptedModel([
        {"tool_calls": [call("wait_for_others", n=i) for i in range(3)]},
        {"tool_calls": [call("final_answer", answer="done")]},
    ])
    result = ToolCallingAgent([wait_for_others], model).run("go")
    assert result.success
    assert result.action_steps[0].observations.count("wait_for_others") == 3


def test_unknown_tool_and_malformed_arguments_are_observations(add_tool):
    model = ScriptedModel([
        {"tool_calls": [call("multiply", a=1)]},
        {"tool_calls": [{"name": "add", "arguments": "{not json"}]},
        '{"name": "final_answer", "arguments": {"answer": "ok"}}',
    ])
    result = ToolCallingAgent([add_tool], model).run("x")
    assert "no tool named 'multiply'" in result.action_steps[0].error
    assert "add" in result.action_steps[0].error  # lists the real tools
    assert "invalid JSON at line 1 column 2" in result.action_steps[1].error
    assert result.output == "ok"


def test_plain_text_reply_gets_a_corrective_observation(add_tool):
    model = ScriptedModel(["I believe it is 3.", {"tool_calls": [call("final_answer", answer=3)]}])
    result = ToolCallingAgent([add_tool], model).run("x")
    assert "no tool call" in result.action_steps[0].error
    assert "no tool call" in model.calls[1][-1].content
    assert result.output == 3


def test_a_crashing_tool_is_an_observation():
    @tool
    def broken(x: str) -> str:
        """Always fails.

        Args:
            x: anything
        """
        raise RuntimeError("disk on fire")

    model = ScriptedModel([{"tool_calls": [call("broken", x="a")]}, {"tool_calls": [call("final_answer", answer="gave up")]}])
    result = ToolCallingAgent([broken], model).run("x")
    assert "RuntimeError: disk on fire" in result.action_steps[0].error
    assert result.success


def test_max_steps_ends_with_a_last_attempt(add_tool):
    model = ScriptedModel([{"tool_calls": [call("add", a=1, b=1)]}] * 3 + ["probably 2"])
    result = ToolCallingAgent([add_tool], model, max_steps=3).run("x")
    assert not result.success
    assert result.output == "probably 2"
    assert "max_steps=3" in result.error
    assert len(result.action_steps) == 3
    assert "used all your steps" in model.calls[-1][-1].content


def test_stateful_tool_sets_up_once_across_runs(counter):
    model = ScriptedModel([
        {"tool_calls": [call("count", step=1)]},
        {"tool_calls": [call("final_answer", answer="a")]},
        {"tool_calls": [call("count", step=2)]},
        {"tool_calls": [call("final_answer", answer="b")]},
    ])
    agent = ToolCallingAgent([counter], model)
    agent.run("first")
    agent.run("second")
    assert counter.value == 3 and counter.setups == 1


def test_native_tools_are_offered_to_the_model(add_tool):
    seen = {}

    class Spy(ScriptedModel):
        async def agenerate(self, messages, *, stop=None, tools=None):
            seen["tools"] = [t.name for t in tools or []]
            return await super().agenerate(messages, stop=stop, tools=tools)

    ToolCallingAgent([add_tool], Spy([{"tool_calls": [call("final_answer", answer=1)]}])).run("x")
    assert seen["tools"] == ["add", "final_answer"]


def test_duplicate_tool_names_are_rejected(add_tool):
    from smolkernel.exceptions import ToolDefinitionError

    with pytest.raises(ToolDefinitionError, match="two tools are named 'add'"):
        ToolCallingAgent([add_tool, add_tool], ScriptedModel([]))
