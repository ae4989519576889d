import pytest

from smolkernel.agents.parsing import parse_code, parse_json_tool_calls
from smolkernel.exceptions import AgentParsingError


def test_fenced_python_block():
    assert parse_code("Thought: add.\n```python\nx = 1 + 1\nprint(x)\n```\n") == "x = 1 + 1\nprint(x)"


def test_bare_fence_and_py_tag():
    assert parse_code("```\nprint(1)\n```") == "print(1)"
    assert parse_code("```py\nprint(2)\n```") == "print(2)"


def test_several_blocks_are_joined_in_order():
    assert parse_code("```python\na = 1\n```\ntext\n```python\nb = a\n```") == "a = 1\n\nb = a"


def test_code_tags():
    assert parse_code("Thought: x\n<code>\ny = 2\n</code>") == "y = 2"


def test_unterminated_fence_from_a_stop_sequence():
    assert parse_code("```python\nprint('cut')\n") == "print('cut')"


def test_other_languages_are_not_run():
    assert parse_code("```json\n{\"a\": 1}\n```\n```python\nz = 3\n```") == "z = 3"


def test_no_code_tells_the_model_the_format():
    with pytest.raises(AgentParsingError, match="```python"):
        parse_code("I think the answer is 4.")


def test_json_tool_call_in_plain_content():
    calls = parse_json_tool_calls('Sure: {"name": "add", "arguments": {"a": 1, "b": 2}}')
    assert [(c.name, c.arguments) for c in calls] == [("add", {"a": 1, "b": 2})]


def test_json_tool_call_variants_and_lists():
    calls = parse_json_tool_calls('```json\n[{"tool": "x", "parameters": {"q": 1}}, {"action": "y", "action_input": "{\\"k\\": 2}"}]\n```')
    assert [(c.name, c.arguments) for c in calls] == [("x", {"q": 1}), ("y", {"k": 2})]


def test_json_without_a_call_is_an_error():
    with pytest.raises(AgentParsingError, match="final_answer"):
        parse_json_tool_calls("The answer is 3.")
