"""Tool.from_smolagents: smolagents tools used unchanged, tested with real smolagents tools."""

from __future__ import annotations

import pytest

import smolagents  # in the locked environment (the bench extra)

tool = smolagents.tool  # smolagents warns unless its decorator is spelled @tool

from smolkernel import AgentSpec, CodeAgent, ScriptedModel, Tool, ToolCallingAgent  # noqa: E402
from smolkernel.exceptions import AgentToolCallError, ToolDefinitionError  # noqa: E402


@tool
def lookup(key: str, default: str | None = None) -> str:
    """Look a key up in a small table.

    Args:
        key: the key
        default: what to return when the key is missing
    """
    return {"a": "alpha", "b": "beta"}.get(key, default or "?")


class Expensive(smolagents.Tool):
    name = "expensive"
    description = "Returns how many times setup ran and the input doubled."
    inputs = {"n": {"type": "integer", "description": "a number"}}
    output_type = "string"

    def setup(self):
        self.setups = getattr(self, "setups", 0) + 1
        self.is_initialized = True

    def forward(self, n: int) -> str:
        return f"{self.setups}:{n * 2}"


def reply(code: str) -> str:
    return f"```python\n{code}\n```"


def test_builtin_smolagents_tool_runs_in_a_code_agent():
    python = Tool.from_smolagents(smolagents.PythonInterpreterTool())
    assert python.name == "python_interpreter" and python.inputs["code"]["type"] == "string"
    agent = CodeAgent([python], ScriptedModel([reply("final_answer(python_interpreter(code='print(6 * 7)'))")]))
    assert "42" in agent.run("x").output


def test_smolagents_function_tool_keeps_schema_and_checks_arguments():
    adapted = Tool.from_smolagents(lookup)
    assert adapted.inputs["default"].get("nullable") is True
    assert adapted(key="a") == "alpha" and adapted("z", "none") == "none"
    with pytest.raises(AgentToolCallError, match="missing the required argument 'key'"):
        adapted()
    assert "lookup(key: str, default: str | None = None) -> str" in adapted.to_code_prompt()


def test_setup_runs_once_across_calls_in_a_toolcalling_agent():
    adapted = Tool.from_smolagents(Expensive())
    calls = [{"tool_calls": [{"name": "expensive", "arguments": {"n": 2}}]}, {"tool_calls": [{"name": "expensive", "arguments": {"n": 5}}]},
             {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "done"}}]}]
    agent = ToolCallingAgent([adapted], ScriptedModel(calls))
    result = agent.run("x")
    assert result.output == "done"
    assert [s.observations for s in result.steps[:2]] == ["expensive: 1:4", "expensive: 1:10"]


def test_image_inputs_become_any():
    class Caption(smolagents.Tool):
        name = "caption"
        description = "Caption an image."
        inputs = {"image": {"type": "image", "description": "the picture"}}
        output_type = "string"

        def forward(self, image):
            return f"a picture of {image}"

    adapted = Tool.from_smolagents(Caption())
    assert adapted.inputs["image"]["type"] == "any" and "(image)" in adapted.inputs["image"]["description"]
    assert adapted(image="a cat") == "a picture of a cat"


def test_non_smolagents_object_is_refused():
    with pytest.raises(ToolDefinitionError, match="takes a smolagents Tool"):
        Tool.from_smolagents(lambda x: x)


def test_smolagents_tools_in_a_spec_by_import_path_and_in_to_spec():
    spec = AgentSpec.from_dict({"model": "scripted", "model_options": {"responses": [reply("final_answer(python_interpreter(code='1+1'))")]},
                                "tools": ["smolagents.default_tools:PythonInterpreterTool"]})
    agent = spec.build()
    assert "2" in str(agent.run("x").output)
    assert agent.to_spec().tools == ["smolagents.default_tools:PythonInterpreterTool"]
    # a smolagents @tool function has no import path to its class: it is described by the code smolagents writes
    (entry,) = CodeAgent([Tool.from_smolagents(lookup)], ScriptedModel(["x"])).to_spec().tools
    assert "class SimpleTool(Tool)" in entry["source"]
