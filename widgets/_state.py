"""The pure-Python state behind ``RunView``: what a run looks like, built from its events.

``RunModel.apply(event)`` folds agent events into a tree of ``RunState`` and
``StepState`` objects: one ``RunState`` per run, its steps in order, and the
runs of managed agents nested in the parent step that called them. No widget
is touched here, so tests can assert on counts and texts directly, and the
renderers (``_render``) turn the same tree into widget HTML, the static HTML
snapshot and plain text.

Every state object carries a ``version`` that is bumped on each change, so a
view redraws only what changed since it last looked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from smolkernel.agents import events as ev
from smolkernel.memory import ActionStep, PlanningStep

__all__ = ["StepState", "RunState", "RunModel"]


@dataclass
class StepState:
    """One step card: an action step or a plan."""

    number: int
    """1-based step number (a plan carries the number of the step it precedes)."""
    kind: str = "action"
    """``"action"`` or ``"planning"``."""
    status: str = "running"
    """``running``, ``done``, ``error`` or ``final``."""
    text: str = ""
    """The model's text: streamed while it is generated, then the whole reply."""
    code: str | None = None
    """Code the step ran (CodeAgent) or its tool calls written as calls."""
    observations: str = ""
    """What the step produced: printed output, tool results."""
    displays: list[dict[str, Any]] = field(default_factory=list)
    """Rich displays (mime bundles) made by the code."""
    error: str | None = None
    """The error, if the step failed."""
    output: Any = None
    """The final answer, when this step gave it."""
    input_tokens: int = 0
    """Prompt tokens of the step's model call(s)."""
    output_tokens: int = 0
    """Completion tokens of the step's model call(s)."""
    cost: float | None = None
    """Cost in US dollars, when known."""
    duration: float | None = None
    """Seconds the step took, once it ended."""
    started: float = field(default_factory=time.monotonic)
    """Monotonic time the step began."""
    children: list[RunState] = field(default_factory=list)
    """Runs of managed agents called during this step."""
    deltas: int = 0
    """How many streamed pieces of model text arrived."""
    version: int = 0
    """Bumped on every change."""

    @property
    def is_final(self) -> bool:
        """Whether this step gave the final answer."""
        return self.status == "final"

    @property
    def title(self) -> str:
        """A one-line title: number, status, duration, tokens."""
        mark = {"running": "…", "done": "✔", "error": "✘", "final": "★"}[self.status]
        name = f"Plan before step {self.number}" if self.kind == "planning" else f"Step {self.number}"
        parts = [f"{mark} {name}"]
        if self.status == "error":
            parts.append("error")
        if self.duration is not None:
            parts.append(f"{self.duration:.2f} s")
        if self.input_tokens or self.output_tokens:
            parts.append(f"{self.input_tokens}→{self.output_tokens} tok")
        if self.children:
            parts.append(f"{len(self.children)} managed run{'s' * (len(self.children) > 1)}")
        return " · ".join(parts)


@dataclass
class RunState:
    """One run: header figures, its steps, and how it ended."""

    run_id: str = ""
    """The run's id (matches its events)."""
    agent_name: str = "agent"
    """Name of the agent that runs."""
    task: str = ""
    """What was asked."""
    model_id: str = ""
    """The model's name."""
    max_steps: int = 0
    """The agent's step budget."""
    depth: int = 0
    """0 for the top-level run, 1 for a managed agent's run, ..."""
    status: str = "waiting"
    """``waiting``, ``running``, ``done`` (final answer), ``failed`` or ``interrupted``."""
    steps: list[StepState] = field(default_factory=list)
    """Step cards in order (plans included)."""
    output: Any = None
    """The final answer (or the last attempt of a failed run)."""
    error: str | None = None
    """Why the run failed, when it did."""
    input_tokens: int = 0
    """Prompt tokens of this run's own model calls."""
    output_tokens: int = 0
    """Completion tokens of this run's own model calls."""
    cost: float | None = None
    """Cost in US dollars, when known."""
    started: float | None = None
    """Monotonic time the run began."""
    duration: float | None = None
    """Seconds the run took, once it ended."""
    version: int = 0
    """Bumped on every change to the header or the list of steps."""

    @property
    def finished(self) -> bool:
        """Whether the run has ended."""
        return self.status in ("done", "failed", "interrupted")

    @property
    def action_steps(self) -> list[StepState]:
        """Only the action-step cards."""
        return [s for s in self.steps if s.kind == "action"]

    @property
    def elapsed(self) -> float:
        """Seconds since the run began (its duration once it ended)."""
        if self.duration is not None:
            return self.duration
        return 0.0 if self.started is None else time.monotonic() - self.started

    def step(self, number: int, kind: str = "action") -> StepState | None:
        """The card of step ``number`` of ``kind``, if it exists."""
        for card in reversed(self.steps):
            if card.number == number and card.kind == kind:
                return card
        return None

    def walk(self) -> list[RunState]:
        """This run and every nested run, depth first."""
        runs = [self]
        for card in self.steps:
            for child in card.children:
                runs.extend(child.walk())
        return runs


class RunModel:
    """Folds agent events into a ``RunState`` tree rooted at one top-level run.

    A second top-level ``RunStarted`` starts the tree over: one view, one run.
    Not thread-safe by itself; ``RunView`` calls it under its lock.
    """

    def __init__(self, title: str | None = None, max_steps: int | None = None, *, show_displays: bool = True) -> None:
        self.title = title
        """A title shown above the task (the view's ``title``)."""
        self.show_displays = show_displays
        """Keep the steps' displays in their cards (False: they are shown elsewhere)."""
        self.max_steps = max_steps
        self.root = RunState(task=title or "", max_steps=max_steps or 0)
        self.runs: dict[str, RunState] = {}
        self.events = 0
        """Events applied so far."""

    def apply(self, event: ev.AgentEvent) -> RunState | None:
        """Apply one event; return the run it changed (None when it was ignored)."""
        self.events += 1
        if isinstance(event, ev.RunStarted):
            return self._run_started(event)
        run = self.runs.get(event.run_id)
        if run is None:
            return None
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return None
        handler(self, run, event)
        run.version += 1
        return run

    def interrupt(self, reason: str = "interrupted") -> None:
        """Mark every unfinished run (and its running step) as ended by ``reason``.

        The status is ``interrupted`` when ``reason`` is an interrupt (Ctrl-C,
        a cancelled task) and ``failed`` for any other error, such as a
        configuration error, which is never labelled "interrupted".
        """
        status = "interrupted" if _is_interrupt(reason) else "failed"
        for run in self.root.walk():
            if run.finished or run.status == "waiting":
                continue
            run.status, run.error = status, reason
            run.duration = run.elapsed
            for card in run.steps:
                if card.status == "running":
                    card.status, card.error = "error", reason
                    card.version += 1
            run.version += 1

    def _run_started(self, event: ev.RunStarted) -> RunState:
        run = RunState(
            run_id=event.run_id,
            agent_name=event.agent_name,
            task=event.task,
            model_id=event.model_id,
            max_steps=event.max_steps,
            depth=event.depth,
            status="running",
            started=time.monotonic(),
        )
        parent = self.runs.get(event.parent_run_id or "")
        if event.depth == 0 or parent is None:
            run.max_steps = event.max_steps or self.max_steps or 0
            run.version = self.root.version + 1
            self.root = run
            self.runs = {run.run_id: run}
            return run
        card = parent.step(event.parent_step) if event.parent_step is not None else None
        if card is None and parent.steps:
            card = parent.steps[-1]
        if card is not None:
            card.children.append(run)
            card.version += 1
        self.runs[run.run_id] = run
        parent.version += 1
        return run

    def _step_started(self, run: RunState, event: ev.StepStarted) -> None:
        run.steps.append(StepState(number=event.step_number))

    def _delta(self, run: RunState, event: ev.ModelDelta) -> None:
        card = run.step(event.step_number) or _last(run)
        if card is not None:
            card.text += event.text
            card.deltas += 1
            card.version += 1

    def _model_output(self, run: RunState, event: ev.ModelOutput) -> None:
        card = run.step(event.step_number) or _last(run)
        if card is None or event.message is None:
            return
        if event.message.content is not None:
            card.text = event.message.content
        if event.code:
            card.code = event.code
        usage = event.message.token_usage
        if usage is not None:
            card.input_tokens, card.output_tokens, card.cost = usage.input_tokens, usage.output_tokens, usage.cost
            _add_usage(run, usage.input_tokens, usage.output_tokens, usage.cost)
        card.version += 1

    def _step_finished(self, run: RunState, event: ev.StepFinished) -> None:
        step = event.step
        if not isinstance(step, ActionStep):
            return
        card = run.step(step.step_number)
        if card is None:
            card = StepState(number=step.step_number)
            run.steps.append(card)
        counted_in, counted_out = card.input_tokens, card.output_tokens
        card.text = step.model_output if step.model_output is not None else card.text
        card.code = step.code or _calls_as_code(step) or card.code
        card.observations = step.observations
        card.displays = list(step.displays) if self.show_displays else []
        card.error = step.error
        card.output = step.output
        card.duration = step.duration
        usage = step.token_usage
        card.input_tokens, card.output_tokens, card.cost = usage.input_tokens, usage.output_tokens, usage.cost
        _add_usage(run, usage.input_tokens - counted_in, usage.output_tokens - counted_out, None)
        card.status = "final" if step.is_final_answer else "error" if step.error else "done"
        card.version += 1

    def _plan(self, run: RunState, event: ev.PlanCreated) -> None:
        step = event.step
        if not isinstance(step, PlanningStep):
            return
        usage = step.token_usage
        card = StepState(number=step.step_number, kind="planning", status="done", text=step.plan, duration=step.duration)
        card.input_tokens, card.output_tokens, card.cost = usage.input_tokens, usage.output_tokens, usage.cost
        _add_usage(run, usage.input_tokens, usage.output_tokens, usage.cost)
        run.steps.append(card)

    def _run_finished(self, run: RunState, event: ev.RunFinished) -> None:
        result = event.result
        run.duration = run.elapsed
        if result is None:
            run.status = "done"
            return
        run.status = "done" if result.success else "failed"
        run.output, run.error = result.output, result.error
        run.duration = result.duration
        usage = result.token_usage
        run.input_tokens, run.output_tokens, run.cost = usage.input_tokens, usage.output_tokens, usage.cost
        for card in run.steps:
            if card.status == "running":
                card.status = "error" if run.error else "done"
                card.version += 1


_HANDLERS = {
    ev.StepStarted: RunModel._step_started,
    ev.ModelDelta: RunModel._delta,
    ev.ModelOutput: RunModel._model_output,
    ev.StepFinished: RunModel._step_finished,
    ev.PlanCreated: RunModel._plan,
    ev.RunFinished: RunModel._run_finished,
}


def _last(run: RunState) -> StepState | None:
    return run.steps[-1] if run.steps else None


def _add_usage(run: RunState, tokens_in: int, tokens_out: int, cost: float | None) -> None:
    run.input_tokens += tokens_in
    run.output_tokens += tokens_out
    if cost is not None:
        run.cost = (run.cost or 0.0) + cost


def _calls_as_code(step: ActionStep) -> str | None:
    """Tool calls written as Python calls, so they read (and highlight) like code."""
    if not step.tool_calls:
        return None
    lines = []
    for call in step.tool_calls:
        if isinstance(call.arguments, dict):
            args = ", ".join(f"{key}={value!r}" for key, value in call.arguments.items())
        else:
            args = repr(call.arguments)
        lines.append(f"{call.name}({args})")
    return "\n".join(lines)


_INTERRUPTS = ("interrupted", "KeyboardInterrupt", "RunInterrupted", "CancelledError")


def _is_interrupt(reason: str) -> bool:
    """True when an end ``reason`` (as the views are given it) is an interrupt, not a failure."""
    return reason.startswith(_INTERRUPTS)
