"""RunView: a live view of one agent run, driven by the agent's events.

Usage (in a notebook cell; the kernel's task cells and ``%%agent`` do the same)::

    from smolkernel.widgets import RunView

    view = RunView(title="Sales report", max_steps=agent.max_steps)
    display(view)
    result = await agent.arun(task, on_event=view.handle_event)

or, equivalently, ``result = await view.arun(agent, task)``, which also marks
the view interrupted if the run raises. From synchronous code use
``view.run(agent, task)``; any event stream works too::

    for event in agent.stream(task):
        view.handle_event(event)

The view shows a header (task, status, model, step n of max, elapsed time,
tokens in and out, cost when known) and one collapsible card per step (the
latest open): the model's text while it streams, the code or tool calls
(highlighted), observations, displays, the error (marked in red), duration
and tokens. A managed agent's run nests inside the parent step that called
it; the final answer stands out at the end.

``handle_event`` is thread-safe: events may come from the kernel's event loop
or from worker threads (managed agents run in threads, ``agent.run`` on a
private loop thread). Events are folded into a pure-Python ``RunModel``
under a lock; the widgets are redrawn from it at most ten times a second
(``interval``), immediately at each step end and at the run end. When the
top-level run ends, the output is rewritten (through its display id) with the
finished static snapshot, which an nbconvert HTML report shows offline.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from smolkernel.agents import events as ev

from ._render import run_footer_html, run_header_html, run_snapshot_html, run_text, step_body_html
from ._snapshot import SnapshotView
from ._state import RunModel, RunState, StepState
from ._throttle import Throttle

if TYPE_CHECKING:
    from smolkernel.agents.base import MultiStepAgent
    from smolkernel.agents.result import RunResult

__all__ = ["RunView"]

_FLUSH_NOW = (ev.RunStarted, ev.StepFinished, ev.RunFinished)
"""Events shown at once; the others (streamed text above all) are coalesced."""


class _CardWidgets:
    """The widgets of one step card: its body and the box of nested runs."""

    def __init__(self) -> None:
        self.body = w.HTML()
        self.nested = w.VBox()
        self.box = w.VBox([self.body, self.nested])
        self.box.add_class("sk-step")
        self.runs: list[_RunWidgets] = []
        self.version = -1
        self.status = ""

    def sync(self, step: StepState) -> None:
        if step.version != self.version:
            self.version = step.version
            self.body.value = step_body_html(step)
            if step.status != self.status:
                for css in ("sk-step-error", "sk-step-final"):
                    self.box.remove_class(css)
                if step.status in ("error", "final"):
                    self.box.add_class(f"sk-step-{step.status}")
                self.status = step.status
        while len(self.runs) < len(step.children):
            self.runs.append(_RunWidgets(nested=True))
        for widgets, child in zip(self.runs, step.children):
            widgets.sync(child)
        boxes = tuple(r.box for r in self.runs)
        if self.nested.children != boxes:
            self.nested.children = boxes

    def close(self) -> None:
        for run in self.runs:
            run.close()
        for widget in (self.body, self.nested, self.box):
            widget.close()


class _RunWidgets:
    """The widgets of one run: header, accordion of step cards, footer."""

    def __init__(self, nested: bool = False) -> None:
        self.header = w.HTML()
        self.steps = w.Accordion()
        self.footer = w.HTML()
        self.box = w.VBox([self.header, self.steps, self.footer])
        self.box.add_class("sk-run")
        if nested:
            self.box.layout = w.Layout(margin="4px 0 4px 12px", border="1px solid #ddd", padding="4px")
        self.cards: list[_CardWidgets] = []

    def sync(self, run: RunState, title: str | None = None) -> None:
        self.header.value = run_header_html(run, title)
        while len(self.cards) < len(run.steps):
            self.cards.append(_CardWidgets())
        for card, step in zip(self.cards, run.steps):
            card.sync(step)
        titles = tuple(step.title for step in run.steps)
        children = tuple(card.box for card in self.cards[: len(run.steps)])
        with self.steps.hold_sync():
            if self.steps.children != children:
                self.steps.children = children
                self.steps.selected_index = len(children) - 1 if children else None
            if tuple(self.steps.titles) != titles:
                self.steps.titles = titles
        self.footer.value = run_footer_html(run)

    def close(self) -> None:
        for card in self.cards:
            card.close()
        for widget in (self.header, self.steps, self.footer, self.box):
            widget.close()


class RunView(SnapshotView):
    """A live view of one agent run (and the managed runs inside it).

    Args:
        title: shown above the task (e.g. the cell's first line).
        max_steps: the step budget to show before ``RunStarted`` tells it.
        interval: minimum seconds between two redraws while text streams.
        keep_widget: keep the live widget in the output after the run
            (by default it is replaced by the static snapshot; see ``SnapshotView``).
        show_displays: show the figures and tables made by the code inside
            their step cards; False when the caller publishes them itself as
            ordinary outputs (as SmolKernel does), so they are not shown twice.
    """

    def __init__(
        self,
        title: str | None = None,
        *,
        max_steps: int | None = None,
        interval: float = 0.1,
        keep_widget: bool = False,
        show_displays: bool = True,
    ) -> None:
        super().__init__(keep_widget=keep_widget)
        self.title = title
        self.model = RunModel(title=title, max_steps=max_steps, show_displays=show_displays)
        """The pure-Python state the widgets are drawn from."""
        self.redraws = 0
        """How many times the widgets were redrawn."""
        self._lock = threading.RLock()
        self._throttle = Throttle(self._redraw, interval)
        self._widgets: _RunWidgets | None = None
        self._build()

    @property
    def state(self) -> RunState:
        """The top-level run's state (steps, texts, tokens, status)."""
        return self.model.root

    @property
    def widget(self) -> w.VBox | None:  # type: ignore[override]
        """The root widget (None once closed)."""
        return self._widgets.box if self._widgets is not None else None

    @property
    def done(self) -> bool:
        """Whether the top-level run has ended."""
        return self.state.finished

    def _build(self) -> None:
        self._widgets = _RunWidgets()
        self._widgets.box.add_class("smolkernel-run-view")
        self._widgets.sync(self.state, self.title)

    # -- events ---------------------------------------------------------------

    def handle_event(self, event: ev.AgentEvent) -> None:
        """Fold one agent event into the view (an ``on_event`` callback; thread-safe)."""
        with self._lock:
            restarting = isinstance(event, ev.RunStarted) and event.depth == 0
            if restarting and self._widgets is None:
                self._build()
            if restarting:
                self.final = False
            changed = self.model.apply(event)
            ended = isinstance(event, ev.RunFinished) and changed is self.model.root
        if changed is None:
            return
        if isinstance(event, _FLUSH_NOW):
            self._throttle.flush()
        else:
            self._throttle.request()
        if ended:
            self._end()

    __call__ = handle_event

    def finish(self, error: str | None = None) -> None:
        """End the view: unfinished runs become interrupted (with ``error``), then a final redraw and snapshot.

        Call it when a run stops without ``RunFinished`` (an exception, Ctrl-C);
        after a normal end it does nothing.
        """
        with self._lock:
            if self.final:
                return
            if not self.done:
                self.model.interrupt(error or "interrupted")
        self._throttle.flush()
        self._end()

    def _end(self) -> None:
        self._throttle.cancel()
        self.refresh_snapshot(final=True)
        if not self.keep_widget:
            self.close()

    def close(self) -> None:
        """Close the widgets (frees them in the kernel and the frontend); the snapshot stays."""
        self._throttle.cancel()
        with self._lock:
            if self._widgets is not None:
                self._widgets.close()
                self._widgets = None

    def _redraw(self) -> None:
        with self._lock:
            if self._widgets is None:
                return
            self.redraws += 1
            self._widgets.sync(self.state, self.title)

    # -- running ---------------------------------------------------------------

    async def arun(self, agent: MultiStepAgent, task: str, *, variables: Mapping[str, Any] | None = None) -> RunResult:
        """Run ``task`` with ``agent``, showing it here; the view is finished even if the run raises.

        Returns:
            The run's RunResult.

        Raises:
            Whatever ``agent.arun`` raises (``RunInterrupted``, configuration errors).
        """
        try:
            return await agent.arun(task, variables=variables, on_event=self.handle_event)
        except BaseException as exc:
            self.finish(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            raise

    def run(self, agent: MultiStepAgent, task: str, *, variables: Mapping[str, Any] | None = None) -> RunResult:
        """Blocking twin of :meth:`arun` (works inside Jupyter's running loop)."""
        from smolkernel._async import run_sync

        return run_sync(self.arun(agent, task, variables=variables))

    # -- snapshot ----------------------------------------------------------------

    def to_html(self) -> str:
        """The run as static HTML (collapsible step cards, nested runs, final answer)."""
        with self._lock:
            return f"<div class='smolkernel-run-view'>{run_snapshot_html(self.state, self.title)}</div>"

    def to_text(self) -> str:
        """The run as plain text."""
        with self._lock:
            return run_text(self.state, self.title)

    def __repr__(self) -> str:
        run = self.state
        return f"RunView(task={run.task[:40]!r}, status={run.status!r}, steps={len(run.steps)})"
