"""How the magics show things: live widgets in Jupyter frontends, readable text in a terminal.

``in_jupyter_frontend(shell)`` decides: a ``ZMQInteractiveShell`` with a
kernel (JupyterLab, Notebook, nbclient) gets the ``smolkernel.widgets``
views, when they can be imported; terminal IPython and plain
``InteractiveShell`` get ``TextRunView`` and text summaries.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from smolkernel._text import counted
from smolkernel.agents import events as ev

if TYPE_CHECKING:
    from smolkernel.agents.result import RunResult
    from smolkernel.memory import AgentMemory

__all__ = ["RunDisplay", "TextRunView", "in_jupyter_frontend", "open_run_view", "show_memory", "show_usage"]

_OBSERVATION_LINES = 12


class RunDisplay(Protocol):
    """What the magics need from a run view."""

    def handle_event(self, event: ev.AgentEvent) -> None:
        """Fold in one event of the run."""

    def finish(self, error: str | None = None) -> None:
        """End the view (marking an unfinished run interrupted)."""


def in_jupyter_frontend(shell: Any) -> bool:
    """True in a Jupyter kernel (ipykernel's shell with a kernel attached), False in a terminal."""
    return type(shell).__name__ == "ZMQInteractiveShell" and getattr(shell, "kernel", None) is not None


def _widgets() -> Any | None:
    """The ``smolkernel.widgets`` module, or None when it (or ipywidgets) cannot be imported."""
    try:
        import smolkernel.widgets as widgets
    except Exception:  # missing ipywidgets or a broken install: fall back to text
        return None
    return widgets


def open_run_view(shell: Any, title: str, max_steps: int) -> RunDisplay:
    """Display and return a view for a run: a live ``RunView`` in Jupyter, else text."""
    widgets = _widgets() if in_jupyter_frontend(shell) else None
    if widgets is not None:
        from IPython.display import display

        view = widgets.RunView(title=title, max_steps=max_steps)
        display(view)
        return view
    return TextRunView(title)


class TextRunView:
    """A run as lines of text, for terminal IPython (printed as events arrive)."""

    def __init__(self, title: str, stream: TextIO | None = None) -> None:
        self.title = title
        self.stream = stream
        self.final = False

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def handle_event(self, event: ev.AgentEvent) -> None:
        """Print what the event says (streamed text deltas are skipped: the code follows)."""
        indent = "    " * event.depth
        if isinstance(event, ev.RunStarted):
            who = "" if event.depth == 0 else f"{event.agent_name}: "
            self._print(f"{indent}▶ {who}{_first_line(event.task)}  [{event.model_id}, up to {counted(event.max_steps, 'step')}]")
        elif isinstance(event, ev.ModelOutput) and event.code:
            self._print(f"{indent}── step {event.step_number} " + "─" * 30)
            self._print(_indented(event.code, indent + "  │ "))
        elif isinstance(event, ev.StepFinished) and event.step is not None:
            self._step_finished(event, indent)
        elif isinstance(event, ev.PlanCreated) and event.step is not None:
            self._print(f"{indent}plan:\n{_indented(event.step.plan, indent + '  ')}")
        elif isinstance(event, ev.RunFinished) and event.result is not None:
            self._run_finished(event.result, indent)
            self.final = event.depth == 0 or self.final

    def _step_finished(self, event: ev.StepFinished, indent: str) -> None:
        step = event.step
        assert step is not None
        for call in step.tool_calls:
            self._print(f"{indent}  → {call.name}({call.arguments})")
        if step.observations.strip():
            lines = step.observations.rstrip().splitlines()
            shown = lines[:_OBSERVATION_LINES] + ([f"... ({len(lines) - _OBSERVATION_LINES} more lines)"] if len(lines) > _OBSERVATION_LINES else [])
            self._print(_indented("\n".join(shown), indent + "  "))
        if step.error:
            self._print(_indented(f"error: {step.error}", indent + "  ✘ "))
        usage = step.token_usage
        self._print(f"{indent}  ({step.duration:.1f} s, {usage.input_tokens} in / {usage.output_tokens} out tokens)")

    def _run_finished(self, result: RunResult, indent: str) -> None:
        usage = result.token_usage
        mark = "✔" if result.success else "✘"
        note = "" if result.success else f" ({result.error})"
        self._print(
            f"{indent}{mark} {counted(len(result.action_steps), 'step')}, {result.duration:.1f} s, "
            f"{usage.input_tokens} in / {usage.output_tokens} out tokens{note}"
        )

    def finish(self, error: str | None = None) -> None:
        """Say the run ended without finishing, if it did."""
        if not self.final:
            self.final = True
            self._print(f"✘ {error or 'interrupted'}")


def show_memory(shell: Any, memory: AgentMemory) -> None:
    """Show the memory window: a ``MemoryView`` in Jupyter, text in a terminal."""
    widgets = _widgets() if in_jupyter_frontend(shell) else None
    if widgets is not None:
        from IPython.display import display

        display(widgets.MemoryView(memory))
        return
    print(memory_text(memory))


def memory_text(memory: AgentMemory) -> str:
    """The memory window and cumulative figures as text."""
    lines = [f"Memory: {len(memory.interactions)} of {memory.memory_size} slots used (oldest first)"]
    for number, item in enumerate(memory.interactions, 1):
        drop = "  ← dropped by the next run" if item is memory.next_to_drop else ""
        answer = item.answer if isinstance(item.answer, str) else repr(item.answer)
        lines.append(f"{number}. {_first_line(item.task)} → {_first_line(answer)}{drop}")
    summary = memory.summary()
    lines.append(
        f"Runs {summary['runs']}, steps {summary['steps']}, "
        f"tokens {summary['input_tokens']} in / {summary['output_tokens']} out, {summary['time']:.1f} s running"
    )
    return "\n".join(lines)


def show_usage(shell: Any, results: Sequence[RunResult]) -> None:
    """Show token usage of the session's runs: a ``UsageView`` in Jupyter, text in a terminal."""
    widgets = _widgets() if in_jupyter_frontend(shell) else None
    if widgets is not None and results:
        from IPython.display import display

        display(widgets.UsageView(list(results)))
        return
    print(usage_text(results))


def usage_text(results: Sequence[RunResult]) -> str:
    """One line per run and the session's totals, as text."""
    if not results:
        return "No runs yet in this session."
    lines = []
    tokens_in = tokens_out = 0
    cost: float | None = None  # stays None when no run's price is known: no cost rather than $0
    for number, result in enumerate(results, 1):
        usage = result.token_usage
        tokens_in += usage.input_tokens
        tokens_out += usage.output_tokens
        if usage.cost is not None:
            cost = (cost or 0.0) + usage.cost
        run_price = "" if usage.cost is None else f" ${usage.cost:.4f}"
        lines.append(
            f"{number:>3}. {_first_line(result.task)[:50]:<50} {len(result.action_steps):>2} steps "
            f"{usage.input_tokens:>7} in {usage.output_tokens:>6} out {result.duration:6.1f} s{run_price}"
        )
    total_time = sum(r.duration for r in results)
    price = "" if cost is None else f", ${cost:.4f}"
    lines.append(f"Total: {counted(len(results), 'run')}, {tokens_in} in / {tokens_out} out tokens{price}, {total_time:.1f} s")
    return "\n".join(lines)


def _first_line(text: str) -> str:
    stripped = text.strip()
    first = stripped.splitlines()[0] if stripped else ""
    return first if len(first) <= 100 else first[:97] + "..."


def _indented(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())
