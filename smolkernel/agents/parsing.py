"""Pulling code and tool calls out of model replies."""

from __future__ import annotations

import json
import re
from typing import Any

from ..exceptions import AgentParsingError
from ..models.base import ToolCall

__all__ = ["parse_code", "parse_json_tool_calls"]

_FENCED = re.compile(r"```[ \t]*(?:python|py|python3|ipython)?[ \t]*\n(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)
_CODE_TAG = re.compile(r"<code>\s*(.*?)\s*(?:</code>|$)", re.DOTALL)
_OTHER_FENCE = re.compile(r"```[ \t]*[A-Za-z]+[ \t]*\n")

NO_CODE_HINT = (
    "Your reply contained no code. Write your next step as one code block:\n"
    "```python\n# your code here\n```\n"
    "and call final_answer(...) in the code when you have the answer."
)


def parse_code(text: str) -> str:
    """Return the Python code in a model reply.

    Accepts fenced blocks (```python, ```py or bare ```), several of which are
    joined in order, and ``<code>...</code>`` tags. An unterminated final
    fence (a reply cut at a stop sequence) counts.

    Raises:
        AgentParsingError: the reply contains no code; the message tells the
            model the expected format.
    """
    blocks = [b.strip("\n") for b in _CODE_TAG.findall(text) if b.strip()]
    if not blocks:
        blocks = [b.strip("\n") for b in _FENCED.findall(_strip_other_fences(text)) if b.strip()]
    if not blocks:
        raise AgentParsingError(NO_CODE_HINT)
    return "\n\n".join(blocks)


def _strip_other_fences(text: str) -> str:
    """Drop blocks fenced with another language (```json, ```text...) so they are not run."""
    out = []
    pos = 0
    for match in _OTHER_FENCE.finditer(text):
        lang = match.group(0).strip("`\n \t").lower()
        if lang in ("python", "py", "python3", "ipython"):
            continue
        end = text.find("```", match.end())
        out.append(text[pos : match.start()])
        pos = len(text) if end == -1 else end + 3
    out.append(text[pos:])
    return "".join(out)


def parse_json_tool_calls(text: str) -> list[ToolCall]:
    """Read tool calls written as JSON in plain content (fallback for models without native tool calls).

    Accepts ``{"name": ..., "arguments": {...}}`` (also ``"tool"``/``"action"``
    and ``"parameters"``/``"action_input"``), a list of those, optionally
    inside a fenced block.

    Raises:
        AgentParsingError: no JSON tool call could be read.
    """
    for candidate in _json_candidates(text):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        items = data if isinstance(data, list) else [data]
        calls = [c for c in (_as_call(item, i) for i, item in enumerate(items)) if c is not None]
        if calls:
            return calls
    raise AgentParsingError(
        'Your reply contained no tool call. Call a tool, for example '
        '{"name": "final_answer", "arguments": {"answer": "..."}}.'
    )


def _json_candidates(text: str) -> list[str]:
    fenced = re.findall(r"```(?:json)?\s*\n(.*?)```", text, re.DOTALL)
    candidates = [f.strip() for f in fenced]
    start = min((i for i in (text.find("{"), text.find("[")) if i != -1), default=-1)
    if start != -1:
        end = max(text.rfind("}"), text.rfind("]"))
        if end > start:
            candidates.append(text[start : end + 1])
    return candidates


def _as_call(item: Any, index: int) -> ToolCall | None:
    if not isinstance(item, dict):
        return None
    name = item.get("name") or item.get("tool") or item.get("action")
    if not isinstance(name, str):
        return None
    arguments = item.get("arguments", item.get("parameters", item.get("action_input", {})))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    return ToolCall(name=name, arguments=arguments if arguments is not None else {}, id=f"json_call_{index}")
