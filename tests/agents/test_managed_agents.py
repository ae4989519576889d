from smolkernel import ToolCallingAgent
from smolkernel.agents import events as ev
from smolkernel.models import ScriptedModel


def answer(value):
    return {"tool_calls": [{"name": "final_answer", "arguments": {"answer": value}}]}


def test_manager_delegates_and_nests_the_run():
    researcher = ToolCallingAgent([], ScriptedModel([answer("Paris has 2.1M people")]), name="researcher", description="Finds facts.")
    manager = ToolCallingAgent(
        [],
        ScriptedModel([
            {"tool_calls": [{"name": "researcher", "arguments": {"task": "population of Paris"}}]},
            answer("Summary: Paris has 2.1M people"),
        ]),
        managed_agents=[researcher],
    )
    assert "researcher(task: str) -> str: Finds facts." in manager.system_prompt
    events = list(manager.stream("summarise Paris"))
    result = events[-1].result
    assert result.output == "Summary: Paris has 2.1M people"
    first = result.action_steps[0]
    assert first.observations == "researcher: Paris has 2.1M people"
    assert [r.output for r in first.managed_runs] == ["Paris has 2.1M people"]
    nested = [e for e in events if e.depth == 1]
    assert nested and all(e.parent_run_id == result.run_id and e.parent_step == 1 for e in nested)
    assert any(isinstance(e, ev.RunFinished) for e in nested)
    assert researcher.memory.runs == 1


def test_managed_agent_needs_a_name_and_description():
    import pytest

    from smolkernel.exceptions import ToolDefinitionError

    with pytest.raises(ToolDefinitionError, match="description"):
        ToolCallingAgent([], ScriptedModel([]), managed_agents=[ToolCallingAgent([], ScriptedModel([]), name="x")])
