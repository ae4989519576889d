"""CodeAgent end to end with the scripted model and the local executor."""

from smolkernel import CodeAgent
from smolkernel.models import ScriptedModel


def test_multi_step_task_recovers_from_an_error(add_tool, counter):
    model = ScriptedModel([
        "Let me try.\n```python\ntotal = add(a=2, b=3)\nprint(totl)\n```",
        "Typo; fix it.\n```python\nprint(total)\nn = count(step=total)\n```",
        "```python\nfinal_answer(total * 10 + n)\n```",
    ])
    agent = CodeAgent([add_tool, counter], model)
    result = agent.run("compute")
    assert result.success and result.output == 55
    first, second, _ = result.action_steps
    assert "NameError" in first.error and "totl" in first.error
    assert second.observations.strip() == "5"
    # the model saw the error of step 1 in the observation of its second call
    assert "NameError" in model.calls[1][-1].content
    assert counter.value == 5
    agent.close()


def test_reply_without_code_gets_a_corrective_observation():
    model = ScriptedModel(["The answer is 4.", "```python\nfinal_answer(4)\n```"])
    result = CodeAgent([], model).run("2+2")
    assert "no code" in result.action_steps[0].error
    assert "```python" in model.calls[1][-1].content
    assert result.output == 4


def test_variables_persist_across_steps_and_runs():
    model = ScriptedModel([
        "```python\ndata = [1, 2, 3]\n```",
        "```python\nfinal_answer(sum(data))\n```",
        "```python\nfinal_answer(len(data))\n```",
    ])
    agent = CodeAgent([], model)
    assert agent.run("sum").output == 6
    assert agent.run("len").output == 3
    assert "Earlier task: sum" in [m.content for m in model.calls[2]]


def test_last_expression_value_is_observed():
    model = ScriptedModel(["```python\n21 * 2\n```", "```python\nfinal_answer('ok')\n```"])
    result = CodeAgent([], model).run("x")
    assert "Last value: 42" in result.action_steps[0].observations


def test_long_output_is_truncated_with_a_marker():
    model = ScriptedModel(["```python\nprint('z' * 100000)\n```", "```python\nfinal_answer('ok')\n```"])
    agent = CodeAgent([], model, executor_options={"max_output_chars": 2000})
    result = agent.run("x")
    observation = result.action_steps[0].observations
    assert "truncated" in observation and len(observation) < 3000


def test_system_prompt_shows_tool_signatures_and_is_compact(add_tool):
    agent = CodeAgent([add_tool], ScriptedModel([]))
    prompt = agent.system_prompt
    assert "def add(a: int, b: int) -> int:" in prompt
    assert "final_answer(answer: Any) -> Any" in prompt
    assert len(prompt) < 3000  # ~ 600 tokens; the benchmark measures tokens exactly
    assert agent.system_prompt is prompt  # rendered once, reused


def test_old_observations_are_compacted():
    replies = [f"```python\nprint('{i}' * 2000)\n```" for i in range(1, 6)] + ["```python\nfinal_answer(1)\n```"]
    model = ScriptedModel(replies)
    CodeAgent([], model, max_steps=6).run("flood")
    last_prompt = model.calls[-1]
    sizes = [len(m.content) for m in last_prompt if m.role == "user" and m.content.startswith("Observation")]
    assert sizes[-1] > 2000 and sizes[-2] > 2000  # the two latest in full
    assert all(s < 500 for s in sizes[:-2])  # older ones compacted
    assert "characters compacted" in last_prompt[-5].content


def test_managed_code_agent_called_from_code():
    researcher = CodeAgent([], ScriptedModel(["```python\nfinal_answer('42 moons')\n```"]), name="researcher", description="Looks things up.")
    manager = CodeAgent([], ScriptedModel([
        "```python\nfacts = researcher(task='how many moons')\nprint(facts)\n```",
        "```python\nfinal_answer('Report: ' + facts)\n```",
    ]), managed_agents=[researcher])
    result = manager.run("write a report")
    assert result.output == "Report: 42 moons"
    assert result.action_steps[0].managed_runs[0].output == "42 moons"
    assert "researcher(task: str) -> str" in manager.system_prompt


def test_answer_after_a_lost_workspace_stands_and_the_model_is_told():
    from smolkernel.executors.base import CodeOutput, Executor

    class RestartedOnce(Executor):
        """An executor whose process died before this code ran (a stand-in: no process here)."""

        async def run(self, code):
            return CodeOutput(output=7, is_final_answer=True, workspace_lost=True)

        async def send_tools(self, tools):
            pass

        async def send_variables(self, variables):
            pass

    result = CodeAgent([], ScriptedModel(["```python\nfinal_answer(7)\n```"]), executor=RestartedOnce()).run("x")
    assert result.success and result.output == 7
    assert "workspace was lost" in result.action_steps[0].observations
