"""The ``@tool`` decorator: a typed, documented function becomes a Tool."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, overload

from ..exceptions import ToolDefinitionError
from .base import FunctionTool, Tool
from .schema import json_type_of, parse_docstring

__all__ = ["tool"]


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...
@overload
def tool(*, name: str | None = None) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(function: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Turn a function into a Tool.

    The function needs a docstring (its first part is the description), an
    ``Args:`` entry for every parameter, and JSON-compatible type hints
    (``str``, ``int``, ``float``, ``bool``, ``list[...]``, ``dict``,
    ``Literal[...]``, ``X | None``, ``Any``). Parameters with defaults are optional.

    Returns:
        A ``Tool`` that can still be called like the function.

    Raises:
        ToolDefinitionError: naming the tool, what is wrong and how to fix it.
    """
    if function is None:
        return lambda fn: _make_tool(fn, name)
    return _make_tool(function, name)


def _make_tool(function: Callable[..., Any], name: str | None) -> Tool:
    tool_name = name or getattr(function, "__name__", "")
    if not callable(function):
        raise ToolDefinitionError(f"@tool needs a function, got {type(function).__name__}")
    doc = inspect.getdoc(function)
    if not doc:
        raise ToolDefinitionError(f"tool {tool_name!r}: the function has no docstring; add one that says what it does, with an Args: section")
    description, arg_docs, returns = parse_docstring(doc)
    if not description:
        raise ToolDefinitionError(f"tool {tool_name!r}: the docstring has no description before its sections; start it with what the tool does")
    if returns:
        description = f"{description}\nReturns: {returns}"
    try:
        hints = typing.get_type_hints(function)
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: its type hints cannot be resolved ({exc})") from None
    inputs: dict[str, dict[str, Any]] = {}
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {tool_name!r}: *args and **kwargs are not supported; name every parameter")
        if param.name not in hints:
            raise ToolDefinitionError(f"tool {tool_name!r}: parameter {param.name!r} has no type hint; annotate it, e.g. `{param.name}: str`")
        if param.name not in arg_docs or not arg_docs[param.name]:
            raise ToolDefinitionError(f"tool {tool_name!r}: parameter {param.name!r} is not described; add `{param.name}: <what it is>` under `Args:` in the docstring")
        try:
            json_type, nullable, extra = json_type_of(hints[param.name])
        except TypeError as exc:
            raise ToolDefinitionError(f"tool {tool_name!r}: parameter {param.name!r}: {exc}; use str, int, float, bool, list, dict, Literal or Any") from None
        spec: dict[str, Any] = {"type": json_type, "description": arg_docs[param.name], **extra}
        if nullable:
            spec["nullable"] = True
        if param.default is not param.empty:
            spec["default"] = param.default
        inputs[param.name] = spec
    output_type = "any"
    if "return" in hints:
        try:
            output_type = json_type_of(hints["return"])[0]
        except TypeError as exc:
            raise ToolDefinitionError(f"tool {tool_name!r}: return type: {exc}") from None
    return FunctionTool(function, tool_name, description, inputs, output_type)
