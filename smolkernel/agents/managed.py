"""Managed agents: an agent that another agent calls like a tool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._async import run_sync
from ..tools import Tool

if TYPE_CHECKING:
    from .base import MultiStepAgent, RunContext

__all__ = ["ManagedAgentTool"]


class ManagedAgentTool(Tool):
    """Wraps an agent so that its manager can call ``name(task="...")``.

    The call runs the managed agent to completion in the host and returns its
    answer as text. Its events are forwarded to the manager's listeners one
    level deeper, nested under the manager's current step, and its RunResult
    is attached to that step (``ActionStep.managed_runs``).
    """

    output_type = "string"

    def __init__(self, agent: MultiStepAgent):
        self.agent = agent
        self.name = agent.name  # type: ignore[misc]
        self.description = agent.description  # type: ignore[misc]
        self.inputs = {"task": {"type": "string", "description": "the task for this team member, with every detail it needs"}}  # type: ignore[misc]
        self.context: RunContext | None = None
        super().__init__()

    def forward(self, task: str) -> Any:
        ctx = self.context
        nesting = ctx.child() if ctx is not None else {}
        result = run_sync(self.agent.arun(task, **nesting))
        if ctx is not None and ctx.current_step is not None:
            ctx.current_step.managed_runs.append(result)
        if result.success:
            return result.output
        return f"{self.name} could not finish ({result.error}). Its last attempt: {result.output}"
