import asyncio
import threading
import time

import pytest

from smolkernel import ToolCallingAgent
from smolkernel.agents import events as ev
from smolkernel.exceptions import RunInterrupted
from smolkernel.models import ScriptedModel
from smolkernel.tools import tool


def answer(value):
    return {"tool_calls": [{"name": "final_answer", "arguments": {"answer": value}}]}


def test_stream_yields_events_in_order(add_tool):
    model = ScriptedModel([{"content": "adding now", "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}, answer(5)], chunk_size=3)
    events = list(ToolCallingAgent([add_tool], model).stream("add"))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert kinds.count("StepStarted") == 2 and kinds.count("StepFinished") == 2
    deltas = "".join(e.text for e in events if isinstance(e, ev.ModelDelta) and e.step_number == 1)
    assert deltas == "adding now"
    assert events[-1].result.output == 5
    assert len({e.run_id for e in events}) == 1


def test_step_callbacks_see_every_step(add_tool):
    seen = []
    agent = ToolCallingAgent([add_tool], ScriptedModel([{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}, answer(2)]), step_callbacks=[lambda step, a: seen.append((step.step_number, a is agent))])
    agent.run("x")
    assert seen == [(1, True), (2, True)]


async def test_interrupt_stops_a_slow_tool_within_a_second():
    started = threading.Event()

    @tool
    def slow(seconds: float) -> str:
        """Sleep.

        Args:
            seconds: how long
        """
        started.set()
        time.sleep(seconds)
        return "slept"

    agent = ToolCallingAgent([slow], ScriptedModel([{"tool_calls": [{"name": "slow", "arguments": {"seconds": 3}}]}, answer(1)]))
    task = asyncio.ensure_future(agent.arun("sleep"))
    await asyncio.to_thread(started.wait, 5)
    began = time.perf_counter()
    agent.interrupt()
    with pytest.raises(RunInterrupted):
        await task
    assert time.perf_counter() - began < 1.0
    # the agent is usable again afterwards
    agent.model = ScriptedModel([answer("again")])
    assert (await agent.arun("next")).output == "again"


def test_planning_interval_writes_plans():
    model = ScriptedModel(["1. add\n2. answer", {"tool_calls": [{"name": "final_answer", "arguments": {"answer": 0}}]}])
    result = ToolCallingAgent([], model, planning_interval=2).run("plan it")
    kinds = [s.kind for s in result.steps]
    assert kinds == ["planning", "action"]
    assert result.steps[0].plan.startswith("1. add")
    assert any(m.content and m.content.startswith("Plan:\n1. add") for m in model.calls[1])


def test_model_failure_ends_the_run_with_a_clear_error():
    from smolkernel.exceptions import ModelCallError

    class Down(ScriptedModel):
        async def agenerate(self, messages, *, stop=None, tools=None):
            raise ModelCallError("connection refused by 127.0.0.1:9")

    result = ToolCallingAgent([], Down([]), max_steps=5).run("x")
    assert not result.success
    assert len(result.action_steps) == 1
    assert "connection refused" in result.error


def test_running_the_same_agent_twice_at_once_is_refused():
    from smolkernel.exceptions import RunError

    gate = threading.Event()

    @tool
    def wait() -> str:
        """Wait for the gate."""
        gate.wait(5)
        return "ok"

    agent = ToolCallingAgent([wait], ScriptedModel([{"tool_calls": [{"name": "wait", "arguments": {}}]}, answer(1)]))

    async def both():
        first = asyncio.ensure_future(agent.arun("a"))
        await asyncio.sleep(0.1)
        with pytest.raises(RunError, match="already running"):
            await agent.arun("b")
        gate.set()
        return await first

    assert asyncio.run(both()).output == 1


def test_stream_sends_one_model_output_per_step_with_message_and_code():
    from smolkernel import CodeAgent
    from smolkernel.agents import events as ev
    from smolkernel.models import ScriptedModel

    agent = CodeAgent([], ScriptedModel(["Thought: add.\n```python\nx = 1 + 1\n```", "```python\nfinal_answer(x)\n```"]))
    outputs = [e for e in agent.stream("two steps") if isinstance(e, ev.ModelOutput)]
    assert [e.step_number for e in outputs] == [1, 2]
    assert all(e.message is not None and e.message.content for e in outputs)
    assert [e.code for e in outputs] == ["x = 1 + 1", "final_answer(x)"]
