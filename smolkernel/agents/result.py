"""RunResult: what one run returns."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from .._text import counted
from ..memory import ActionStep, Step
from ..models.base import TokenUsage

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """The outcome of ``agent.run(task)``."""

    task: str
    """What was asked."""
    output: Any
    """The final answer; after ``max_steps``, the model's last attempt."""
    steps: list[Step] = field(default_factory=list)
    """Every planning and action step, in order."""
    success: bool = False
    """True when the run ended with a final answer within ``max_steps``."""
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    """Tokens spent by every model call of the run (managed agents' runs excluded)."""
    duration: float = 0.0
    """Seconds the run took."""
    error: str | None = None
    """Why the run did not succeed, when it did not."""
    agent_name: str = "agent"
    """Name of the agent that ran."""
    run_id: str = ""
    """Unique id of the run (matches its events)."""

    @property
    def cost(self) -> float | None:
        """Dollars spent by the run's model calls; None when no price is known."""
        return self.token_usage.cost

    @property
    def action_steps(self) -> list[ActionStep]:
        """Only the action steps."""
        return [s for s in self.steps if isinstance(s, ActionStep)]

    @property
    def code(self) -> str:
        """The code of every step that ran without error, joined (for ``%export``)."""
        blocks = [s.code for s in self.action_steps if s.code and not s.error]
        return "\n\n".join(blocks)

    def __str__(self) -> str:
        return str(self.output)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        status = "ok" if self.success else f"failed: {self.error}"
        usage = self.token_usage
        text = (
            f"RunResult({status}; {counted(len(self.action_steps), 'step')}, {self.duration:.2f} s, "
            f"{usage.input_tokens} in / {usage.output_tokens} out tokens{_dollars(self.cost)})\n{self.output!r}"
        )
        answer = html.escape(repr(self.output) if not isinstance(self.output, str) else self.output)
        page = (
            f"<div class='smolkernel-result'><b>{'✔' if self.success else '✘'} {html.escape(self.task[:200])}</b>"
            f"<pre>{answer}</pre><small>{counted(len(self.action_steps), 'step')} · {self.duration:.2f} s · "
            f"{usage.input_tokens} in / {usage.output_tokens} out tokens{_dollars(self.cost)}</small></div>"
        )
        return {"text/plain": text, "text/html": page}


def _dollars(cost: float | None) -> str:
    return "" if cost is None else f" · ${cost:.4f}"
