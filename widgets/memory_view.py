"""MemoryView: the rolling window of past interactions and the cumulative figures.

Usage (what ``%memory`` shows)::

    from smolkernel.widgets import MemoryView

    MemoryView(agent.memory)              # a static view of the memory now
    view = MemoryView(agent, live=True)   # follows the agent: redraws at each run end
    display(view)
    await agent.arun(task, on_event=view.handle_event)

The window is drawn as ``memory_size`` slots, oldest first, each with its task
→ answer, steps and tokens; the slot the next run pushes out is marked. Below
it: runs, steps, tokens in and out, cost, run time and session time, which
count every run, including those that rolled off.

By default the view is a snapshot (its output is static HTML and text, which
reports keep). With ``live=True`` the output also holds the widget, which
``refresh()`` (or ``handle_event`` at a run's end) redraws.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

from smolkernel._text import counted
from smolkernel.agents import events as ev
from smolkernel.memory import ActionStep, AgentMemory, Interaction, repr_answer

from ._render import BOX, GREEN, GREY, RED, format_seconds, format_tokens
from ._snapshot import SnapshotView

__all__ = ["MemoryView"]


class MemoryView(SnapshotView):
    """A view of an ``AgentMemory`` (or of an agent's ``memory``).

    Args:
        memory: an ``AgentMemory``, or an agent (its ``memory`` is read at each refresh).
        live: keep the live widget in the output and follow runs via ``handle_event``.
    """

    def __init__(self, memory: AgentMemory | Any, *, live: bool = False) -> None:
        super().__init__(keep_widget=live)
        self.source = memory
        self.final = not live
        self.html = w.HTML()
        self.widget = w.VBox([self.html])
        self.widget.add_class("smolkernel-memory-view")
        self._lock = threading.Lock()
        self.refresh()

    @property
    def memory(self) -> AgentMemory:
        """The memory shown."""
        return self.source if isinstance(self.source, AgentMemory) else self.source.memory

    def refresh(self) -> None:
        """Re-read the memory; redraw the widget and rewrite the displayed snapshot."""
        with self._lock:
            self.html.value = self.to_html()
        self.refresh_snapshot()

    def handle_event(self, event: ev.AgentEvent) -> None:
        """Refresh when a top-level run ends (an ``on_event`` callback; thread-safe)."""
        if isinstance(event, ev.RunFinished) and event.depth == 0:
            self.refresh()

    def slots(self) -> list[Interaction | None]:
        """The window as ``memory_size`` slots, oldest first; None for an empty slot."""
        memory = self.memory
        items: list[Interaction | None] = list(memory.interactions)
        return items + [None] * (memory.memory_size - len(items))

    def to_html(self) -> str:
        """The window and the figures as static HTML."""
        memory = self.memory
        dropping = memory.next_to_drop
        rows = []
        for index, item in enumerate(self.slots(), 1):
            if item is None:
                rows.append(f"<tr class='sk-slot sk-slot-empty'><td>{index}</td><td colspan='4' style='color:{GREY}'>empty</td></tr>")
                continue
            steps = sum(isinstance(s, ActionStep) for s in item.steps)
            mark = " <b class='sk-drops-next' style='color:#e65100'>⟵ drops next</b>" if item is dropping else ""
            status = f"<span style='color:{GREEN if item.success else RED}'>{'✔' if item.success else '✘'}</span>"
            rows.append(
                f"<tr class='sk-slot'><td>{index}</td><td>{status} {html.escape(_short(item.task, 120))}{mark}</td>"
                f"<td>{answer_html(item.answer)}</td><td>{steps}</td>"
                f"<td>{item.token_usage.input_tokens:,} / {item.token_usage.output_tokens:,}</td></tr>"
            )
        summary = memory.summary()
        figures = (
            f"{counted(summary['runs'], 'run')} · {counted(summary['steps'], 'step')} · "
            f"{format_tokens(summary['input_tokens'], summary['output_tokens'], summary['cost'])} · "
            f"run time {format_seconds(summary['time'])} · session {format_seconds(summary['session_time'])}"
        )
        head = "<tr><th>#</th><th>task</th><th>answer</th><th>steps</th><th>tokens in / out</th></tr>"
        return (
            f"<div class='smolkernel-memory-view' style='{BOX}font-family:sans-serif;font-size:13px'>"
            f"<b>Memory</b> <small>window {summary['window']} interactions</small>"
            f"<table style='border-collapse:collapse;text-align:left'>{head}{''.join(rows)}</table>"
            f"<small class='sk-figures'>{figures}</small></div>"
        )

    def to_text(self) -> str:
        """The window and the figures as plain text."""
        memory = self.memory
        summary = memory.summary()
        lines = [f"Memory: window {summary['window']} interactions"]
        for index, item in enumerate(self.slots(), 1):
            if item is None:
                lines.append(f"  {index}. (empty)")
                continue
            mark = "  <- drops next" if item is memory.next_to_drop else ""
            lines.append(
                f"  {index}. {'✔' if item.success else '✘'} {_short(item.task, 60)} → {_short(repr_answer(item.answer), 60)}"
                f" ({counted(sum(isinstance(s, ActionStep) for s in item.steps), 'step')}, "
                f"{item.token_usage.input_tokens} in / {item.token_usage.output_tokens} out){mark}"
            )
        lines.append(
            f"  {counted(summary['runs'], 'run')} · {counted(summary['steps'], 'step')} · "
            f"{format_tokens(summary['input_tokens'], summary['output_tokens'], summary['cost'])} · "
            f"run time {format_seconds(summary['time'])}"
        )
        return "\n".join(lines)


ANSWER_ROWS = 5
"""Rows of a table answer (a DataFrame) shown in the memory table."""
ANSWER_CHARS = 400


def answer_html(answer: Any) -> str:
    """An answer as a memory-table cell: tables stay tables (their first rows), text keeps its lines."""
    head = getattr(answer, "head", None)
    if callable(head) and hasattr(answer, "shape") and hasattr(answer, "_repr_html_"):
        try:
            rows, *_ = answer.shape
            more = f"<small>… {rows - ANSWER_ROWS} more rows</small>" if rows > ANSWER_ROWS else ""
            return f"<div style='max-height:12em;overflow:auto'>{head(ANSWER_ROWS)._repr_html_()}</div>{more}"
        except Exception:  # an odd object with a head(): fall back to its text
            pass
    text = repr_answer(answer)
    if len(text) > ANSWER_CHARS:
        text = text[: ANSWER_CHARS - 1] + "…"
    return f"<pre style='margin:0;white-space:pre-wrap'>{html.escape(text)}</pre>"


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
