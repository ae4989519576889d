"""``@tool``: a typed, documented function becomes a Tool; bad definitions fail at once."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from smolkernel.exceptions import ToolDefinitionError
from smolkernel.tools import Tool, tool


def test_decorated_function_becomes_a_tool_with_schema_from_hints_and_docstring() -> None:
    @tool
    def search(query: str, limit: int = 5) -> list[str]:
        """Search the notes.

        Args:
            query: what to look for
            limit: how many results at most
        """
        return [query] * limit

    assert isinstance(search, Tool)
    assert search.name == "search"
    assert search.description == "Search the notes."
    assert search.inputs == {
        "query": {"type": "string", "description": "what to look for"},
        "limit": {"type": "integer", "description": "how many results at most", "default": 5},
    }
    assert search.output_type == "array"


def test_decorated_tool_is_still_callable_like_the_function() -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        """Add two numbers.

        Args:
            a: the first
            b: the second
        """
        return a + b

    assert add(1) == 3
    assert add(1, 5) == 6
    assert add(a=1, b=1) == 2


def test_name_option_overrides_the_function_name() -> None:
    @tool(name="lookup")
    def _private_lookup(key: str) -> str:
        """Look a key up.

        Args:
            key: the key
        """
        return key

    assert _private_lookup.name == "lookup"


def test_returns_section_is_appended_to_the_description() -> None:
    @tool
    def weather(city: str) -> str:
        """Current weather.

        Args:
            city: the city

        Returns:
            a one-line summary
        """
        return "sunny"

    assert weather.description == "Current weather.\nReturns: a one-line summary"


def test_multiline_arg_descriptions_and_typed_arg_lines_are_parsed() -> None:
    @tool
    def fetch(url: str, retries: int) -> str:
        """Fetch a page.

        Args:
            url (str): the address,
                including the scheme
            retries: how often to retry
        """
        return url

    assert fetch.inputs["url"]["description"] == "the address, including the scheme"
    assert fetch.inputs["retries"]["description"] == "how often to retry"


def test_optional_literal_and_any_hints() -> None:
    @tool
    def pick(mode: Literal["fast", "slow"], note: str | None = None, extra: Any = None) -> dict:
        """Pick a mode.

        Args:
            mode: how to go
            note: a remark
            extra: anything
        """
        return {"mode": mode, "note": note}

    assert pick.inputs["mode"] == {"type": "string", "description": "how to go", "enum": ["fast", "slow"]}
    assert pick.inputs["note"]["nullable"] is True
    assert pick.inputs["extra"]["type"] == "any"
    assert pick.output_type == "object"


def test_nullable_argument_without_default_is_passed_as_none() -> None:
    @tool
    def greet(name: str, title: str | None) -> str:
        """Greet someone.

        Args:
            name: who
            title: an optional title
        """
        return f"{title or ''}{name}"

    assert greet("Ada") == "Ada"


def test_positional_only_parameters_work() -> None:
    @tool
    def double(x: int, /) -> int:
        """Double a number.

        Args:
            x: the number
        """
        return 2 * x

    assert double(4) == 8
    assert double(x=4) == 8


# -- definition errors: each names the tool and the fix ------------------------


def test_missing_docstring_names_tool_and_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'nodoc'.*no docstring.*add one.*Args:"):

        @tool
        def nodoc(x: int) -> int:
            return x


def test_docstring_with_only_sections_has_no_description() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'bare'.*no description.*start it with what the tool does"):

        @tool
        def bare(x: int) -> int:
            """Args:
            x: a number
            """
            return x


def test_missing_args_entry_names_parameter_and_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'area'.*'height' is not described.*`height: <what it is>` under `Args:`"):

        @tool
        def area(width: float, height: float) -> float:
            """Area of a rectangle.

            Args:
                width: the width
            """
            return width * height


def test_missing_type_hint_names_parameter_and_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'echo'.*'text' has no type hint.*annotate it, e\.g\. `text: str`"):

        @tool
        def echo(text) -> str:  # type: ignore[no-untyped-def]
            """Echo.

            Args:
                text: the text
            """
            return text


def test_unsupported_type_hint_names_parameter_and_supported_types() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'digest'.*'data'.*unsupported type hint 'bytes'.*use str, int, float"):

        @tool
        def digest(data: bytes) -> str:
            """Hash bytes.

            Args:
                data: the bytes
            """
            return ""


def test_unsupported_return_type_names_tool() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'raw'.*return type.*unsupported"):

        @tool
        def raw(x: str) -> bytes:
            """Raw bytes.

            Args:
                x: text
            """
            return x.encode()


def test_var_args_are_refused() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'many'.*\*args and \*\*kwargs are not supported; name every parameter"):

        @tool
        def many(*values: int) -> int:
            """Sum.

            Args:
                values: numbers
            """
            return sum(values)


def test_reserved_name_is_refused_with_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'print'.*shadows a Python builtin; choose another name"):

        @tool(name="print")
        def show(x: str) -> str:
            """Show.

            Args:
                x: text
            """
            return x


def test_invalid_identifier_name_is_refused() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'web search'.*Python identifier"):

        @tool(name="web search")
        def web(x: str) -> str:
            """Search.

            Args:
                x: text
            """
            return x


def test_unresolvable_forward_reference_names_tool() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'future'.*type hints cannot be resolved"):

        @tool
        def future(x: NotDefinedAnywhere) -> str:  # type: ignore[name-defined]  # noqa: F821
            """Future.

            Args:
                x: thing
            """
            return ""


def test_non_callable_is_refused() -> None:
    with pytest.raises(ToolDefinitionError, match=r"@tool needs a function, got int"):
        tool(3)  # type: ignore[call-overload]
