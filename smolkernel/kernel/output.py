"""What one cell sends to the notebook: streams, displays, the result, an error.

``CellOutput`` captures the cell's parent header once, so messages sent from
event callbacks (even from worker threads, where managed agents run) land in
the right cell. ``TextProgress`` turns agent events into readable text as the
steps happen; it is the fallback when the widgets are not installed, and it
reads well in terminals and in nbconvert reports.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ipykernel.kernelbase import Kernel

    from ..agents.events import AgentEvent
    from ..agents.result import RunResult

__all__ = ["CellOutput", "TextProgress", "error_content", "run_footer", "value_bundle"]

MAX_SHOWN_CHARS = 4000
"""Observations longer than this are cut in the live text (the model saw them whole)."""


def value_bundle(shell: Any, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mime bundle and metadata of a value formatted by ``shell`` (strings as they are, without quotes)."""
    if isinstance(value, str):
        return {"text/plain": value}, {}
    try:
        data, metadata = shell.display_formatter.format(value)
    except Exception:  # a broken _repr_ must not fail the cell
        data, metadata = {"text/plain": repr(value)}, {}
    return data or {"text/plain": repr(value)}, metadata or {}


def error_content(ename: str, evalue: str, traceback: list[str] | None = None) -> dict[str, Any]:
    """The content of an ``error`` message and of an error ``execute_reply``."""
    return {"ename": ename, "evalue": evalue, "traceback": traceback if traceback is not None else [f"{ename}: {evalue}"]}


class CellOutput:
    """Publishes the outputs of one cell on IOPub, under the cell's parent header."""

    def __init__(self, kernel: Kernel, parent: dict[str, Any]) -> None:
        self.kernel = kernel
        self.parent = parent

    def _send(self, msg_type: str, content: dict[str, Any]) -> None:
        kernel = self.kernel
        kernel.session.send(kernel.iopub_socket, msg_type, content, parent=self.parent, ident=kernel._topic(msg_type))

    def stream(self, text: str, name: str = "stdout") -> None:
        """Send ``text`` to the cell's stdout or stderr."""
        if text:
            self._send("stream", {"name": name, "text": text})

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None = None, *, display_id: str | None = None, update: bool = False) -> None:
        """Show a mime bundle; with ``update`` replace the display ``display_id``."""
        content: dict[str, Any] = {"data": data, "metadata": metadata or {}, "transient": {}}
        if display_id:
            content["transient"]["display_id"] = display_id
        self._send("update_display_data" if update else "display_data", content)

    def forward(self, msg_type: str, content: dict[str, Any]) -> None:
        """Publish a message of another kernel (``display_data``, ``clear_output``...) in this cell as it is."""
        self._send(msg_type, content)

    def clear(self, wait: bool = False) -> None:
        """Clear the cell's output (with ``wait``: when the next output arrives)."""
        self._send("clear_output", {"wait": wait})

    def result(self, data: dict[str, Any], metadata: dict[str, Any] | None, execution_count: int) -> None:
        """Send the cell's ``execute_result``."""
        self._send("execute_result", {"execution_count": execution_count, "data": data, "metadata": metadata or {}})

    def error(self, ename: str, evalue: str, traceback: list[str] | None = None) -> dict[str, Any]:
        """Show an error in the cell; returns the content for the error reply."""
        content = error_content(ename, evalue, traceback)
        self._send("error", content)
        return content


def _indent(text: str, depth: int) -> str:
    return textwrap.indent(text.rstrip("\n"), "    " + "  " * depth) + "\n"


def _cut(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[: limit - 200]}\n[... {len(text) - limit} characters not shown ...]\n{text[-200:]}"


class TextProgress:
    """An ``on_event`` callback that writes each step as readable text when it happens.

    Code appears as soon as the model wrote it; printed output, displays
    (figures, tables) and errors when the step ends.
    """

    def __init__(self, out: CellOutput) -> None:
        self.out = out

    def __call__(self, event: AgentEvent) -> None:
        """Write what ``event`` says (unknown event types are ignored)."""
        from ..agents import events as ev

        handler = {
            ev.ModelOutput: self._model_output,
            ev.StepFinished: self._step_finished,
            ev.PlanCreated: self._plan,
            ev.RunStarted: self._run_started,
        }.get(type(event))
        if handler is not None:
            handler(event)

    def _label(self, event: AgentEvent, number: int | None) -> str:
        who = f"{event.agent_name} " if event.depth else ""
        pad = "  " * event.depth
        return f"{pad}[{who}step {number}]" if number is not None else f"{pad}[{who.strip() or 'agent'}]"

    def _run_started(self, event: Any) -> None:
        if event.depth:
            self.out.stream(f"{self._label(event, None)} started: {event.task[:200]}\n")

    def _model_output(self, event: Any) -> None:
        if event.code:
            self.out.stream(f"{self._label(event, event.step_number)} code:\n{_indent(event.code, event.depth)}")
        elif event.message is not None and event.message.tool_calls:
            calls = "\n".join(f"{c.name}({_short_args(c.arguments)})" for c in event.message.tool_calls)
            self.out.stream(f"{self._label(event, event.step_number)} tool calls:\n{_indent(calls, event.depth)}")

    def _step_finished(self, event: Any) -> None:
        step = event.step
        if step is None:
            return
        label = self._label(event, step.step_number)
        if step.tool_results:
            results = "\n".join(f"{key}: {value}" for key, value in step.tool_results.items())
            self.out.stream(f"{label} results:\n{_indent(_cut(results), event.depth)}")
        elif step.observations.strip():
            self.out.stream(f"{label} output:\n{_indent(_cut(step.observations), event.depth)}")
        for bundle in step.displays:
            self.out.display(bundle.get("data", {}), bundle.get("metadata", {}))
        if step.error:
            self.out.stream(f"{label} error:\n{_indent(_cut(str(step.error)), event.depth)}", "stderr")

    def _plan(self, event: Any) -> None:
        if event.step is not None:
            self.out.stream(f"{self._label(event, None)} plan:\n{_indent(_cut(event.step.plan), event.depth)}")


def _short_args(arguments: Any) -> str:
    if isinstance(arguments, dict):
        text = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    else:
        text = str(arguments)
    return text if len(text) <= 200 else text[:197] + "..."


def run_footer(result: RunResult) -> str:
    """One line that sums a run up: steps, time, tokens."""
    usage = result.token_usage
    steps = len(result.action_steps)
    cost = f", ${usage.cost:.4f}" if getattr(usage, "cost", None) else ""
    return f"[{steps} step{'s' if steps != 1 else ''}, {result.duration:.2f} s, {usage.input_tokens} in / {usage.output_tokens} out tokens{cost}]\n"
