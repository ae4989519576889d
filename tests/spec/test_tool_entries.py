"""Tool entries of a spec: the registry of kinds, shipped code, and the errors."""

from __future__ import annotations

import pytest

from smolkernel import AgentSpec, ScriptedModel, Tool
from smolkernel.exceptions import AgentSpecError, ConfigurationError
from smolkernel.tools import entries


class Echo(Tool):
    name = "echo"
    description = "Echo a text with a prefix."
    inputs = {"text": {"type": "string", "description": "the text"}}
    output_type = "string"

    def __init__(self, prefix: str):
        self.prefix = prefix
        super().__init__()

    def forward(self, text: str) -> str:
        return self.prefix + text


def test_a_registered_kind_builds_tools_and_is_written_back(monkeypatch, tmp_path):
    seen = []

    def build_echo(entry, context):
        seen.append(context.base_dir)
        entries_keys = set(entry) - {"echo"}
        if entries_keys:
            raise ConfigurationError(f"unknown keys {sorted(entries_keys)}")
        return [Echo(entry["echo"])]

    monkeypatch.setitem(entries.ENTRY_KINDS, "echo", build_echo)
    (tmp_path / "agent.yaml").write_text("model: scripted:replies.json\ntools:\n  - {echo: '>> '}\n  - {echo: x, colour: red}\n")
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(tmp_path / "agent.yaml").build(model=ScriptedModel([]))
    assert (info.value.field, info.value.line) == ("tools[1]", 4) and "colour" in str(info.value)

    spec = AgentSpec.from_dict({"tools": [{"echo": ">> "}]}, base_dir=tmp_path)
    agent = spec.build(model=ScriptedModel(["```python\nfinal_answer(echo('hi'))\n```"]))
    assert agent.run("x").output == ">> hi"
    assert seen[-1] == tmp_path.resolve()
    assert agent.to_spec().tools == [{"echo": ">> "}]


def test_unknown_kinds_list_the_known_ones():
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_dict({"tools": [{"gopher": "x"}]})
    for kind in ("{file: ...}", "{source: ...}", "{mcp: ...}", "{space: ...}"):
        assert kind in str(info.value)


def test_file_entry_reads_relative_to_the_spec_and_picks_by_name(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "two.py").write_text(
        "from smolkernel import tool\n\n"
        "@tool\ndef one(x: int) -> int:\n    \"\"\"One.\n\n    Args:\n        x: a number\n    \"\"\"\n    return x + 1\n\n"
        "@tool\ndef two(x: int) -> int:\n    \"\"\"Two.\n\n    Args:\n        x: a number\n    \"\"\"\n    return x + 2\n"
    )
    (tmp_path / "agent.yaml").write_text("tools:\n  - {file: tools/two.py, name: two}\n")
    agent = AgentSpec.from_file(tmp_path / "agent.yaml").build(model=ScriptedModel([]))
    assert sorted(agent.tools) == ["final_answer", "two"]
    (tmp_path / "all.yaml").write_text("tools:\n  - {file: tools/two.py}\n")
    assert sorted(AgentSpec.from_file(tmp_path / "all.yaml").build(model=ScriptedModel([])).tools) == ["final_answer", "one", "two"]


@pytest.mark.parametrize("code, problem", [
    ("def broken(:\n", "does not compile"),
    ("raise KeyError('no config')\n", "KeyError"),
    ("x = 1\n", "defines no tool"),
])
def test_shipped_code_problems_are_clear(code, problem):
    with pytest.raises(AgentSpecError, match=problem) as info:
        AgentSpec.from_dict({"tools": [{"source": code}]}).build(model=ScriptedModel([]))
    assert info.value.field == "tools[0]"


def test_a_tool_object_whose_class_needs_arguments_cannot_be_described():
    from smolkernel import CodeAgent

    with pytest.raises(ConfigurationError, match=r"Echo\(\) takes arguments"):
        CodeAgent([Echo("> ")], ScriptedModel(["x"])).to_spec()


def test_a_tool_whose_constructor_raises_is_a_located_error(tmp_path, monkeypatch):
    (tmp_path / "fragile_spec_tools.py").write_text(
        "from smolkernel import Tool\n\n"
        "class Fragile(Tool):\n    name = 'fragile'\n    description = 'Needs a database.'\n    inputs = {}\n    output_type = 'string'\n\n"
        "    def __init__(self):\n        raise RuntimeError('no database at localhost:5432')\n\n"
        "    def forward(self):\n        return ''\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "agent.yaml").write_text("tools:\n  - fragile_spec_tools:Fragile\n")
    with pytest.raises(AgentSpecError) as info:
        AgentSpec.from_file(tmp_path / "agent.yaml").build(model=ScriptedModel([]))
    assert (info.value.field, info.value.line) == ("tools[0]", 2)
    assert "RuntimeError: no database at localhost:5432" in str(info.value)


def test_self_contained_dict_carries_tool_code_and_absolute_script(tmp_path, monkeypatch):
    import json as json_module

    from smolkernel import CodeAgent, tool

    prefix = "#"

    @tool
    def tag(text: str) -> str:
        """Tag a text.

        Args:
            text: the text
        """
        return prefix + text

    (tmp_path / "replies.json").write_text(json_module.dumps(["```python\nfinal_answer(tag('x'))\n```"]))
    CodeAgent([tag], ScriptedModel(["unused"])).save(tmp_path / "saved")
    spec = AgentSpec.from_file(tmp_path / "saved")
    spec.model, spec.model_options = "scripted:../replies.json", {}
    data = spec.to_dict(self_contained=True)
    assert data["tools"][0]["name"] == "tag" and "prefix = '#'" in data["tools"][0]["source"]
    assert data["model"] == f"scripted:{(tmp_path / 'saved' / '../replies.json')}"
    monkeypatch.chdir(tmp_path / "saved" / "tools")  # elsewhere: nothing relative is needed any more
    assert AgentSpec.from_dict(json_module.loads(json_module.dumps(data))).build().run("go").output == "#x"
