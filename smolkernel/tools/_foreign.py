"""Tools described by someone else: their names and JSON schemas made fit for smolkernel.

An MCP server or a Gradio app names its tools and arguments freely
(``get-sum``, ``file path``, ``class``) and describes arguments with any JSON
Schema (type lists, ``anyOf``, ``$ref``). Generated code calls tools as Python
functions, so names become identifiers (the original is kept for the call) and
each schema becomes one ``inputs`` entry of a type smolkernel checks.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

from .base import RESERVED_NAMES
from .schema import JSON_TYPES

__all__ = ["python_name", "input_spec", "inputs_from_schema"]


def python_name(name: str, taken: set[str] | frozenset[str] = frozenset(), *, tool: bool = False) -> str:
    """An identifier for ``name``: ``get-sum`` -> ``get_sum``, ``class`` -> ``class_``.

    Names in ``taken`` get a ``_2``, ``_3`` ... suffix; a ``tool`` name that
    would shadow a builtin (``print``) gets a trailing underscore.
    """
    text = re.sub(r"\W", "_", name.strip()) or "tool"
    if text[0].isdigit():
        text = f"_{text}"
    if keyword.iskeyword(text) or (tool and text in RESERVED_NAMES):
        text += "_"
    candidate, number = text, 2
    while candidate in taken:
        candidate, number = f"{text}_{number}", number + 1
    return candidate


def _json_type(schema: dict[str, Any]) -> tuple[str, bool]:
    """``(type, nullable)`` of one property's schema; ``any`` when it allows several types."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return (declared if declared in JSON_TYPES else "any"), declared == "null"
    if isinstance(declared, list):
        members = [t for t in declared if t != "null"]
        nullable = len(members) < len(declared)
        return (members[0] if len(members) == 1 and members[0] in JSON_TYPES else "any"), nullable
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            kinds = [_json_type(o)[0] if isinstance(o, dict) else "any" for o in options]
            nullable = any(isinstance(o, dict) and o.get("type") == "null" for o in options)
            members = {k for k, o in zip(kinds, options) if not (isinstance(o, dict) and o.get("type") == "null")}
            return (members.pop() if len(members) == 1 else "any"), nullable
    if "enum" in schema and schema["enum"]:
        kinds = {type(v) for v in schema["enum"] if v is not None}
        if kinds == {str}:
            return "string", None in schema["enum"]
    if "properties" in schema:
        return "object", False
    return "any", False


def input_spec(schema: Any, *, required: bool, fallback_description: str = "") -> dict[str, Any]:
    """One smolkernel ``inputs`` entry from a JSON-schema property."""
    schema = schema if isinstance(schema, dict) else {}
    json_type, nullable = _json_type(schema)
    description = schema.get("description") or schema.get("title") or fallback_description or "(no description)"
    spec: dict[str, Any] = {"type": json_type, "description": str(description)}
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        spec["enum"] = list(schema["enum"])
    if json_type == "array" and isinstance(schema.get("items"), dict):
        item_type, _ = _json_type(schema["items"])
        if item_type != "any":
            spec["items"] = {"type": item_type}
    if "default" in schema:
        spec["default"] = schema["default"]
        if schema["default"] is None:
            spec["nullable"] = True
    elif nullable or not required:
        spec["nullable"] = True
    return spec


def inputs_from_schema(schema: Any) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """``(inputs, python name -> original name)`` from an object schema (``properties``, ``required``).

    Required arguments come first, so that the signature shown to the model is
    valid Python (no required parameter after an optional one).
    """
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or [])
    inputs: dict[str, dict[str, Any]] = {}
    originals: dict[str, str] = {}
    ordered = sorted(properties.items(), key=lambda item: item[0] not in required or "default" in (item[1] or {}))
    for original, prop in ordered:
        name = python_name(str(original), set(inputs) | {"self"})
        originals[name] = str(original)
        inputs[name] = input_spec(prop, required=original in required)
    return inputs, originals
