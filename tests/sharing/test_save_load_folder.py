"""agent.save(folder) and from_folder / load_agent: files, trust, round trips."""

from __future__ import annotations

import math

import pytest
import yaml

from smolkernel import CodeAgent, ScriptedModel, Tool, ToolCallingAgent, load_agent, tool
from smolkernel.exceptions import AgentSpecError, ConfigurationError

RATE = 2


def reply(code: str) -> str:
    return f"```python\n{code}\n```"


@tool
def scaled(x: float) -> float:
    """Square root times a rate.

    Args:
        x: the number
    """
    return math.sqrt(x) * RATE


class Counter(Tool):
    name = "count"
    description = "Count calls."
    inputs = {"step": {"type": "integer", "description": "how much to add"}}
    output_type = "integer"

    def setup(self) -> None:
        self.value = 0

    def forward(self, step: int) -> int:
        self.value += step
        return self.value


def _notebook_tool():
    """A tool as a notebook defines it: not importable from any module."""
    prefix = "Dr. "

    @tool
    def title(name: str) -> str:
        """Give a name a title.

        Args:
            name: the name
        """
        return prefix + name

    return title


def test_save_writes_spec_tool_files_and_requirements(tmp_path):
    title = _notebook_tool()
    agent = CodeAgent([scaled, title], ScriptedModel(["x"]), max_steps=4, name="calc", description="Calculates.")
    folder = agent.save(tmp_path / "calc")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["agent.yaml", "requirements.txt", "tools/title.py"]
    spec = yaml.safe_load((folder / "agent.yaml").read_text())
    # a tool importable from its module is named, not copied; the notebook one is shipped as a file
    assert spec["tools"] == [f"{__name__}:scaled", {"file": "tools/title.py", "name": "title"}]
    assert "prefix = 'Dr. '" in (folder / "tools/title.py").read_text()
    assert (folder / "requirements.txt").read_text().splitlines()[0] == "smolkernel"
    assert "api_key" not in (folder / "agent.yaml").read_text()


def test_loading_refuses_shipped_code_unless_trusted(tmp_path):
    agent = CodeAgent([_notebook_tool()], ScriptedModel([reply("final_answer(title('Who'))")]))
    agent.save(tmp_path / "a")
    with pytest.raises(AgentSpecError) as info:
        CodeAgent.from_folder(tmp_path / "a")
    message = str(info.value)
    assert "tools/title.py" in message and "trust_remote_code=True" in message and "line" in message
    loaded = CodeAgent.from_folder(tmp_path / "a", trust_remote_code=True)
    assert loaded.run("go").output == "Dr. Who"


def test_round_trip_keeps_settings_and_state_free_tools(tmp_path):
    helper = ToolCallingAgent([scaled], ScriptedModel([{"tool_calls": [{"name": "final_answer", "arguments": {"answer": "h"}}]}]), name="helper", description="Helps.")
    agent = CodeAgent([Counter()], ScriptedModel([reply("final_answer(helper(task='t') + str(count(2)))")]), managed_agents=[helper],
                      max_steps=6, memory_size=2, planning_interval=None, instructions="Be short.", executor_options={"timeout": 9})
    agent.save(tmp_path / "b")
    loaded = load_agent(tmp_path / "b")  # nothing shipped: no trust needed
    assert isinstance(loaded, CodeAgent)
    assert (loaded.max_steps, loaded.memory.memory_size, loaded.instructions, loaded.executor.timeout) == (6, 2, "Be short.", 9)
    assert list(loaded.managed_agents) == ["helper"] and isinstance(loaded.managed_agents["helper"], ToolCallingAgent)
    assert loaded.run("go").output == "h2"
    assert loaded.to_spec() == agent.to_spec()


def test_resaving_a_loaded_agent_keeps_its_shipped_tools(tmp_path):
    CodeAgent([_notebook_tool()], ScriptedModel([reply("final_answer(title('X'))")])).save(tmp_path / "one")
    loaded = load_agent(tmp_path / "one", trust_remote_code=True)
    loaded.save(tmp_path / "two")
    assert (tmp_path / "two/tools/title.py").read_text() == (tmp_path / "one/tools/title.py").read_text()
    assert load_agent(tmp_path / "two", trust_remote_code=True).run("x").output == "Dr. X"


def test_saving_again_removes_stale_tool_files(tmp_path):
    first = _notebook_tool()
    CodeAgent([first], ScriptedModel(["x"])).save(tmp_path / "c")
    (tmp_path / "c" / "notes.md").write_text("mine")
    CodeAgent([], ScriptedModel(["x"])).save(tmp_path / "c")
    assert not (tmp_path / "c/tools/title.py").exists()
    assert (tmp_path / "c/notes.md").read_text() == "mine"


def test_from_folder_checks_the_kind(tmp_path):
    ToolCallingAgent([], ScriptedModel(["x"])).save(tmp_path / "tc")
    with pytest.raises(ConfigurationError, match="ToolCallingAgent.from_folder"):
        CodeAgent.from_folder(tmp_path / "tc")
    assert isinstance(ToolCallingAgent.from_folder(tmp_path / "tc"), ToolCallingAgent)


def test_tool_using_an_unsaveable_global_is_a_clear_error(tmp_path):
    handle = open(__file__)  # noqa: SIM115 - an object that cannot be written as code
    try:
        @tool
        def peek(n: int) -> str:
            """Read n characters.

            Args:
                n: how many
            """
            return handle.read(n)

        with pytest.raises(ConfigurationError, match="'handle'.*cannot be saved"):
            CodeAgent([peek], ScriptedModel(["x"])).save(tmp_path / "d")
    finally:
        handle.close()


def test_missing_folder_and_bad_spec_are_errors(tmp_path):
    with pytest.raises(AgentSpecError, match="no such folder"):
        load_agent(tmp_path / "absent")
    (tmp_path / "e").mkdir()
    (tmp_path / "e/agent.yaml").write_text("kind: code\ntools:\n  - {file: tools/gone.py}\n")
    with pytest.raises(AgentSpecError) as info:
        load_agent(tmp_path / "e", trust_remote_code=True, model=ScriptedModel([]))
    assert info.value.line == 3 and "gone.py" in str(info.value)
