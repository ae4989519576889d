"""Call-time argument checks: a bad call raises AgentToolCallError the model can act on."""

from __future__ import annotations

from typing import Any

import pytest

from smolkernel.exceptions import AgentToolCallError
from smolkernel.tools import FinalAnswer, FinalAnswerTool, Tool, tool


@tool
def scale(values: list[float], factor: float = 2.0, label: str | None = None) -> list:
    """Scale numbers.

    Args:
        values: the numbers
        factor: multiply by this
        label: a name for the result
    """
    return [v * factor for v in values] + ([label] if label else [])


@tool
def configure(options: dict) -> dict:
    """Apply options.

    Args:
        options: the options
    """
    return options


def test_positional_and_keyword_arguments_bind() -> None:
    assert scale([1, 2]) == [2, 4]
    assert scale([1], 3) == [3]
    assert scale(values=[1], factor=0.5, label="half") == [0.5, "half"]


def test_single_dict_argument_is_taken_as_keyword_arguments() -> None:
    assert scale({"values": [1], "factor": 10}) == [10]


def test_single_dict_is_the_value_when_the_only_input_is_an_object() -> None:
    assert configure({"options": 1}) == {"options": 1}


def test_final_answer_keeps_a_dict_answer_whole() -> None:
    with pytest.raises(FinalAnswer) as raised:
        FinalAnswerTool()({"answer": 42})
    assert raised.value.value == {"answer": 42}


def test_final_answer_raises_a_base_exception_carrying_the_value() -> None:
    assert not issubclass(FinalAnswer, Exception)
    with pytest.raises(FinalAnswer) as raised:
        FinalAnswerTool()(answer=[1, 2])
    assert raised.value.value == [1, 2]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, r"scale\(\) is missing the required argument 'values'\. Usage: scale\(values: list\[float\]"),
        (([1], 2, "x", "extra"), {}, r"scale\(\) takes 3 argument\(s\) but 4 were given\. Usage: "),
        (([1],), {"factr": 3}, r"scale\(\) got an unexpected argument 'factr'; its arguments are: values, factor, label"),
        (([1],), {"values": [2]}, r"scale\(\) got two values for argument 'values'"),
        (("1, 2",), {}, r"scale\(\): argument 'values' must be array, got str '1, 2'\. Usage: "),
        (([1],), {"factor": "2"}, r"argument 'factor' must be number, got str '2'"),
        (([1],), {"factor": None}, r"argument 'factor' must not be None"),
    ],
)
def test_bad_calls_say_what_is_wrong_and_show_the_usage(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(AgentToolCallError, match=message):
        scale(*args, **kwargs)


def test_a_tool_without_inputs_refuses_arguments() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert ping() == "pong"
    with pytest.raises(AgentToolCallError, match=r"ping\(\) got an unexpected argument 'x'; its arguments are: none"):
        ping(x=1)


def test_declared_defaults_are_fresh_copies_for_each_call() -> None:
    class Collect(Tool):
        name = "collect"
        description = "Collect items."
        inputs = {
            "item": {"type": "string", "description": "the item"},
            "bag": {"type": "array", "description": "where to put it", "default": []},
        }
        output_type = "array"

        def forward(self, item: str, bag: list) -> list:
            bag.append(item)
            return bag

    collect = Collect()
    assert collect("a") == ["a"]
    assert collect("b") == ["b"]
    assert Collect.inputs["bag"]["default"] == []
