"""The tool-call formats models write in plain text, each read into ``Found`` calls.

Every reader takes the reply (reasoning already removed) and returns the
calls it recognises, or an empty list when its format is absent. Formats,
as their vendors document them:

* Qwen / Hermes: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
  Qwen3-Coder puts ``<function=NAME><parameter=KEY>VALUE</parameter></function>``
  inside the tags.
* Llama 3.x custom tools: ``<function=NAME>{...}</function>`` (also the
  malformed ``<function=NAME {...}</function>``); Llama 3.2/4 pythonic
  ``[name(key=value), ...]``, optionally after ``<|python_tag|>``.
* Mistral: ``[TOOL_CALLS][{...}, ...]`` and ``[TOOL_CALLS]NAME[ARGS]{...}``.
* DeepSeek V3/R1: ``<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME`` and a
  fenced JSON block; V3.1 ``...begin｜>NAME<｜tool▁sep｜>{...}``; Kimi's
  ``functions.NAME:0<|tool_call_argument_begin|>{...}``.
* Gemma: ``<|tool_call>call:NAME{key:"value"}<tool_call|>`` (keys unquoted,
  ``<escape>`` strings in FunctionGemma) and ``tool_code`` fenced calls.
* Anthropic text XML: ``<invoke name="NAME"><parameter name="K">V</parameter></invoke>``.
* ReAct: ``Action: NAME`` / ``Action Input: {...}``.
* JSON anywhere (OpenAI, Cohere, Gemini shapes): ``name``/``tool``/
  ``tool_name``/``action``/``recipient_name`` with ``arguments``/
  ``parameters``/``args``/``action_input``/``input``, wrappers
  ``tool_calls``/``tool_uses``/``function``/``functionCall``.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from ._near_json import Undecodable, balanced_spans, decode_value

__all__ = ["Found", "MISSING", "read_formats"]

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""The call gave no arguments at all (not the same as ``{}``)."""

NAME_KEYS = ("name", "tool_name", "tool", "function_name", "recipient_name", "action", "function")
ARG_KEYS = ("arguments", "parameters", "args", "action_input", "input", "params", "tool_input", "kwargs")
META_KEYS = {"type", "id", "index", "call_id", "tool_call_id", "thought", "reasoning", "explanation", "description"}
WRAPPERS = ("tool_calls", "tool_uses", "function_calls", "functionCalls", "calls")
NESTED = ("function_call", "functionCall", "function", "tool_call", "call")


@dataclass
class Found:
    """A call as read from text, before its arguments are checked."""

    name: str
    arguments: Any = MISSING
    """A decoded value, a raw string still to decode, or MISSING."""
    problem: str | None = None
    """Why the call cannot be run as written (for the model), if it cannot."""


def read_formats(text: str) -> list[Found]:
    """The calls in ``text``, by the first format that finds any (see the module docstring)."""
    for reader in (_hermes, _llama_tags, _mistral, _deepseek, _gemma, _anthropic_xml, _react, _json_anywhere, _pythonic):
        found = reader(text)
        if found:
            return found
    return []


# -- JSON objects ------------------------------------------------------------


def interpret(obj: Any) -> list[Found]:
    """Calls described by a decoded JSON value (an object, a list, or a wrapper of them)."""
    if isinstance(obj, list):
        return [found for item in obj for found in interpret(item)]
    if not isinstance(obj, dict):
        return []
    for key in WRAPPERS:
        if isinstance(obj.get(key), list):
            return interpret(obj[key])
    for key in NESTED:
        inner = obj.get(key)
        if isinstance(inner, dict) and any(isinstance(inner.get(k), str) for k in NAME_KEYS):
            return interpret(inner)
    name = next((obj[k] for k in NAME_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
    if name is None:
        return []
    name = _clean_name(name)
    for key in ARG_KEYS:
        if key in obj:
            inner = obj[key]
            if isinstance(inner, dict) and any(isinstance(inner.get(k), list) for k in WRAPPERS):
                return interpret(inner)  # GPT-4's multi_tool_use.parallel: the real calls are inside
            return [Found(name, inner)]
    extra = sorted(k for k in obj if k not in META_KEYS and k not in NAME_KEYS)
    if extra:
        shown = ", ".join(repr(k) for k in extra)
        return [Found(name, problem=f'the call has no "arguments" object (it has the keys {shown} beside the name); '
                                     f'write {{"name": "{name}", "arguments": {{...}}}}')]
    return [Found(name)]


def _json_anywhere(text: str) -> list[Found]:
    found: list[Found] = []
    for start, end in balanced_spans(text):
        calls = _from_json_text(text[start:end])
        if all(c.problem for c in calls) and end - start > 2:  # prose in brackets may hold the call: look inside
            inner = _json_anywhere(text[start + 1 : end - 1])
            if inner and (not calls or any(c.problem is None for c in inner)):
                calls = inner
        found.extend(calls)
    return found


def _from_json_text(raw: str) -> list[Found]:
    """Calls in one JSON span; a span that names a tool but does not parse yields a problem."""
    try:
        value = decode_value(raw)
    except Undecodable as exc:
        named = re.search(r'"(?:name|tool_name|tool|action|function)"\s*:\s*"([^"]+)"', raw)
        return [Found(_clean_name(named.group(1)), problem=f"the tool call is {exc}")] if named else []
    return interpret(value)


def _clean_name(name: str) -> str:
    """``functions.get_weather:0`` -> ``get_weather`` (prefixes and suffixes some models add)."""
    name = name.strip().strip("`'\"")
    name = re.sub(r"^(?:functions|function|tools)\.", "", name)
    return re.sub(r":\d+$", "", name)


# -- tagged formats ------------------------------------------------------------


def _hermes(text: str) -> list[Found]:
    found: list[Found] = []
    for body in re.findall(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|(?=<tool_call>)|$)", text, re.DOTALL):
        if "<function=" in body:
            found.extend(_llama_tags(body))
        elif body.strip():
            body = _unfence(body)
            calls = _from_json_text(body)
            found.extend(calls or [Found("", problem=f"the <tool_call> block is not a tool call: {body[:120]!r}")])
    return found


_FUNCTION_TAG = re.compile(r"<function=([^\s>{]+)\s*>?(.*?)(?:</function>|(?=<function=)|$)", re.DOTALL)
_PARAMETER_TAG = re.compile(r"<parameter=([^\s>]+)>\s*(.*?)\s*(?:</parameter>|(?=<parameter=)|(?=</function>)|$)", re.DOTALL)


def _llama_tags(text: str) -> list[Found]:
    found = []
    for name, body in _FUNCTION_TAG.findall(text):
        if "<parameter=" in body:
            found.append(Found(_clean_name(name), {key: _scalar(value) for key, value in _PARAMETER_TAG.findall(body)}))
        elif body.strip():
            found.append(Found(_clean_name(name), _unfence(body.strip())))
        else:
            found.append(Found(_clean_name(name)))
    return found


def _mistral(text: str) -> list[Found]:
    if "[TOOL_CALLS]" not in text:
        return []
    found: list[Found] = []
    for chunk in text.split("[TOOL_CALLS]")[1:]:
        chunk = chunk.strip()
        named = re.match(r"([\w.\-]+)\s*(?:\[CALL_ID\]\s*[\w\-]+\s*)?\[ARGS\]\s*", chunk)
        if named:
            found.append(Found(_clean_name(named.group(1)), _first_span(chunk[named.end() :]) or MISSING))
        else:
            found.extend(_json_anywhere(chunk))
    return found


def _deepseek(text: str) -> list[Found]:
    plain = text.replace("｜", "|").replace("▁", "_")
    if "<|tool_call_begin|>" not in plain:
        return []
    found = []
    for body in re.findall(r"<\|tool_call_begin\|>(.*?)(?:<\|tool_call_end\|>|(?=<\|tool_call_begin\|>)|$)", plain, re.DOTALL):
        parts = re.split(r"<\|tool_sep\|>|<\|tool_call_argument_begin\|>", body, maxsplit=1)
        head, rest = (parts + [""])[:2]
        if head.strip() == "function":  # V3/R1: type, separator, name on its own line, fenced JSON
            name, _, rest = rest.strip().partition("\n")
        else:
            name = head
        arguments = _unfence(rest.strip())
        found.append(Found(_clean_name(name), arguments if arguments else MISSING))
    return found


_GEMMA = re.compile(r"(?:<\|tool_call>|<start_function_call>)\s*call:([\w.\-]+)\s*")


def _gemma(text: str) -> list[Found]:
    found = []
    for match in _GEMMA.finditer(text):
        rest = text[match.end() :]
        span = next(balanced_spans(rest, "{"), None) if rest.startswith("{") else None
        if span is None:
            found.append(Found(_clean_name(match.group(1)), problem="the call's {...} arguments are missing or not closed"))
            continue
        found.append(Found(_clean_name(match.group(1)), _gemma_object(rest[span[0] : span[1]])))
    return found


def _gemma_object(raw: str) -> str:
    """Gemma's ``{key:"v",n:1}`` / ``{key:<escape>v<escape>}`` as JSON text (keys quoted)."""
    raw = re.sub(r"<escape>(.*?)<escape>", lambda m: json.dumps(m.group(1)), raw, flags=re.DOTALL)
    out, i = [], 0
    while i < len(raw):
        if raw[i] == '"':
            end = i + 1
            while end < len(raw) and raw[end] != '"':
                end += 2 if raw[end] == "\\" else 1
            out.append(raw[i : end + 1])
            i = end + 1
            continue
        key = re.match(r"([A-Za-z_][\w\-]*)(\s*:)", raw[i:])
        if key and (not out or out[-1].rstrip()[-1:] in "{,"):
            out.append(f'"{key.group(1)}"{key.group(2)}')
            i += key.end()
            continue
        out.append(raw[i])
        i += 1
    return "".join(out)


def _anthropic_xml(text: str) -> list[Found]:
    found = []
    for name, body in re.findall(r'<invoke name="([^"]+)">(.*?)(?:</invoke>|$)', text, re.DOTALL):
        params = re.findall(r'<parameter name="([^"]+)">(.*?)</parameter>', body, re.DOTALL)
        found.append(Found(_clean_name(name), {key: _scalar(value) for key, value in params}))
    return found


def _react(text: str) -> list[Found]:
    match = re.search(r"^\s*\**Action\**:\s*`?([\w.\-]+)`?\s*\n\s*\**Action Input\**:\s*(.*)", text, re.MULTILINE | re.DOTALL)
    if not match:
        return []
    rest = _unfence(match.group(2).strip())
    rest = re.split(r"\n\s*Observation:", rest)[0].strip()
    return [Found(_clean_name(match.group(1)), _first_span(rest) or rest or MISSING)]


# -- pythonic calls --------------------------------------------------------------


def _pythonic(text: str) -> list[Found]:
    candidates = re.findall(r"```[ \t]*(?:tool_code|python|py)[ \t]*\n(.*?)(?:```|$)", text, re.DOTALL)
    if "<|python_tag|>" in text:
        candidates.append(text.split("<|python_tag|>", 1)[1].split("<|eom_id|>")[0].split("<|eot_id|>")[0])
    stripped = text.strip()
    if re.fullmatch(r"\[?\s*[A-Za-z_][\w.]*\(.*\)\s*\]?", stripped, re.DOTALL):
        candidates.append(stripped)
    for candidate in candidates:
        found = _python_calls(candidate.strip())
        if found:
            return found
    return []


def _python_calls(source: str) -> list[Found]:
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        return []
    calls = tree.elts if isinstance(tree, (ast.List, ast.Tuple)) else [tree]
    if not calls or not all(isinstance(c, ast.Call) for c in calls):
        return []
    found = []
    for call in calls:
        if isinstance(call.func, ast.Name) and call.func.id == "print" and len(call.args) == 1 and isinstance(call.args[0], ast.Call):
            call = call.args[0]  # Gemma's tool_code sometimes wraps the call in print()
        name = ast.unparse(call.func)
        if name.endswith(".call"):
            name = name[: -len(".call")]  # Llama's built-in tools: brave_search.call(query=...)
        found.append(_python_arguments(_clean_name(name), call))
    return found


def _python_arguments(name: str, call: ast.Call) -> Found:
    if call.args:
        return Found(name, problem="the call passes positional arguments; name every argument (key=value)")
    arguments = {}
    for keyword in call.keywords:
        try:
            arguments[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, SyntaxError, TypeError):
            return Found(name, problem=f"the value of {keyword.arg!r} is not a literal: {ast.unparse(keyword.value)}")
    return Found(name, arguments)


# -- helpers -------------------------------------------------------------------------


def _unfence(text: str) -> str:
    """The inside of a ```json fence, or the text unchanged."""
    match = re.fullmatch(r"\s*```[\w]*\s*\n?(.*?)\n?\s*(?:```)?\s*", text, re.DOTALL)
    return match.group(1) if match else text


def _first_span(text: str) -> str | None:
    span = next(balanced_spans(text), None)
    return text[span[0] : span[1]] if span else None


def _scalar(value: str) -> Any:
    """A parameter value from XML-like tags: JSON when it reads as JSON, else the text itself."""
    value = value.strip()
    try:
        return json.loads(value)
    except ValueError:
        return value
