"""How the model sees a tool: JSON schema, code prompt, usage line."""

from __future__ import annotations

from typing import Literal

from smolkernel.tools import FinalAnswerTool, tool


@tool
def search(query: str, limit: int = 5, site: str | None = None, mode: Literal["web", "news"] = "web") -> list[str]:
    """Search the web.

    Args:
        query: what to look for
        limit: at most this many results
        site: restrict to one site
        mode: where to search
    """
    return []


def test_json_schema_is_an_openai_function_definition() -> None:
    assert search.to_json_schema() == {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what to look for"},
                    "limit": {"type": "integer", "description": "at most this many results"},
                    "site": {"type": "string", "description": "restrict to one site"},
                    "mode": {"type": "string", "description": "where to search", "enum": ["web", "news"]},
                },
                "required": ["query"],
            },
        },
    }


def test_json_schema_leaves_out_the_type_of_any_inputs() -> None:
    schema = FinalAnswerTool().to_json_schema()["function"]["parameters"]
    assert schema["properties"] == {"answer": {"description": "the final answer"}}
    assert schema["required"] == ["answer"]


def test_usage_shows_types_and_defaults() -> None:
    assert search.usage() == (
        "search(query: str, limit: int = 5, site: str | None = None, "
        "mode: Literal['web', 'news'] = 'web') -> list"
    )


def test_code_prompt_is_a_python_stub_with_docstring() -> None:
    assert search.to_code_prompt() == "\n".join(
        [
            "def search(query: str, limit: int = 5, site: str | None = None, mode: Literal['web', 'news'] = 'web') -> list:",
            '    """Search the web.',
            "",
            "    Args:",
            "        query: what to look for",
            "        limit: at most this many results",
            "        site: restrict to one site",
            "        mode: where to search",
            '    """',
        ]
    )


def test_code_prompt_of_a_tool_without_inputs_has_no_args_section() -> None:
    @tool
    def now() -> str:
        """The current time."""
        return ""

    assert now.to_code_prompt() == 'def now() -> str:\n    """The current time.\n    """'


def test_repr_shows_the_usage() -> None:
    assert repr(search).startswith("<Tool search(query: str")
