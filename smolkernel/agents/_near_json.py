"""Reading JSON that models write: balanced spans in prose, and near-JSON repaired where unambiguous.

Models put a JSON object in the middle of prose, write two objects in one
reply, forget to escape a quote inside a string, leave a trailing comma or
write a Python dict (single quotes, ``True``/``None``). Everything here is
strict about one thing: a repair is kept only when the repaired text parses,
and a value that cannot be read comes back with a precise description of
what is wrong and where, never as an empty dict.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["balanced_spans", "decode_value", "Undecodable"]

_PAIRS = {"{": "}", "[": "]"}
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_LITERAL_AFTER_COMMA = re.compile(r'\s*(?:["{\[\-0-9]|true\b|false\b|null\b)')


class Undecodable(ValueError):
    """A value that is not JSON (nor repairable near-JSON); the message says what and where."""


def balanced_spans(text: str, openers: str = "{[") -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` of every top-level bracket-balanced span, in order.

    Strings (double or single quoted, with backslash escapes) are skipped
    while counting brackets; when that finds no close, brackets are counted
    without regard to strings. A span that never closes is not yielded, but
    scanning resumes after its opening bracket, so a stray ``{`` in prose
    does not hide a later object.
    """
    pos = 0
    while True:
        starts = [i for i in (text.find(o, pos) for o in openers) if i != -1]
        if not starts:
            return
        start = min(starts)
        end = _match_close(text, start, "\"'") or _match_close(text, start, "")
        if end is None:
            pos = start + 1
            continue
        yield start, end
        pos = end


def _match_close(text: str, start: int, quotes: str) -> int | None:
    """Index just past the bracket closing the one at ``start``, or None.

    ``quotes`` are the characters that open strings; with none, brackets are
    counted naively (the fallback when a broken quote derails the count).
    """
    stack = [_PAIRS[text[start]]]
    quote: str | None = None
    i = start + 1
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
            elif char == "\n" and quote == "'":
                quote = None  # an apostrophe in prose, not a string
        elif char in quotes:
            quote = char
        elif char in _PAIRS:
            stack.append(_PAIRS[char])
        elif char in "}]":
            if char != stack[-1]:
                return None
            stack.pop()
            if not stack:
                return i + 1
        i += 1
    return None


def decode_value(raw: str) -> Any:
    """Decode JSON, or near-JSON where the repair is unambiguous.

    Tried in order: strict JSON; JSON with unescaped quotes inside strings
    escaped; JSON without trailing commas; a Python literal (single quotes,
    ``True``/``None``). The first that parses wins.

    Raises:
        Undecodable: none of them parses; the message gives the JSON error's
            line, column and the text around it.
    """
    try:
        return json.loads(raw)
    except ValueError as exc:
        error = exc
    for repaired in (escape_inner_quotes(raw), _TRAILING_COMMA.sub(r"\1", raw)):
        if repaired != raw:
            try:
                return json.loads(repaired)
            except ValueError:
                pass
    try:
        return ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    raise Undecodable(describe_json_error(raw, error)) from None


def describe_json_error(raw: str, error: ValueError) -> str:
    """'invalid JSON at line L column C: MESSAGE (near ...)' for the model to act on."""
    if isinstance(error, json.JSONDecodeError):
        near = raw[max(0, error.pos - 20) : error.pos + 20]
        return f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg} (near {near!r})"
    return f"invalid JSON: {error}"


def escape_inner_quotes(raw: str) -> str:
    """Escape double quotes that cannot end the string they are in.

    A quote inside a string ends it only when what follows (after spaces)
    is ``:``, ``}``, ``]``, the end, or a comma followed by something that
    can start the next element. Any other quote is taken as part of the text
    and escaped. The caller keeps the result only if it then parses.
    """
    out = []
    in_string = False
    i = 0
    while i < len(raw):
        char = raw[i]
        if in_string and char == "\\":
            out.append(raw[i : i + 2])
            i += 2
            continue
        if char == '"':
            if not in_string:
                in_string = True
            elif _closes_string(raw, i + 1):
                in_string = False
            else:
                char = '\\"'
        elif in_string and char == "\n":
            char = "\\n"
        out.append(char)
        i += 1
    return "".join(out)


def _closes_string(raw: str, after: int) -> bool:
    rest = raw[after:].lstrip(" \t\r\n")
    if not rest or rest[0] in ":}]":
        return True
    if rest[0] == ",":
        return bool(_LITERAL_AFTER_COMMA.match(rest[1:])) or rest[1:].lstrip().startswith(("}", "]"))
    return False
