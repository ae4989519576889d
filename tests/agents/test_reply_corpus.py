"""The reply corpus (tests/agents/corpus/): each reply parses as expected, and one agent step on it behaves.

Code replies run in the local executor (their code runs, or the model is told
why not); replies with IPython lines also run in a real sibling kernel.
Tool-call replies run one ToolCallingAgent step: the tools run with the
expected arguments, or the model gets an observation naming what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smolkernel.agents import CodeAgent, ToolCallingAgent
from smolkernel.agents.parsing import parse_code, parse_tool_calls
from smolkernel.exceptions import AgentParsingError
from smolkernel.models.base import Model
from smolkernel.testing import ScriptedModel
from smolkernel.tools import tool

CORPUS = Path(__file__).parent / "corpus"
CODE = yaml.safe_load((CORPUS / "code_replies.yaml").read_text(encoding="utf-8"))
TOOLS = yaml.safe_load((CORPUS / "tool_replies.yaml").read_text(encoding="utf-8"))
FINISH_CODE = "```python\nfinal_answer('finished')\n```"
FINISH_TOOL = '{"name": "final_answer", "arguments": {"answer": "finished"}}'


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


@tool
def get_time() -> str:
    """The time of day."""
    return "12:00"


def ids(case: dict) -> str:
    return case["id"]


def test_the_corpus_covers_every_style():
    assert {c["style"] for c in CODE} >= {"smolagents", "codeact", "stray fence", "fake observation", "language preference", "markdown", "gemma", "reasoning", "no code"}
    assert {c["style"] for c in TOOLS} >= {"openai", "json", "qwen", "llama", "mistral", "deepseek", "gemma", "gemini", "cohere", "react", "anthropic", "near-json"}
    assert len({c["id"] for c in CODE + TOOLS}) == len(CODE) + len(TOOLS), "ids must be unique"


# -- code replies ------------------------------------------------------------------


@pytest.mark.parametrize("case", CODE, ids=ids)
def test_code_reply_parses(case):
    if case.get("no_code"):
        with pytest.raises(AgentParsingError, match="```python"):
            parse_code(case["reply"])
    else:
        assert parse_code(case["reply"]) == case["code"]


class IgnoresStop(Model):
    """A ScriptedModel that ignores stop sequences, as some providers do (OpenAI's reasoning models
    refuse ``stop``), so the agent sees whatever the model wrote after its code."""

    def __init__(self, replies: list[str]):
        self.model_id = "ignores-stop"
        self.inner = ScriptedModel(replies)

    async def agenerate(self, messages, *, stop=None, tools=None):
        return await self.inner.agenerate(messages, tools=tools)

    async def astream(self, messages, *, stop=None, tools=None):
        async for delta in self.inner.astream(messages, tools=tools):
            yield delta


def _first_step(agent, reply: str, finish: str):
    agent.model = IgnoresStop([reply, finish])
    result = agent.run("corpus task")
    assert result.success and result.output == "finished", result.error
    return result.action_steps[0]


@pytest.fixture(scope="module")
def local_agent():
    agent = CodeAgent([], ScriptedModel([]), max_steps=2, memory_size=0)
    yield agent
    agent.close()


@pytest.mark.parametrize("case", CODE, ids=ids)
def test_code_reply_step_in_the_local_executor(case, local_agent):
    step = _first_step(local_agent, case["reply"], FINISH_CODE)
    assert not step.is_final_answer  # a final_answer in a made-up continuation must not run
    if case["style"] == "fake observation":
        second_call = local_agent.model.inner.calls[1]
        replayed = [m.content for m in second_call if m.role == "assistant"][-1]
        assert "final_answer(5)" not in replayed, "the invented continuation must not be replayed to the model"
    if case.get("no_code"):
        assert "contained no code" in step.error
    elif case.get("ipython"):
        number, line = next((n, text) for n, text in enumerate(case["code"].splitlines(), 1) if text.lstrip()[:1] in "%!")
        assert f"Line {number}: `{line}` is IPython syntax" in step.error
        assert "'local' executor runs plain Python, so the code was not run" in step.error
    else:
        assert step.error is None, step.error
        assert case["observation"] in step.observations


def test_ipython_replies_run_in_a_kernel():
    """IPython lines (%magic, !shell, %%bash) run where the executor is an IPython kernel."""
    from smolkernel.executors.kernel import KernelExecutor

    cases = [c for c in CODE if c.get("kernel_observation")]
    agent = CodeAgent([], ScriptedModel([]), executor=KernelExecutor(timeout=30), max_steps=2, memory_size=0)
    try:
        for case in cases:
            step = _first_step(agent, case["reply"], FINISH_CODE)
            assert step.error is None, (case["id"], step.error)
            assert case["kernel_observation"] in step.observations, (case["id"], step.observations)
    finally:
        agent.close()


# -- tool-call replies ---------------------------------------------------------------


@pytest.mark.parametrize("case", TOOLS, ids=ids)
def test_tool_reply_parses(case):
    if case.get("no_call"):
        with pytest.raises(AgentParsingError, match="no tool call"):
            parse_tool_calls(case["reply"])
        return
    calls = parse_tool_calls(case["reply"])
    if "calls" in case:
        assert [(c.name, c.arguments) for c in calls] == [(c["name"], c["arguments"]) for c in case["calls"]]
        assert all(c.problem is None and not c.arguments_missing for c in calls)
    if case.get("arguments_missing"):
        assert calls[0].arguments_missing and calls[0].arguments != {}
    if "problem" in case:
        assert case["problem"] in (calls[0].problem or ""), calls[0]
        assert calls[0].arguments != {}, "unreadable arguments are never {}"


@pytest.mark.parametrize("case", TOOLS, ids=ids)
def test_tool_reply_step(case):
    agent = ToolCallingAgent([get_weather, add, get_time], ScriptedModel([]), max_steps=2, memory_size=0)
    if "answer" in case:
        agent.model = IgnoresStop([case["reply"]])
        result = agent.run("corpus task")
        assert result.success and result.output == case["answer"], result.error
        return
    step = _first_step(agent, case["reply"], FINISH_TOOL)
    if case.get("no_call"):
        assert "no tool call" in step.error
    elif "agent_error" in case:
        assert case["agent_error"] in (step.error or ""), step.error
        assert "Nothing was run" in step.error or "gave no arguments" in step.error
        assert not step.observations, "nothing may run when the arguments are wrong"
    else:
        assert step.error is None, step.error
        assert case["observation"] in step.observations
