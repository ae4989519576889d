"""``final_answer``: the tool every agent has, which ends the run."""

from __future__ import annotations

from typing import Any

from .base import Tool

__all__ = ["FinalAnswerTool", "FinalAnswer"]


class FinalAnswer(BaseException):
    """Raised by ``final_answer`` inside generated code to stop it at once.

    A ``BaseException`` so that a bare ``except Exception`` in generated code
    does not swallow it.
    """

    def __init__(self, value: Any):
        super().__init__(value)
        self.value = value


class FinalAnswerTool(Tool):
    """The tool every agent has: ``final_answer(answer)`` raises ``FinalAnswer`` to end the run."""

    name = "final_answer"
    description = "Give the final answer to the task and end the run."
    inputs = {"answer": {"type": "any", "description": "the final answer"}}
    output_type = "any"

    def forward(self, answer: Any) -> Any:
        raise FinalAnswer(answer)
