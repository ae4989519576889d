"""tool.save(folder) and load_tool(folder | file): one tool as tool.py + requirements.txt."""

from __future__ import annotations

import pytest

from smolkernel import Tool, load_tool, tool
from smolkernel.exceptions import ConfigurationError, UntrustedCodeError


class Repeat(Tool):
    name = "repeat"
    description = "Repeat a text."
    inputs = {"text": {"type": "string", "description": "the text"}, "times": {"type": "integer", "description": "how often", "default": 2}}
    output_type = "string"

    def forward(self, text: str, times: int) -> str:
        return text * times


def test_function_tool_round_trip_with_its_imports(tmp_path):
    import statistics

    @tool
    def middle(values: list[float]) -> float:
        """The median of some numbers.

        Args:
            values: the numbers
        """
        return statistics.median(values)

    folder = middle.save(tmp_path / "middle")
    assert (folder / "requirements.txt").read_text() == "smolkernel\n"
    assert "import statistics" in (folder / "tool.py").read_text()
    loaded = load_tool(folder, trust_remote_code=True)
    assert loaded.name == "middle" and loaded(values=[3, 1, 2]) == 2


def test_tool_subclass_round_trip_from_a_file(tmp_path):
    Repeat().save(tmp_path / "repeat")
    loaded = load_tool(tmp_path / "repeat" / "tool.py", trust_remote_code=True)
    assert loaded("ab") == "abab" and loaded.inputs["times"]["default"] == 2


def test_load_tool_refuses_without_trust_and_names_the_file(tmp_path):
    Repeat().save(tmp_path / "r")
    with pytest.raises(UntrustedCodeError, match="tool.py.*trust_remote_code=True"):
        load_tool(tmp_path / "r")


def test_several_tools_need_a_name(tmp_path):
    (tmp_path / "tool.py").write_text(
        "from smolkernel import tool\n\n"
        "@tool\ndef a(x: int) -> int:\n    \"\"\"A.\n\n    Args:\n        x: n\n    \"\"\"\n    return 1\n\n"
        "@tool\ndef b(x: int) -> int:\n    \"\"\"B.\n\n    Args:\n        x: n\n    \"\"\"\n    return 2\n"
    )
    with pytest.raises(ConfigurationError, match="exactly one tool.*a, b"):
        load_tool(tmp_path, trust_remote_code=True)
    assert load_tool(tmp_path, trust_remote_code=True, name="b")(x=0) == 2
