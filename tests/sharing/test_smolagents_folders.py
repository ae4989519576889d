"""Folders and tools written by smolagents 1.x itself, read by smolkernel."""

from __future__ import annotations

import pytest

import smolagents  # in the locked environment (the bench extra)

tool = smolagents.tool  # smolagents warns unless its decorator is spelled @tool

from smolkernel import CodeAgent, ScriptedModel, load_agent  # noqa: E402
from smolkernel.exceptions import AgentSpecError  # noqa: E402


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


class Shout(smolagents.Tool):
    name = "shout"
    description = "Upper-case a text."
    inputs = {"text": {"type": "string", "description": "what to shout"}}
    output_type = "string"

    def forward(self, text: str) -> str:
        return text.upper()


@pytest.fixture(scope="module")
def saved_by_smolagents(tmp_path_factory):
    """A folder that smolagents 1.26's own ``agent.save`` writes (its model is never called)."""
    tmp_path = tmp_path_factory.mktemp("smolagents")
    model = smolagents.OpenAIServerModel("llama", api_base="http://127.0.0.1:9/v1", api_key="not-saved", temperature=0.3)
    helper = smolagents.ToolCallingAgent(tools=[add], model=model, name="helper", description="Adds numbers.")
    agent = smolagents.CodeAgent(tools=[add, Shout()], model=model, managed_agents=[helper], max_steps=4,
                                 additional_authorized_imports=["zipfile"], name="boss", description="Runs things.")
    agent.save(str(tmp_path / "sa"))
    return tmp_path / "sa"


def test_smolagents_folder_becomes_an_equivalent_spec(saved_by_smolagents):
    from smolkernel.sharing.folder import folder_spec

    spec = folder_spec(saved_by_smolagents)
    assert (spec.kind, spec.model, spec.max_steps, spec.name) == ("code", "openai-server:llama", 4, "boss")
    assert spec.model_options == {"temperature": 0.3}  # smolagents saves neither the key nor this model's api_base
    assert spec.tools == [{"file": "tools/add.py"}, {"file": "tools/shout.py"}]
    from smolkernel.executors._local_guard import DEFAULT_ALLOWED_IMPORTS

    extra = spec.executor_options["additional_imports"]
    assert "zipfile" in extra and not set(extra) & DEFAULT_ALLOWED_IMPORTS
    (helper,) = spec.managed_agents
    assert (helper.kind, helper.name, helper.description) == ("toolcalling", "helper", "Adds numbers.")


def test_smolagents_folder_loads_and_runs_its_tools(saved_by_smolagents):
    with pytest.raises(AgentSpecError, match="trust_remote_code"):
        load_agent(saved_by_smolagents, model=ScriptedModel([]))
    model = ScriptedModel([
        "```python\nfinal_answer(shout('ok') + str(add(a=2, b=3)) + helper(task='t'))\n```",
        {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "!"}}]},
    ])
    agent = CodeAgent.from_folder(saved_by_smolagents, trust_remote_code=True, model=model)
    assert sorted(agent.tools) == ["add", "final_answer", "helper", "shout"]
    assert agent.run("go").output == "OK5!"


def test_smolagents_folder_can_be_saved_again_in_smolkernel_form(saved_by_smolagents, tmp_path):
    agent = load_agent(saved_by_smolagents, trust_remote_code=True, model=ScriptedModel(["```python\nfinal_answer(add(a=1, b=1))\n```"]))
    agent.save(tmp_path / "ours")
    assert (tmp_path / "ours/tools/add.py").read_text() == (saved_by_smolagents / "tools/add.py").read_text()
    again = load_agent(tmp_path / "ours", trust_remote_code=True)
    assert sorted(again.tools) == ["add", "final_answer", "helper", "shout"]
    assert again.run("x").output == 2


def test_smolagents_agent_shared_in_a_space_loads_from_the_hub(saved_by_smolagents, hub):
    """The folder smolagents writes, in a Space as smolagents' push_to_hub puts it (HubStandIn: a loopback stand-in)."""
    from smolkernel.sharing.hub import push_folder

    push_folder(saved_by_smolagents, "me/sa-agent", token="hf_test", repo_type="space")
    model = ScriptedModel(["```python\nfinal_answer(shout('hub'))\n```"])
    agent = load_agent("hub:me/sa-agent", trust_remote_code=True, model=model)  # no model repo: found as a Space
    assert agent.name == "boss" and agent.run("go").output == "HUB"
