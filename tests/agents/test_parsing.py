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


# -- pieces of the reply reader (the corpus in test_reply_corpus.py covers whole replies) --

from smolkernel.agents._near_json import Undecodable, balanced_spans, decode_value  # noqa: E402
from smolkernel.agents.parsing import ipython_lines, parse_tool_calls  # noqa: E402


def test_balanced_spans_skip_strings():
    text = 'x {"k": "}"} y [1, {"x": [2]}] z'
    assert [text[s:e] for s, e in balanced_spans(text)] == ['{"k": "}"}', '[1, {"x": [2]}]']


def test_a_call_inside_bracketed_prose_is_found():
    (call,) = parse_tool_calls('a { unclosed, then {"name": "add", "arguments": {"a": 1, "b": 2}} and [1, 2 end')
    assert (call.name, call.arguments) == ("add", {"a": 1, "b": 2})


def test_decode_value_repairs_only_what_parses():
    assert decode_value('{"a": "say "hi" now", "b": 1}') == {"a": 'say "hi" now', "b": 1}
    assert decode_value("{'a': None, 'b': True}") == {"a": None, "b": True}
    with pytest.raises(Undecodable, match=r"invalid JSON at line 2 column 9: Expecting ',' delimiter"):
        decode_value('{"a": 1,\n "b": 2 "c": 3}')


def test_ipython_lines_only_outside_valid_python():
    assert ipython_lines("x = 10 % 3\ntext = '''\n%not a magic\n'''") == []
    assert ipython_lines("import os\n  !ls -la\n%pip install x") == [(2, "  !ls -la"), (3, "%pip install x")]


def test_missing_arguments_are_never_an_empty_dict():
    (call,) = parse_tool_calls('{"name": "search"}')
    assert call.arguments_missing and call.arguments == "" and call.problem is None
    (call,) = parse_tool_calls('{"name": "search", "query": "x"}')
    assert call.problem and "'query'" in call.problem and call.arguments != {}


def test_native_call_with_near_json_arguments_is_repaired(add_tool):
    from smolkernel.agents import ToolCallingAgent
    from smolkernel.testing import ScriptedModel

    model = ScriptedModel([
        {"tool_calls": [{"name": "add", "arguments": "{'a': 1, 'b': 2}"}]},
        {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "ok"}}]},
    ])
    result = ToolCallingAgent([add_tool], model).run("x")
    assert result.action_steps[0].error is None and "add: 3" in result.action_steps[0].observations
