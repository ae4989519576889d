"""How the kernel shows a run, the memory and the usage: widgets when installed, text otherwise.

The widget views (``smolkernel.widgets``: ``RunView``, ``MemoryView``,
``UsageView``) carry their own ``text/html`` and ``text/plain`` snapshots, so
headless reports read them too. Without ipywidgets, the kernel writes the
same information as text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._text import counted
from .output import CellOutput, TextProgress

if TYPE_CHECKING:
    from ..agents.events import AgentEvent
    from ..memory import AgentMemory

__all__ = ["LiveRun", "show_memory", "show_usage", "widgets_module"]

_WIDGETS: Any = None
_WIDGETS_CHECKED = False


def widgets_module(enabled: bool = True) -> Any:
    """``smolkernel.widgets`` when enabled and it imports cleanly, else None (the import is tried once)."""
    global _WIDGETS, _WIDGETS_CHECKED
    if not enabled:
        return None
    if not _WIDGETS_CHECKED:
        _WIDGETS_CHECKED = True
        try:
            from .. import widgets  # type: ignore[attr-defined]

            _WIDGETS = widgets if hasattr(widgets, "RunView") else None
        except Exception:  # not installed, or broken: fall back to text
            _WIDGETS = None
    return _WIDGETS


def _display(view: Any) -> None:
    from IPython.display import display

    display(view)


class LiveRun:
    """Shows one run as it happens: a ``RunView`` widget, or ``TextProgress`` lines.

    Displays made by the generated code (figures, tables) are published as
    ordinary outputs of the cell when their step ends, so they are there in
    any frontend and in the saved notebook; the ``RunView`` does not repeat
    them in its step cards.
    """

    def __init__(self, out: CellOutput, view: Any = None) -> None:
        self.out = out
        self.view = view
        self.text = TextProgress(out) if view is None else None

    @property
    def text_only(self) -> bool:
        """True when the run is shown as text (no widget)."""
        return self.view is None

    @classmethod
    def start(cls, out: CellOutput, task: str, max_steps: int, *, use_widgets: bool = True) -> LiveRun:
        """Display the view for a task (widget if available and wanted) and return it."""
        widgets = widgets_module(use_widgets)
        if widgets is not None:
            try:
                title = task.strip().splitlines()[0][:120] if task.strip() else None
                view = widgets.RunView(title=title, max_steps=max_steps, show_displays=False)
                _display(view)
                return cls(out, view)
            except Exception:  # a widget problem must not stop the task
                pass
        return cls(out)

    def handle_event(self, event: AgentEvent) -> None:
        """The agent's ``on_event`` callback."""
        if self.text is not None:
            self.text(event)
            return
        self.view.handle_event(event)
        from ..agents import events as ev

        if isinstance(event, ev.StepFinished) and event.step is not None:
            for bundle in event.step.displays:
                self.out.display(bundle.get("data", {}), bundle.get("metadata", {}))

    def finish(self, error: str | None = None) -> None:
        """End the view (after a normal end, a no-op; after an exception, marks it interrupted)."""
        if self.view is not None:
            try:
                self.view.finish(error)
            except Exception:  # the view is a courtesy
                pass


def show_memory(out: CellOutput, memory: AgentMemory, *, use_widgets: bool = True) -> None:
    """``%memory``: a ``MemoryView`` or a text listing of the window."""
    _show(out, "MemoryView", memory, memory_text, use_widgets)


def _show(out: CellOutput, view: str, memory: AgentMemory, as_text: Callable[[AgentMemory], str], use_widgets: bool) -> None:
    """Display the widget ``view`` of ``memory`` when widgets are on, else its text form."""
    widgets = widgets_module(use_widgets)
    if widgets is not None and hasattr(widgets, view):
        _display(getattr(widgets, view)(memory))
    else:
        out.stream(as_text(memory))


def memory_text(memory: AgentMemory) -> str:
    """The memory window as text: one line per remembered task."""
    lines = [f"memory: {len(memory.interactions)}/{memory.memory_size} interactions"]
    for number, item in enumerate(memory.interactions, 1):
        mark = "ok" if item.success else "unfinished"
        answer = item.answer if isinstance(item.answer, str) else repr(item.answer)
        task = item.task.splitlines()[0][:80] if item.task else ""
        lines.append(f"  {number}. {task} -> {answer[:80]} [{mark}, {counted(len(item.steps), 'step')}]")
    return "\n".join(lines) + "\n"


def show_usage(out: CellOutput, memory: AgentMemory, *, use_widgets: bool = True) -> None:
    """``%usage``: a ``UsageView`` or the cumulative figures as text."""
    _show(out, "UsageView", memory, usage_text, use_widgets)


def usage_text(memory: AgentMemory) -> str:
    """The cumulative figures of the session as text."""
    figures = memory.summary()
    cost = f", ${figures['cost']:.4f}" if figures.get("cost") else ""
    return (
        f"usage: {counted(figures['runs'], 'run')}, {counted(figures['steps'], 'step')}, "
        f"{figures['input_tokens']} in / {figures['output_tokens']} out tokens{cost}, "
        f"{figures['time']:.2f} s running, session {_since(memory.started)}\n"
    )


def _since(started: float) -> str:
    seconds = max(time.time() - started, 0)
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
