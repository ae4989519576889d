"""Turning a kernel's IOPub messages into a ``CodeOutput``.

Output is bounded while it is collected, not only when it is returned: a
snippet that prints a gigabyte must not make the host hold a gigabyte.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from ._bounds import MAX_BUNDLE_CHARS, MAX_DISPLAYS_CHARS, bundle_size, cap_bundle, cap_text
from .base import CodeOutput

__all__ = ["OutputCollector", "strip_ansi"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
MAX_DISPLAYS = 50
"""Displays kept per execution; later ones are counted, not kept."""
MAX_DISPLAY_CHARS = MAX_BUNDLE_CHARS
"""A display bundle larger than this (e.g. a giant image) is replaced by a note."""
MAX_METADATA_CHARS = 10_000
"""Display metadata larger than this is dropped."""
ANSWER_METADATA_KEY = "smolkernel/final_answer"
"""Marks the sibling's display of a non-JSON final answer (same key in ``_sibling.py``)."""


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor codes."""
    return _ANSI.sub("", text)


class _BoundedText:
    """Keeps the head and tail of a growing text and counts what was dropped in between."""

    def __init__(self, limit: int) -> None:
        self.limit = limit if limit > 0 else sys.maxsize  # <= 0 means no limit, as in truncate()
        self.head: list[str] = []
        self.head_len = 0
        self.tail = ""
        self.total = 0

    def add(self, text: str) -> None:
        self.total += len(text)
        room = self.limit - self.head_len
        if room > 0:
            self.head.append(text[:room])
            self.head_len += min(room, len(text))
            text = text[room:]
        if text and self.limit:
            self.tail = (self.tail + text)[-self.limit:]

    def render(self) -> str:
        """The text, or its head and tail around a marker saying how much was dropped."""
        if self.total <= self.limit:
            return "".join(self.head)
        return _render_cut("".join(self.head), self.tail, self.total, self.limit)


def _render_cut(head: str, tail: str, total: int, limit: int) -> str:
    """Same shape as ``truncate``: two thirds head, one third tail, a marker with the count."""
    keep_head = limit * 2 // 3
    keep_tail = limit - keep_head
    dropped = total - keep_head - keep_tail
    return f"{head[:keep_head]}\n[... output truncated: {dropped} characters omitted ...]\n{tail[-keep_tail:] if keep_tail else ''}"


class OutputCollector:
    """Accumulates the IOPub messages of one execution."""

    def __init__(self, max_output_chars: int) -> None:
        self.logs = _BoundedText(max_output_chars)
        self.displays: list[dict[str, Any]] = []
        self.dropped_displays = 0
        self.display_chars = 0
        self.answer_bundle: dict[str, Any] | None = None
        self.result: Any = None
        self.error: str | None = None
        self.error_name: str | None = None

    def feed(self, msg_type: str, content: dict[str, Any]) -> None:
        """Take one IOPub message of the execution."""
        if msg_type == "stream":
            text = content.get("text", "")
            self.logs.add(text if isinstance(text, str) else "")
        elif msg_type == "display_data" and content.get("metadata", {}).get(ANSWER_METADATA_KEY):
            self._keep_answer(content)
        elif msg_type in ("display_data", "update_display_data"):
            self._add_display(content)
        elif msg_type == "execute_result":
            data = content.get("data", {})
            self.result = cap_text(data.get("text/plain"))
            if set(data) - {"text/plain"}:
                self._add_display(content)
        elif msg_type == "error":
            self.error_name = cap_text(content.get("ename"), 200)
            self.error = cap_text(_format_error(content))
        elif msg_type == "clear_output":
            self.displays.clear()

    def _add_display(self, content: dict[str, Any]) -> None:
        if len(self.displays) >= MAX_DISPLAYS or self.display_chars >= MAX_DISPLAYS_CHARS:
            self.dropped_displays += 1
            return
        data = cap_bundle(content.get("data", {}), min(MAX_DISPLAY_CHARS, MAX_DISPLAYS_CHARS - self.display_chars))
        self.display_chars += bundle_size(data)
        self.displays.append({"data": data, "metadata": _small_metadata(content.get("metadata", {}))})

    def _keep_answer(self, content: dict[str, Any]) -> None:
        """The final answer's display, without its marker (too large: dropped, the repr text remains)."""
        data = content.get("data", {})
        if isinstance(data, dict) and bundle_size(data) <= MAX_DISPLAY_CHARS:
            metadata = {k: v for k, v in _small_metadata(content.get("metadata", {})).items() if k != ANSWER_METADATA_KEY}
            self.answer_bundle = {"data": data, "metadata": metadata}

    def to_output(self, duration: float) -> CodeOutput:
        """The ``CodeOutput`` so far (logs bounded, with the truncation marker when cut)."""
        logs = self.logs.render()
        if self.dropped_displays:
            logs += f"\n[{self.dropped_displays} more displays omitted]"
        return CodeOutput(
            output=self.result,
            logs=logs,
            displays=list(self.displays),
            error=self.error,
            duration=duration,
            answer_bundle=self.answer_bundle,
        )


def _small_metadata(metadata: Any) -> dict[str, Any]:
    """Display metadata as sent, or empty when it is not a dict or too large to keep."""
    if not isinstance(metadata, dict) or bundle_size(metadata) > MAX_METADATA_CHARS:
        return {}
    return metadata


def _format_error(content: dict[str, Any]) -> str:
    """A readable error: the (concise, ANSI-free) traceback, or ``Name: value``."""
    lines = content.get("traceback") or []
    text = strip_ansi("\n".join(lines)).strip()
    headline = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}".rstrip(": ")
    if not text:
        return headline
    if headline not in text:
        text += "\n" + headline
    return text
