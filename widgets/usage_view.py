"""UsageView: token usage per step and per run, with a bar chart and totals.

Usage (what ``%usage`` shows)::

    from smolkernel.widgets import UsageView

    UsageView(result)          # one RunResult: a row per step (managed runs included)
    UsageView(agent.memory)    # the runs in the memory window, plus the session totals
    UsageView([r1, r2])        # any list of RunResults

Each row gives input and output tokens, cost when known and duration; a small
bar chart (plain HTML, so it works offline) draws input and output tokens per
row. The snapshot is static by default; ``live=True`` keeps the widget in the
output and ``refresh()`` redraws it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from smolkernel.agents.result import RunResult
from smolkernel.memory import ActionStep, AgentMemory, PlanningStep, Step
from smolkernel.models.base import TokenUsage

from ._render import BOX, GREY, format_seconds, format_tokens
from ._snapshot import SnapshotView

__all__ = ["UsageView", "UsageRow"]

IN_COLOR = "#64b5f6"
OUT_COLOR = "#ff8a65"


@dataclass
class UsageRow:
    """One line of the table."""

    label: str
    """``"run 1 · step 2"``, ``"run 1 · plan"``, ``"↳ researcher · step 1"``."""
    input_tokens: int
    output_tokens: int
    cost: float | None
    duration: float


class UsageView(SnapshotView):
    """A table and bar chart of token usage.

    Args:
        source: a ``RunResult``, a list of them, an ``AgentMemory``, or an agent
            (its memory; read again at each ``refresh``).
        live: keep the live widget in the output.
    """

    def __init__(self, source: RunResult | Sequence[RunResult] | AgentMemory | Any, *, live: bool = False) -> None:
        super().__init__(keep_widget=live)
        self.source = source
        self.final = not live
        self.html = w.HTML()
        self.widget = w.VBox([self.html])
        self.widget.add_class("smolkernel-usage-view")
        self.refresh()

    def refresh(self) -> None:
        """Re-read the source; redraw the widget and rewrite the displayed snapshot."""
        self.html.value = self.to_html()
        self.refresh_snapshot()

    def _runs(self) -> list[tuple[str, list[Step]]]:
        source = self.source
        if isinstance(source, RunResult):
            return [("", source.steps)]
        if not isinstance(source, (AgentMemory, Sequence)):
            source = source.memory
        if isinstance(source, AgentMemory):
            return [(f"run {i}", item.steps) for i, item in enumerate(source.interactions, 1)]
        return [(f"run {i}", result.steps) for i, result in enumerate(source, 1)]

    def rows(self) -> list[UsageRow]:
        """One row per step of every run shown (managed agents' steps indented)."""
        rows: list[UsageRow] = []
        for prefix, steps in self._runs():
            rows.extend(_step_rows(prefix, steps, ""))
        return rows

    def totals(self) -> TokenUsage:
        """Tokens over the rows; for a memory, over every run including those that rolled off."""
        source = self.source if isinstance(self.source, (RunResult, AgentMemory, Sequence)) else self.source.memory
        if isinstance(source, AgentMemory):
            return source.token_usage
        return sum((TokenUsage(r.input_tokens, r.output_tokens, r.cost) for r in self.rows()), TokenUsage())

    def to_html(self) -> str:
        """The table with its bar chart and the totals, as static HTML."""
        rows = self.rows()
        peak = max([max(r.input_tokens, r.output_tokens) for r in rows] + [1])
        priced = any(r.cost is not None for r in rows)  # no price known: no empty cost column
        lines = []
        for row in rows:
            bars = "".join(
                f"<div style='height:6px;margin:1px 0;width:{max(1, round(120 * value / peak))}px;background:{color}'></div>"
                for value, color in ((row.input_tokens, IN_COLOR), (row.output_tokens, OUT_COLOR))
            )
            cost = ("<td></td>" if row.cost is None else f"<td>${row.cost:.4f}</td>") if priced else ""
            lines.append(
                f"<tr class='sk-usage-row'><td>{html.escape(row.label)}</td><td style='text-align:right'>{row.input_tokens:,}</td>"
                f"<td style='text-align:right'>{row.output_tokens:,}</td>{cost}<td>{format_seconds(row.duration)}</td>"
                f"<td class='sk-bars'>{bars}</td></tr>"
            )
        total = self.totals()
        head = f"<tr><th>step</th><th>in</th><th>out</th>{'<th>cost</th>' if priced else ''}<th>time</th><th></th></tr>"
        legend = f"<span style='color:{IN_COLOR}'>■</span> in <span style='color:{OUT_COLOR}'>■</span> out"
        return (
            f"<div class='smolkernel-usage-view' style='{BOX}font-family:sans-serif;font-size:13px'>"
            f"<b>Token usage</b> <small style='color:{GREY}'>{legend}</small>"
            f"<table style='border-collapse:collapse'>{head}{''.join(lines)}</table>"
            f"<small class='sk-totals'>total: {format_tokens(total.input_tokens, total.output_tokens, total.cost)}</small></div>"
        )

    def to_text(self) -> str:
        """The table and totals as plain text."""
        lines = ["Token usage", f"  {'step':<32} {'in':>8} {'out':>8}  time"]
        for row in self.rows():
            lines.append(f"  {row.label[:32]:<32} {row.input_tokens:>8,} {row.output_tokens:>8,}  {format_seconds(row.duration)}")
        total = self.totals()
        lines.append(f"  total: {format_tokens(total.input_tokens, total.output_tokens, total.cost)}")
        return "\n".join(lines)


def _step_rows(prefix: str, steps: Sequence[Step], indent: str) -> list[UsageRow]:
    rows = []
    for step in steps:
        name = "plan" if isinstance(step, PlanningStep) else f"step {step.step_number}"
        label = f"{indent}{prefix} · {name}" if prefix else f"{indent}{name}"
        usage = step.token_usage
        rows.append(UsageRow(label, usage.input_tokens, usage.output_tokens, usage.cost, step.duration))
        if isinstance(step, ActionStep):
            for managed in step.managed_runs:
                rows.extend(_step_rows(f"↳ {managed.agent_name}", managed.steps, indent + "  "))
    return rows
