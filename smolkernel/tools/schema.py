"""Type hints and JSON-schema types: conversion, docstring parsing and value checks."""

from __future__ import annotations

import numbers
import re
import types
import typing
from typing import Any

__all__ = ["JSON_TYPES", "json_type_of", "python_annotation", "check_value", "parse_docstring"]

JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null", "any"})

_HINT_TO_JSON: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    tuple: "array",
    dict: "object",
    type(None): "null",
    Any: "any",
}

_JSON_TO_PYTHON = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
    "null": "None",
    "any": "Any",
}


def json_type_of(hint: Any) -> tuple[str, bool, dict[str, Any]]:
    """Map a type hint to ``(json_type, nullable, extra_schema)``.

    Raises:
        TypeError: for a hint with no JSON equivalent (the caller names the tool).
    """
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(hint))
        if len(members) == 1:
            json_type, _, extra = json_type_of(members[0])
            return json_type, nullable, extra
        return "any", nullable, {}
    if origin is typing.Literal:
        values = list(typing.get_args(hint))
        nullable = None in values
        values = [v for v in values if v is not None]
        kinds = {json_type_of(type(v))[0] for v in values}
        # Literal[1, "a"] has no single JSON type; the enum still constrains it.
        json_type = kinds.pop() if len(kinds) == 1 else "any"
        return json_type, nullable, {"enum": values}
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        extra = {}
        if len(args) == 1:
            item_type, _, item_extra = json_type_of(args[0])
            extra = {"items": {"type": item_type, **item_extra}} if item_type != "any" else {}
        return "array", False, extra
    if origin is dict:
        return "object", False, {}
    if hint in _HINT_TO_JSON:
        return _HINT_TO_JSON[hint], False, {}
    raise TypeError(f"unsupported type hint {getattr(hint, '__name__', hint)!r}")


def python_annotation(spec: dict[str, Any]) -> str:
    """The Python spelling of a JSON-schema type, for signatures shown to the model."""
    json_type = spec.get("type", "any")
    text = _JSON_TO_PYTHON.get(json_type, "Any")
    items = spec.get("items")
    if json_type == "array" and isinstance(items, dict) and items.get("type"):
        text = f"list[{python_annotation(items)}]"
    if "enum" in spec:
        text = "Literal[" + ", ".join(repr(v) for v in spec["enum"]) + "]"
    if spec.get("nullable"):
        text += " | None"
    return text


_CHECKS: dict[str, Any] = {
    "string": str,
    # numbers.Integral / numbers.Real also accept numpy and pandas scalars (np.int64, np.float32).
    "integer": numbers.Integral,
    "number": numbers.Real,
    "boolean": bool,
    "array": (list, tuple),
    "object": dict,
}


def check_value(value: Any, spec: dict[str, Any]) -> str | None:
    """Return a short problem description if ``value`` does not fit ``spec``, else None."""
    if value is None:
        return None if spec.get("nullable") or spec.get("type") in ("any", "null") else "must not be None"
    json_type = spec.get("type", "any")
    expected = _CHECKS.get(json_type)
    if json_type in ("integer", "number") and isinstance(value, bool):
        return f"must be {json_type}, got bool {value!r}"
    if expected is not None and not isinstance(value, expected):
        return f"must be {json_type}, got {type(value).__name__} {_preview(value)}"
    if "enum" in spec and not _in_enum(value, spec["enum"]):
        return f"must be one of {spec['enum']}, got {_preview(value)}"
    return None


def _in_enum(value: Any, choices: list[Any]) -> bool:
    """``value in choices``, False for values whose ``==`` is not a bool (numpy arrays)."""
    for choice in choices:
        if isinstance(value, bool) != isinstance(choice, bool):
            continue  # True == 1 in Python, but not as a tool argument
        try:
            if bool(value == choice):
                return True
        except (TypeError, ValueError):
            return False
    return False


def _preview(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str], str]:
    """Split a Google-style docstring into ``(description, {arg: text}, returns)``."""
    lines = (doc or "").expandtabs().splitlines()
    description: list[str] = []
    args: dict[str, str] = {}
    returns: list[str] = []
    section = None
    current = None
    arg_indent = None
    for line in lines:
        header = _SECTION.match(line)
        if header:
            section = header.group(1).lower()
            current, arg_indent = None, None
            continue
        if section is None:
            description.append(line)
        elif section in ("args", "arguments", "parameters"):
            indent = len(line) - len(line.lstrip())
            match = _ARG_LINE.match(line)
            if match and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = match.group(1).lstrip("*")
                args[current] = match.group(3).strip()
            elif current and line.strip():
                args[current] = (args[current] + " " + line.strip()).strip()
        elif section in ("returns", "return"):
            returns.append(line.strip())
    return _dedent_join(description), args, " ".join(r for r in returns if r)


def _dedent_join(lines: list[str]) -> str:
    import textwrap

    return textwrap.dedent("\n".join(lines)).strip()
