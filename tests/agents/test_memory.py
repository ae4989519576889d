from smolkernel import ToolCallingAgent
from smolkernel.memory import AgentMemory
from smolkernel.models import ScriptedModel


def answer(value):
    return {"tool_calls": [{"name": "final_answer", "arguments": {"answer": value}}]}


def test_rolling_window_pushes_out_the_oldest():
    model = ScriptedModel([answer(f"a{i}") for i in range(4)])
    agent = ToolCallingAgent([], model, memory_size=3)
    for i in range(3):
        agent.run(f"task {i}")
    assert agent.memory.next_to_drop.task == "task 0"
    agent.run("task 3")
    assert [i.task for i in agent.memory.interactions] == ["task 1", "task 2", "task 3"]
    # the fourth run's prompt held the three earlier interactions, oldest first
    earlier = [m.content for m in model.calls[3] if m.content and m.content.startswith("Earlier task")]
    assert earlier == ["Earlier task: task 0", "Earlier task: task 1", "Earlier task: task 2"]
    # cumulative figures count every run, including the one that rolled off
    assert agent.memory.runs == 4 and agent.memory.steps == 4


def test_cumulative_tokens_are_the_sum_of_runs():
    agent = ToolCallingAgent([], ScriptedModel([answer(1), answer(2)]), memory_size=1)
    first = agent.run("one")
    second = agent.run("two")
    total = first.token_usage + second.token_usage
    assert agent.memory.token_usage.input_tokens == total.input_tokens
    assert agent.memory.token_usage.output_tokens == total.output_tokens
    assert agent.memory.time >= first.duration + second.duration - 1e-9


def test_memory_size_zero_remembers_nothing_but_counts():
    model = ScriptedModel([answer(1), answer(2)])
    agent = ToolCallingAgent([], model, memory_size=0)
    agent.run("one")
    agent.run("two")
    assert not any("Earlier task" in (m.content or "") for m in model.calls[1])
    assert agent.memory.runs == 2


def test_resize_and_clear():
    memory = AgentMemory(memory_size=3)
    agent = ToolCallingAgent([], ScriptedModel([answer(i) for i in range(3)]), memory_size=3)
    for i in range(3):
        agent.run(str(i))
    agent.memory.resize(1)
    assert [i.task for i in agent.memory.interactions] == ["2"]
    agent.memory.clear()
    assert agent.memory.runs == 0 and not agent.memory.interactions
    assert memory.summary()["window"] == "0/3"
