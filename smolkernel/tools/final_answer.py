"""``final_answer``: the tool every agent has, which ends the run."""

from __future__ import annotations

from typing import Any

from .base import Tool

__all__ = ["FinalAnswerTool", "FinalAnswer", "final_answer_as_assignment"]


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


def final_answer_as_assignment(code: str, target: str = "result") -> str:
    """``code`` with each ``final_answer(x)`` statement rewritten as ``target = x``.

    Exported agent code then runs on its own, outside an agent, and leaves the
    answer in ``target``; comments and layout are kept. Code that does not
    parse is returned unchanged.
    """
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines(keepends=True)
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name) and node.value.func.id == "final_answer"
    ]
    for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        call = node.value
        argument = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "answer"), None)
        value = ast.get_source_segment(code, argument) if argument is not None else "None"
        start, end = node.lineno - 1, node.end_lineno - 1
        before, after = lines[start][: node.col_offset], lines[end][node.end_col_offset :]
        lines[start : end + 1] = [f"{before}{target} = {value}{after}"]
    return "".join(lines)
