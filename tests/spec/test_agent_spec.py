"""AgentSpec: read from YAML/JSON, build the agent, describe an agent, and clear errors."""

from __future__ import annotations

import json

import pytest

from smolkernel import AgentSpec, CodeAgent, ScriptedModel, ToolCallingAgent, tool
from smolkernel.exceptions import AgentSpecError, ConfigurationError


def reply(code: str) -> str:
    return f"Thought: do it.\n```python\n{code}\n```"


def test_yaml_spec_builds_an_agent_that_runs(tool_module, write):
    path = write("agent.yaml", f"""
        kind: code
        model: scripted
        model_options:
          responses:
            - "```python\\nfinal_answer(shout('hi') + str(add(2, 3)))\\n```"
        tools:
          - {tool_module}:add
          - {tool_module}:Shout
        max_steps: 3
        memory_size: 2
        instructions: Be brief.
        name: calc
        description: Adds numbers.
    """)
    spec = AgentSpec.from_file(path)
    agent = spec.build()
    assert isinstance(agent, CodeAgent)
    assert (agent.max_steps, agent.memory.memory_size, agent.name) == (3, 2, "calc")
    assert "Be brief." in agent.system_prompt
    assert agent.run("go").output == "HI5"


def test_json_spec_and_to_dict_round_trip(tool_module, write):
    data = {"kind": "toolcalling", "model": "scripted", "model_options": {"responses": [{"tool_calls": [{"name": "final_answer", "arguments": {"answer": "ok"}}]}]},
            "tools": [f"{tool_module}:BOTH"], "planning_interval": None, "max_steps": 4}
    path = write("agent.json", json.dumps(data, indent=2))
    spec = AgentSpec.from_file(path)
    assert spec.to_dict() == {k: v for k, v in data.items() if k != "planning_interval"}
    assert AgentSpec.from_dict(spec.to_dict()) == spec
    assert AgentSpec.from_yaml(spec.to_yaml()) == spec
    agent = spec.build()
    assert isinstance(agent, ToolCallingAgent)
    assert sorted(agent.tools) == ["add", "final_answer", "shout"]
    assert agent.run("x").output == "ok"


def test_folder_path_reads_agent_yaml(write, tmp_path):
    write("agent.yaml", "model: scripted:replies.json\n")
    write("replies.json", json.dumps([reply("final_answer(7)")]))
    spec = AgentSpec.from_file(tmp_path)
    assert spec.model == "scripted:replies.json"
    # scripted:FILE is read relative to the spec's folder, wherever the process runs
    assert spec.build().run("x").output == 7


def test_unknown_field_names_field_line_and_suggestion(write):
    path = write("agent.yaml", "kind: code\nmodel: scripted:x.json\nmax_step: 3\n")
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(path)
    err = info.value
    assert (err.field, err.line) == ("max_step", 3)
    assert str(path) in str(err) and "line 3" in str(err) and "'max_steps'" in str(err)


def test_unknown_tool_module_names_the_entry_line(tool_module, write):
    path = write("agent.yaml", f"""
        model: scripted:x.json
        tools:
          - {tool_module}:add
          - not_a_module_anywhere.sub:thing
    """)
    spec = AgentSpec.from_file(path)
    with pytest.raises(AgentSpecError) as info:
        spec.build()
    assert (info.value.field, info.value.line) == ("tools[1]", 4)
    assert "not_a_module_anywhere" in str(info.value)


def test_missing_attribute_and_non_tool_values_are_errors(tool_module):
    with pytest.raises(AgentSpecError, match=r"tools\[0\]: .*no attribute 'nope'"):
        AgentSpec.from_dict({"model": "scripted", "model_options": {"responses": []}, "tools": [f"{tool_module}:nope"]}).build()
    with pytest.raises(AgentSpecError, match="not a Tool"):
        AgentSpec.from_dict({"model": "scripted", "model_options": {"responses": []}, "tools": ["json:__name__"]}).build()


def test_tool_module_that_fails_to_import_is_one_clear_error(tmp_path, monkeypatch, write):
    (tmp_path / "broken_spec_tools.py").write_text("import math\nraise RuntimeError('database not configured')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write("agent.yaml", "model: scripted:x.json\ntools: [broken_spec_tools:search]\n")
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(path).build()
    assert info.value.line == 2 and "RuntimeError: database not configured" in str(info.value)


def test_missing_key_variable_names_api_key_env_line(write, monkeypatch):
    monkeypatch.delenv("SMOLKERNEL_TEST_ABSENT_KEY", raising=False)
    path = write("agent.yaml", """
        model: openai/gpt-4o-mini
        model_options:
          api_base: http://127.0.0.1:9/v1
          api_key_env: SMOLKERNEL_TEST_ABSENT_KEY
    """)
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(path).build()
    assert (info.value.field, info.value.line) == ("model_options.api_key_env", 4)
    assert "SMOLKERNEL_TEST_ABSENT_KEY" in str(info.value)


@pytest.mark.parametrize("field, options", [("model_options", {"api_key": "sk-secret-123"}), ("executor_options", {"token": "sk-secret-123"})])
def test_a_secret_in_a_spec_is_refused_without_echoing_it(field, options):
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_dict({"model": "openai/gpt-4o", field: options})
    assert info.value.field.startswith(field)
    assert "sk-secret-123" not in str(info.value) and "environment variable" in str(info.value)


def test_key_env_must_be_a_variable_name_and_a_pasted_key_is_not_echoed():
    with pytest.raises(AgentSpecError, match="api_key_env: must be the name of an environment variable") as info:
        AgentSpec.from_dict({"model": "openai/gpt-4o", "model_options": {"api_key_env": "sk-abc-123-secret"}})
    assert "sk-abc" not in str(info.value)


@pytest.mark.parametrize("data, field", [
    ({"kind": "planner"}, "kind"),
    ({"max_steps": 0}, "max_steps"),
    ({"max_steps": True}, "max_steps"),
    ({"memory_size": "5"}, "memory_size"),
    ({"name": "my agent"}, "name"),
    ({"tools": "pkg:tool"}, "tools"),
    ({"tools": [{"ftp": "x"}]}, "tools[0]"),
    ({"tools": ["no_colon_here"]}, "tools[0]"),
    ({"kind": "toolcalling", "executor": "kernel"}, "executor"),
    ({"managed_agents": [{"name": "helper"}]}, "managed_agents[0]"),
    ({"managed_agents": [{"name": "h", "description": "d", "modle": "x"}]}, "managed_agents[0].modle"),
])
def test_bad_values_name_their_field(data, field):
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_dict(data)
    assert info.value.field == field
    assert isinstance(info.value, ConfigurationError)


def test_yaml_syntax_error_and_duplicate_field_give_lines(write):
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(write("bad.yaml", "kind: code\ntools: [a:b\nmax_steps: 2\n"))
    assert info.value.line is not None and "not valid YAML" in str(info.value)
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(write("dup.yaml", "kind: code\nmax_steps: 2\nmax_steps: 3\n"))
    assert (info.value.field, info.value.line) == ("max_steps", 3)


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(AgentSpecError, match="cannot read the spec"):
        AgentSpec.from_file(tmp_path / "nope.yaml")


def test_managed_agents_build_and_are_called(tool_module):
    spec = AgentSpec.from_dict({
        "model": "scripted",
        "model_options": {"responses": [reply("final_answer(helper(task='add'))")]},
        "managed_agents": [{
            "kind": "toolcalling", "name": "helper", "description": "Adds numbers.", "model": "scripted",
            "model_options": {"responses": [{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 2}}]},
                                            {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "four"}}]}]},
            "tools": [f"{tool_module}:add"],
        }],
    })
    agent = spec.build()
    assert list(agent.managed_agents) == ["helper"]
    assert agent.run("go").output == "four"
    again = agent.to_spec()
    assert again.managed_agents[0].tools == [f"{tool_module}:add"]
    assert again.managed_agents[0].to_dict()["kind"] == "toolcalling"


def test_to_spec_names_model_executor_and_tools(tool_module, write, monkeypatch):
    import importlib

    module = importlib.import_module(tool_module)
    replies = write("replies.yaml", "- 'final_answer(1)'\n")
    agent = CodeAgent([module.add, module.Shout()], f"scripted:{replies}", executor="kernel", executor_options={"timeout": 12}, max_steps=4, name="a", description="d")
    spec = agent.to_spec()
    assert spec.model == f"scripted:{replies}" and spec.model_options == {}
    assert spec.tools == [f"{tool_module}:add", f"{tool_module}:Shout"]
    assert (spec.executor, spec.executor_options, spec.max_steps) == ("kernel", {"timeout": 12}, 4)
    rebuilt = spec.build()
    assert rebuilt.executor.name == "kernel" and rebuilt.executor.timeout == 12
    assert rebuilt.to_spec() == spec


def test_to_spec_keeps_key_variable_names_never_keys(monkeypatch):
    monkeypatch.setenv("SMOLKERNEL_TEST_KEY", "sk-very-secret")
    from smolkernel.models import resolve_model

    model = resolve_model("openai-server:llama", api_base="http://127.0.0.1:9/v1", api_key_env="SMOLKERNEL_TEST_KEY", temperature=0.1)
    agent = ToolCallingAgent([], model)
    spec = agent.to_spec()
    assert spec.model == "openai-server:llama"
    assert spec.model_options == {"api_base": "http://127.0.0.1:9/v1", "api_key_env": "SMOLKERNEL_TEST_KEY", "temperature": 0.1}
    assert "sk-very-secret" not in spec.to_yaml()


def test_notebook_style_tool_becomes_inline_source(tool_module):
    factor = 3

    @tool
    def triple(x: int) -> int:
        """Multiply by three.

        Args:
            x: the number
        """
        return x * factor

    agent = CodeAgent([triple], ScriptedModel([reply("final_answer(triple(5))")]))
    spec = agent.to_spec()
    (entry,) = spec.tools
    assert "def triple" in entry["source"] and "factor = 3" in entry["source"]
    assert spec.build().run("x").output == 15
    with pytest.raises(AgentSpecError, match="trust_remote_code=True"):
        spec.build(trust_remote_code=False)


def test_function_scripted_model_cannot_be_described():
    agent = CodeAgent([], ScriptedModel(lambda messages: "x"))
    with pytest.raises(ConfigurationError, match="function"):
        agent.to_spec()


def test_build_overrides_model_and_executor():
    spec = AgentSpec.from_dict({"model": "openai/gpt-4o-mini", "executor": "sandbox"})
    model = ScriptedModel([reply("final_answer('over')")])
    agent = spec.build(model=model, executor="local")
    assert agent.model is model and agent.executor.name == "local"
    assert agent.run("x").output == "over"


def test_unknown_executor_names_the_field(write):
    path = write("agent.yaml", "model: scripted:x.json\nexecutor: quantum\n")
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(path).build(model=ScriptedModel([]))
    assert (info.value.field, info.value.line) == ("executor", 2)
