"""What an agent remembers: the steps of a run, and a rolling window across runs.

Within a run the agent keeps every step, but when it builds the next prompt
only the most recent observations are sent whole; older ones are compacted
to a short head and tail, so input tokens grow linearly with the number of
steps instead of quadratically. Across runs, ``AgentMemory`` keeps the last
``memory_size`` interactions (task, answer, key facts) and cumulative
figures that never roll off. The displays kept in the window (figures, HTML)
are bounded together by :data:`MAX_WINDOW_DISPLAY_CHARS`: past it, the oldest
steps' displays are replaced by a short note, so the memory of a long session
stays small whatever the code displayed.
"""

from __future__ import annotations

from time import time as _now
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models.base import ChatMessage, TokenUsage, ToolCall

if TYPE_CHECKING:
    from .agents.result import RunResult

__all__ = ["ActionStep", "PlanningStep", "Step", "Interaction", "AgentMemory", "compact"]

MAX_WINDOW_DISPLAY_CHARS = 16_000_000
"""Characters of display data kept across the whole window (newest first)."""


@dataclass
class ActionStep:
    """One think-act-observe cycle."""

    step_number: int
    """1-based position in the run."""
    model_output: str | None = None
    """The model's raw reply text."""
    code: str | None = None
    """The code parsed from the reply (CodeAgent)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """The tool calls requested (ToolCallingAgent)."""
    tool_results: dict[str, str] = field(default_factory=dict)
    """What each tool call returned, or its error, by call id (ToolCallingAgent)."""
    observations: str = ""
    """What the step produced: printed output, tool results, last value."""
    displays: list[dict[str, Any]] = field(default_factory=list)
    """Rich displays (mime bundles) made by the code, e.g. figures."""
    error: str | None = None
    """The error the model saw, if the step failed."""
    output: Any = None
    """The final answer, when this step gave it."""
    answer_bundle: dict[str, Any] | None = None
    """The final answer's rich display (``{"data": ..., "metadata": ...}``) when it came back
    from another process as text (``output`` is then its ``repr``); see ``CodeOutput.answer_bundle``."""
    is_final_answer: bool = False
    """Whether this step ended the run with an answer."""
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    """Tokens of this step's model call."""
    start_time: float = field(default_factory=_now)
    """Wall-clock time the step began (epoch seconds)."""
    duration: float = 0.0
    """Seconds the step took."""
    managed_runs: list[RunResult] = field(default_factory=list)
    """Runs of managed agents called during this step, for nested views."""

    kind = "action"


@dataclass
class PlanningStep:
    """A plan (or revised plan) written every ``planning_interval`` steps."""

    plan: str
    """The plan text."""
    step_number: int = 0
    """The action step it precedes."""
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    """Tokens of the planning call."""
    duration: float = 0.0
    """Seconds the planning call took."""

    kind = "planning"


Step = ActionStep | PlanningStep


@dataclass
class Interaction:
    """One finished run, as remembered across runs."""

    task: str
    """What was asked."""
    answer: Any
    """The final answer (or the last attempt when the run failed)."""
    success: bool
    """Whether the run ended with a final answer."""
    steps: list[Step]
    """Its steps, for views; prompts use only the summary."""
    token_usage: TokenUsage
    """Tokens the run spent."""
    duration: float
    """Seconds the run took."""
    summary: str = ""
    """Key facts for later prompts: the last code and what it produced."""


@dataclass
class AgentMemory:
    """A rolling window of past interactions plus cumulative figures.

    With ``memory_size=3`` the fourth interaction pushes out the first. The
    cumulative figures (``runs``, ``steps``, tokens, ``time``) count every run,
    including those that have rolled off.
    """

    memory_size: int = 5
    """How many past interactions are kept and shown to the model (0: none)."""
    interactions: deque[Interaction] = field(default_factory=deque)
    """The window, oldest first."""
    runs: int = 0
    """Runs recorded since the memory was created or cleared."""
    steps: int = 0
    """Action steps over those runs."""
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    """Tokens over those runs."""
    time: float = 0.0
    """Seconds spent running over those runs."""
    started: float = field(default_factory=_now)
    """When the session began (epoch seconds)."""

    def __post_init__(self) -> None:
        self.resize(self.memory_size)

    def resize(self, memory_size: int) -> None:
        """Change the window size, dropping the oldest interactions if needed."""
        if memory_size < 0:
            raise ValueError("memory_size must be 0 or more")
        self.memory_size = memory_size
        self.interactions = deque(self.interactions, maxlen=memory_size)

    @property
    def next_to_drop(self) -> Interaction | None:
        """The interaction that the next run will push out, if the window is full."""
        if self.memory_size and len(self.interactions) == self.memory_size:
            return self.interactions[0]
        return None

    def record(self, result: RunResult) -> Interaction:
        """Add a finished run to the window and the cumulative figures."""
        actions = [s for s in result.steps if isinstance(s, ActionStep)]
        interaction = Interaction(
            task=result.task,
            answer=result.output,
            success=result.success,
            steps=list(result.steps),
            token_usage=result.token_usage,
            duration=result.duration,
            summary=_summarize(actions),
        )
        self.runs += 1
        self.steps += len(actions)
        self.token_usage = self.token_usage + result.token_usage
        self.time += result.duration
        if self.memory_size:
            self.interactions.append(interaction)
            _trim_displays(self.interactions)
        return interaction

    def clear(self) -> None:
        """Forget the window and reset the cumulative figures."""
        self.interactions.clear()
        self.runs = self.steps = 0
        self.token_usage = TokenUsage()
        self.time = 0.0
        self.started = _now()

    def to_messages(self) -> list[ChatMessage]:
        """Past interactions as user/assistant message pairs, oldest first."""
        messages: list[ChatMessage] = []
        for item in self.interactions:
            messages.append(ChatMessage(role="user", content=f"Earlier task: {item.task}"))
            status = "Final answer" if item.success else "Unfinished; last attempt"
            text = f"{status}: {compact(repr_answer(item.answer), 600)}"
            if item.summary:
                text = f"{item.summary}\n{text}"
            messages.append(ChatMessage(role="assistant", content=text))
        return messages

    def summary(self) -> dict[str, Any]:
        """The cumulative figures as a dict (for views and ``%usage``)."""
        return {
            "runs": self.runs,
            "steps": self.steps,
            "input_tokens": self.token_usage.input_tokens,
            "output_tokens": self.token_usage.output_tokens,
            "cost": self.token_usage.cost,
            "time": self.time,
            "session_time": _now() - self.started,
            "window": f"{len(self.interactions)}/{self.memory_size}",
        }


def _trim_displays(interactions: Iterable[Interaction], budget: int = MAX_WINDOW_DISPLAY_CHARS) -> None:
    """Keep the newest displays up to ``budget`` characters; older ones become a one-line note."""
    used = 0
    for interaction in reversed(list(interactions)):
        for step in reversed(interaction.steps):
            displays = getattr(step, "displays", None)
            if not displays:
                continue
            size = sum(len(v) for d in displays for v in d.get("data", {}).values() if isinstance(v, str))
            if used + size > budget:
                step.displays = [{"data": {"text/plain": f"[{len(displays)} display(s) dropped from memory]"}, "metadata": {}}]
            else:
                used += size


def repr_answer(answer: Any) -> str:
    """A short text form of an answer for prompts."""
    return answer if isinstance(answer, str) else repr(answer)


def compact(text: str, limit: int) -> str:
    """Keep the head and tail of ``text`` within ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]} [... {len(text) - limit} characters compacted ...] {text[-tail:]}"


def _summarize(actions: Iterable[ActionStep]) -> str:
    """The last step's code, compacted: what later tasks most often build on."""
    codes = [s.code for s in actions if s.code]
    if not codes:
        return ""
    return "Code that ran last:\n" + compact(codes[-1], 800)
