"""``{mcp: ...}`` tool entries of an AgentSpec: built into tools, written back by to_spec,
and clear errors naming the field (real servers: our SDK-written edge server)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from smolkernel import AgentSpec
from smolkernel.exceptions import AgentSpecError
from smolkernel.tools.mcp import MCPClient


def test_yaml_spec_with_an_mcp_server_builds_an_agent_that_calls_it(edge_command, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_SECRET", "from-the-environment")
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent(f"""
        model: scripted
        model_options:
          responses:
            - "```python\\nfinal_answer(str(add(40, 2)) + ' ' + env_value('EDGE_SECRET'))\\n```"
        tools:
          - mcp: {edge_command!r}
            env: [EDGE_SECRET]
            connect_timeout: 60
    """))
    agent = AgentSpec.from_file(path).build()
    assert {"add", "weather", "greet_person"} <= set(agent.tools)
    assert agent.run("go").output == "42 from-the-environment"
    written = agent.to_spec().to_dict()["tools"]
    assert written == [{"mcp": edge_command, "env": ["EDGE_SECRET"], "connect_timeout": 60}]
    assert "from-the-environment" not in agent.to_spec().to_yaml()


def test_tools_of_a_client_made_in_python_are_written_as_one_entry(edge_command):
    from smolkernel import CodeAgent, ScriptedModel

    with MCPClient(edge_command, timeout=12, connect_timeout=60) as client:
        agent = CodeAgent(client.tools, ScriptedModel(["```python\nfinal_answer(1)\n```"]))
        assert agent.to_spec().tools == [{"mcp": edge_command, "timeout": 12.0}]


@pytest.mark.parametrize(("entry", "message"), [
    ({"mcp": ["x"], "port": 3}, "unknown key"),
    ({"mcp": ["x"], "env": {"A": "secret"}}, "list of environment variable names"),
    ({"mcp": ["x"], "env": ["SMOLKERNEL_TEST_UNSET_VAR"]}, "SMOLKERNEL_TEST_UNSET_VAR"),
    ({"mcp": ["x"], "timeout": -1}, "positive number"),
    ({"mcp": [sys.executable, "-c", "import sys; sys.exit('bad server')"]}, "bad server"),
])
def test_bad_mcp_entries_name_the_field(entry, message):
    spec = AgentSpec.from_dict({"model": "scripted", "model_options": {"responses": ["x"]}, "tools": [entry]})
    with pytest.raises(AgentSpecError, match=message) as caught:
        spec.build()
    assert "tools[0]" in str(caught.value)
