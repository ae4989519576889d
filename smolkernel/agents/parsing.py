"""Pulling code and tool calls out of model replies, in the styles real models write.

Code (``parse_code``): fenced blocks, ``<code>`` tags, CodeAct's
``<execute>`` / ``<execute_ipython>`` tags, closed or cut at a stop
sequence. Reasoning (``<think>...</think>``) is dropped first, and the reply
is cut where the model invents its own ``Observation:`` after its code.
Among the candidates, tags beat language-tagged fences, which beat bare
fences; a block after a ``Code:`` label beats the others; a block that is
valid Python beats one that is not.

Tool calls (``parse_tool_calls``): every format in ``_tool_call_formats``.
A call whose arguments are missing or unreadable is returned with its
``problem`` set (never with ``{}`` in their place), so the agent can tell
the model exactly what to fix.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from ..exceptions import AgentParsingError
from ..models.base import ToolCall
from ._near_json import Undecodable, decode_value
from ._tool_call_formats import MISSING, read_formats

__all__ = ["parse_code", "parse_tool_calls", "parse_json_tool_calls", "ParsedToolCall", "strip_reasoning", "cut_fake_observation", "ipython_lines", "NO_CODE_HINT"]

NO_CODE_HINT = (
    "Your reply contained no code. Write your next step as one code block:\n"
    "```python\n# your code here\n```\n"
    "and call final_answer(...) in the code when you have the answer."
)
NO_TOOL_CALL_HINT = 'Your reply contained no tool call. Call a tool, for example {"name": "final_answer", "arguments": {"answer": "..."}}.'

PYTHON_TAGS = frozenset({"python", "py", "python3", "ipython", "ipython3", "tool_code", "jupyter"})
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<(code|execute|execute_ipython|execute_python)>(.*?)(?:</\1>|(?=<(?:code|execute|execute_ipython|execute_python)>)|$)", re.DOTALL)
_BASH_TAG = re.compile(r"<execute_bash>(.*?)(?:</execute_bash>|(?=<execute)|$)", re.DOTALL)
_FENCE_LINE = re.compile(r"^[ \t]*(`{3,})[ \t]*([\w+\-.]*)[^\n`]*$")
_OBSERVATION = re.compile(r"^[ \t>#*_]*Observations?[ \t*_]*:", re.MULTILINE | re.IGNORECASE)
_CODE_LABEL = re.compile(r"(?:^|\n)[ \t#*_]*Code[ \t*_]*:[ \t*_]*(?:```[\w]*)?[ \t]*\n?$", re.IGNORECASE)
_END_CODE = re.compile(r"\s*<end_code>\s*$")
_IPYTHON_LINE = re.compile(r"^[ \t]*(?:%%?[A-Za-z]|!\S)")


@dataclass
class _Block:
    """One code candidate: where it starts, its text, its kind and whether it follows a ``Code:`` label."""

    start: int
    code: str
    rank: int  # 0: tag, 1: python-tagged fence, 2: bare fence
    labelled: bool = False

    @property
    def valid(self) -> bool:
        return is_python(self.code)


def strip_reasoning(text: str) -> str:
    """Drop ``<think>...</think>`` (and ``<thinking>``, ``<reasoning>``) blocks; a lone ``</think>`` ends the reasoning."""
    text = _THINK.sub("", text)
    if "</think>" in text:
        text = text.split("</think>", 1)[1]
    return text


def parse_code(text: str) -> str:
    """Return the Python code in a model reply.

    Several blocks of the best kind are joined in order. An unterminated
    final block (a reply cut at a stop sequence) counts. IPython lines
    (``%pip``, ``!ls``) are kept: executors that run IPython run them.

    Raises:
        AgentParsingError: the reply contains no code; the message tells the
            model the expected format.
    """
    text = cut_fake_observation(strip_reasoning(text))
    blocks = _candidates(text)
    if not blocks:
        raise AgentParsingError(NO_CODE_HINT)
    best = min(b.rank for b in blocks)
    chosen = [b for b in blocks if b.rank == best]
    if any(b.labelled for b in chosen):
        chosen = [b for b in chosen if b.labelled]
    valid = [b for b in chosen if b.valid]
    if not valid and best > 0:
        valid = [b for b in blocks if b.valid]  # a valid block of a weaker kind beats an invalid one
    codes = [b.code for b in (valid or chosen)]
    if len(codes) > 1:  # a cell magic must open its cell: joined shell blocks become !lines
        codes = [_shell_lines(c[len("%%bash\n") :]) if c.startswith("%%bash\n") else c for c in codes]
    return "\n\n".join(codes)


def cut_fake_observation(text: str) -> str:
    """Cut the reply at an ``Observation:`` the model wrote itself after its code (unchanged if none)."""
    for match in _OBSERVATION.finditer(text):
        if _candidates(text[: match.start()]):
            return text[: match.start()]
    return text


def _candidates(text: str) -> list[_Block]:
    blocks = [_Block(m.start(), _clean(_unfence_inner(m.group(2))), 0) for m in _TAG.finditer(text) if m.group(2).strip()]
    blocks += [_Block(m.start(), "%%bash\n" + _clean(m.group(1)), 0) for m in _BASH_TAG.finditer(text) if m.group(1).strip()]
    blocks.sort(key=lambda b: b.start)
    blocks += _fenced(text)
    for block in blocks:
        block.labelled = bool(_CODE_LABEL.search(text[: block.start]))
    return [b for b in blocks if b.code.strip()]


def _fenced(text: str) -> list[_Block]:
    """Fenced blocks found line by line; an opener is a fence at the start of a line."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    blocks, i = [], 0
    while i < len(lines):
        opener = _FENCE_LINE.match(lines[i].rstrip("\n"))
        inline = None if opener else re.search(r"```[ \t]*(python|py|python3|ipython)[ \t]*$", lines[i].rstrip("\n"), re.IGNORECASE)
        if not opener and not inline:
            i += 1
            continue
        lang = (opener.group(2) if opener else inline.group(1)).lower()
        end = i + 1
        while end < len(lines) and not lines[end].lstrip().startswith("```"):
            end += 1
        body = "".join(lines[i + 1 : end])
        if lang in PYTHON_TAGS or not lang:
            blocks.append(_Block(offsets[i], _clean(body), 1 if lang else 2))
        closer = _FENCE_LINE.match(lines[end].rstrip("\n")) if end < len(lines) else None
        # a fence with a language opens a block (it cannot close one): look at it again
        i = end if closer and closer.group(2) else end + 1
    return blocks


def _shell_lines(script: str) -> str:
    return "\n".join(f"!{line.strip()}" for line in script.splitlines() if line.strip())


def _unfence_inner(body: str) -> str:
    """A tag's content may itself hold a fenced block; take what is inside it."""
    match = re.search(r"```[ \t]*[\w]*[ \t]*\n(.*?)(?:```|$)", body, re.DOTALL)
    return match.group(1) if match else body


def _clean(code: str) -> str:
    """The block without a trailing ``<end_code>``, dedented (fences inside a list are indented)."""
    return textwrap.dedent(_END_CODE.sub("", code)).strip("\n")


def ipython_lines(code: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of IPython syntax (``%magic``, ``%%cell``, ``!shell``) outside strings."""
    lines = [(n, line) for n, line in enumerate(code.splitlines(), 1) if _IPYTHON_LINE.match(line)]
    if not lines or is_python(code, ipython=False):  # such a line may be inside a string
        return []
    return lines


def is_python(code: str, *, ipython: bool = True) -> bool:
    """Whether ``code`` parses as Python (IPython ``%``/``!`` lines allowed unless ``ipython=False``)."""
    if ipython and ("%" in code or "!" in code):
        code = "\n".join(re.sub(r"^([ \t]*)(?:%%?[A-Za-z]|!\S).*$", r"\1pass", line) for line in code.splitlines())
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


# -- tool calls -----------------------------------------------------------------------


@dataclass
class ParsedToolCall(ToolCall):
    """A tool call read from the text of a reply.

    ``arguments`` holds the decoded dict, or the raw text when it could not be
    read (never ``{}`` in place of missing arguments).
    """

    problem: str | None = None
    """Why the call cannot be run as written, for the model; None when it can."""
    arguments_missing: bool = False
    """True when the call gave no arguments at all (fine only for a tool without inputs)."""


def parse_tool_calls(text: str) -> list[ParsedToolCall]:
    """Read the tool calls a model wrote in the text of its reply.

    Recognises the formats of Qwen/Hermes, Llama 3.x, Mistral, DeepSeek,
    Gemma, Anthropic's text XML, ReAct, and JSON call objects in the shapes
    of OpenAI, Cohere and Gemini (arguments under ``arguments``,
    ``parameters``, ``args``, ``action_input`` or ``input``). Near-JSON is
    repaired when the repair is unambiguous.

    Returns:
        The calls, in order. A call whose arguments are missing or unreadable
        has ``problem`` (or ``arguments_missing``) set.

    Raises:
        AgentParsingError: no tool call could be read.
    """
    found = read_formats(strip_reasoning(text))
    if not found:
        raise AgentParsingError(NO_TOOL_CALL_HINT)
    return [_checked(f.name, f.arguments, f.problem, index) for index, f in enumerate(found)]


parse_json_tool_calls = parse_tool_calls
"""The earlier name of :func:`parse_tool_calls`."""


def _checked(name: str, arguments: Any, problem: str | None, index: int) -> ParsedToolCall:
    call_id = f"text_call_{index}"
    if problem:
        return ParsedToolCall(name=name, arguments=arguments if isinstance(arguments, str) else "", id=call_id, problem=problem)
    if arguments is MISSING:
        return ParsedToolCall(name=name, arguments="", id=call_id, arguments_missing=True)
    raw = arguments
    if isinstance(arguments, str):
        try:
            arguments = decode_value(arguments) if arguments.strip() else MISSING
        except Undecodable as exc:
            return ParsedToolCall(name=name, arguments=raw, id=call_id, problem=f"the arguments are {exc}")
        if arguments is MISSING:
            return ParsedToolCall(name=name, arguments="", id=call_id, arguments_missing=True)
    if not isinstance(arguments, dict):
        kind = type(arguments).__name__
        return ParsedToolCall(name=name, arguments=str(raw), id=call_id, problem=f"the arguments must be a JSON object mapping argument names to values, not a {kind}: {str(raw)[:120]!r}")
    return ParsedToolCall(name=name, arguments=arguments, id=call_id)
