"""Events an agent emits while it runs; views (widgets, the kernel) are driven by them.

Every event carries the ``run_id`` of the run that emitted it, the agent's
``agent_name`` and the ``depth`` (0 for the top-level agent, 1 for a managed
agent it called, ...), so a view can nest a managed agent's run inside the
parent step that called it (``parent_run_id`` and ``parent_step``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..memory import ActionStep, PlanningStep
    from ..models.base import ChatMessage
    from .result import RunResult

__all__ = [
    "AgentEvent",
    "RunStarted",
    "StepStarted",
    "ModelDelta",
    "ModelOutput",
    "StepFinished",
    "PlanCreated",
    "RunFinished",
]


@dataclass
class AgentEvent:
    """Base of every event."""

    run_id: str
    """Unique id of the run that emitted the event."""
    agent_name: str
    """Name of the agent (``"agent"`` when it has none)."""
    depth: int = field(default=0, kw_only=True)
    """0 for the top-level run, 1 for a managed agent's run, ..."""
    parent_run_id: str | None = field(default=None, kw_only=True)
    """For a managed agent's run: the run of the agent that called it."""
    parent_step: int | None = field(default=None, kw_only=True)
    """For a managed agent's run: the parent's step that called it."""


@dataclass
class RunStarted(AgentEvent):
    """A run began."""

    task: str = ""
    model_id: str = ""
    max_steps: int = 0


@dataclass
class StepStarted(AgentEvent):
    """An action step began (before the model call)."""

    step_number: int = 0


@dataclass
class ModelDelta(AgentEvent):
    """A piece of streamed model text (only when the model streams)."""

    step_number: int = 0
    text: str = ""


@dataclass
class ModelOutput(AgentEvent):
    """The model's complete reply for a step, before it is acted on."""

    step_number: int = 0
    message: ChatMessage | None = None
    code: str | None = None


@dataclass
class StepFinished(AgentEvent):
    """An action step ended (observations, error, usage known)."""

    step: ActionStep | None = None


@dataclass
class PlanCreated(AgentEvent):
    """A planning step ended."""

    step: PlanningStep | None = None


@dataclass
class RunFinished(AgentEvent):
    """The run ended (successfully or not)."""

    result: RunResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)
