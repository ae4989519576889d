"""Type hints to JSON-schema types, value checks and docstring parsing."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

import numpy as np
import pytest

from smolkernel.tools.schema import check_value, json_type_of, parse_docstring, python_annotation


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, ("string", False, {})),
        (int, ("integer", False, {})),
        (float, ("number", False, {})),
        (bool, ("boolean", False, {})),
        (dict, ("object", False, {})),
        (dict[str, int], ("object", False, {})),
        (list, ("array", False, {})),
        (list[str], ("array", False, {"items": {"type": "string"}})),
        (tuple[int, ...], ("array", False, {"items": {"type": "integer"}})),
        (list[Any], ("array", False, {})),
        (Any, ("any", False, {})),
        (str | None, ("string", True, {})),
        (Optional[int], ("integer", True, {})),
        (Union[int, str], ("any", False, {})),
        (Literal["a", "b"], ("string", False, {"enum": ["a", "b"]})),
        (Literal[1, "a"], ("any", False, {"enum": [1, "a"]})),
        (Literal["a", None], ("string", True, {"enum": ["a"]})),
    ],
)
def test_json_type_of(hint: Any, expected: tuple[str, bool, dict[str, Any]]) -> None:
    assert json_type_of(hint) == expected


@pytest.mark.parametrize("hint", [bytes, complex, set, object])
def test_json_type_of_refuses_types_with_no_json_equivalent(hint: Any) -> None:
    with pytest.raises(TypeError, match="unsupported type hint"):
        json_type_of(hint)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "string"}, "str"),
        ({"type": "array", "items": {"type": "integer"}}, "list[int]"),
        ({"type": "string", "nullable": True}, "str | None"),
        ({"type": "string", "enum": ["x", "y"]}, "Literal['x', 'y']"),
        ({"type": "any"}, "Any"),
        ({}, "Any"),
    ],
)
def test_python_annotation(spec: dict[str, Any], expected: str) -> None:
    assert python_annotation(spec) == expected


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("x", {"type": "string"}),
        (3, {"type": "integer"}),
        (np.int64(3), {"type": "integer"}),
        (3, {"type": "number"}),
        (2.5, {"type": "number"}),
        (np.float32(2.5), {"type": "number"}),
        (True, {"type": "boolean"}),
        ([1], {"type": "array"}),
        ((1,), {"type": "array"}),
        ({}, {"type": "object"}),
        (object(), {"type": "any"}),
        (None, {"type": "string", "nullable": True}),
        ("b", {"type": "string", "enum": ["a", "b"]}),
    ],
)
def test_check_value_accepts(value: Any, spec: dict[str, Any]) -> None:
    assert check_value(value, spec) is None


@pytest.mark.parametrize(
    ("value", "spec", "problem"),
    [
        (3, {"type": "string"}, "must be string, got int 3"),
        (2.5, {"type": "integer"}, "must be integer, got float 2.5"),
        (True, {"type": "integer"}, "must be integer, got bool True"),
        (False, {"type": "number"}, "must be number, got bool False"),
        ("x" * 100, {"type": "integer"}, "must be integer, got str 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."),
        (None, {"type": "string"}, "must not be None"),
        ("c", {"type": "string", "enum": ["a", "b"]}, "must be one of ['a', 'b'], got 'c'"),
        (True, {"type": "any", "enum": [1, "a"]}, "must be one of [1, 'a'], got True"),
        (np.array([1, 2]), {"type": "any", "enum": [1]}, "must be one of [1], got array([1, 2])"),
    ],
)
def test_check_value_describes_the_problem(value: Any, spec: dict[str, Any], problem: str) -> None:
    assert check_value(value, spec) == problem


def test_parse_docstring_splits_description_args_and_returns() -> None:
    doc = """Convert a temperature.

    Uses the usual formula.

    Args:
        value (float): degrees
        unit: either "C" or "F",
            case-insensitive
        *rest: ignored

    Returns:
        the converted value

    Raises:
        ValueError: for other units
    """
    import inspect

    description, args, returns = parse_docstring(inspect.cleandoc(doc))
    assert description == "Convert a temperature.\n\nUses the usual formula."
    assert args == {"value": "degrees", "unit": 'either "C" or "F", case-insensitive', "rest": "ignored"}
    assert returns == "the converted value"


def test_parse_docstring_without_sections() -> None:
    assert parse_docstring("Just a description.") == ("Just a description.", {}, "")
