"""``%%python`` as a Python cell: the workspace's messages re-published in the user's cell as they come.

The sibling kernel (the workspace) publishes streams, displays, display
updates, ``clear_output``, the result and the error of the code on its own
IOPub channel. ``WorkspaceForwarder`` receives each one while the code runs
(``KernelExecutor.run(on_message=...)``) and sends it on in the user's cell,
in order, with the stream name, the display id and the metadata unchanged; the
reply's payloads (the pager of ``print?``, ``set_next_input``...) become the
cell's payloads. So a ``%%python`` cell shows what the same code shows in a
``python3`` kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..executors._collect import ANSWER_METADATA_KEY
from .directives import CellFailed

if TYPE_CHECKING:
    from .directives import DirectiveContext
    from .output import CellOutput

__all__ = ["WorkspaceForwarder", "run_python_cell", "error_name"]

_FORWARDED = ("stream", "display_data", "update_display_data", "clear_output")


class WorkspaceForwarder:
    """A ``MessageHook`` that republishes one execution of the workspace in the user's cell.

    Args:
        out: the user's cell.
        execution_count: the cell's number (the workspace's own count is replaced by it).
    """

    def __init__(self, out: CellOutput, execution_count: int) -> None:
        self.out = out
        self.execution_count = execution_count
        self.error: dict[str, Any] | None = None
        """The content of the workspace's ``error`` message, once shown."""
        self.payload: list[dict[str, Any]] = []
        """The payloads of the workspace's ``execute_reply``."""
        self.result_shown = False

    def __call__(self, msg_type: str, content: dict[str, Any]) -> None:
        """Forward one message of the execution (``execute_reply`` gives the payloads)."""
        if msg_type == "execute_reply":
            self.payload = [p for p in content.get("payload", []) if isinstance(p, dict)]
        elif msg_type in _FORWARDED:
            if not content.get("metadata", {}).get(ANSWER_METADATA_KEY):  # the final answer is shown as the result
                self.out.forward(msg_type, content)
        elif msg_type == "execute_result":
            self.result_shown = True
            self.out.result(content.get("data", {}), content.get("metadata"), self.execution_count)
        elif msg_type == "error":
            self.error = content
            self.out.forward("error", content)


async def run_python_cell(ctx: DirectiveContext, body: str) -> None:
    """``%%python``: run ``body`` in the workspace, its output forwarded live (collected for other executors).

    Raises:
        CellFailed: the code raised (its error is already shown), timed out or killed the workspace.
    """
    from ..executors.kernel import KernelExecutor

    executor = await ctx.session.start_executor()
    if not isinstance(executor, KernelExecutor):
        await _run_collected(ctx, executor, body)
        return
    forward = WorkspaceForwarder(ctx.out, ctx.execution_count)
    out = await executor.run(body, on_message=forward, on_input=ctx.kernel.request_input)
    ctx.payload.extend(forward.payload)
    if out.workspace_lost:
        ctx.out.stream("[the workspace kernel had stopped and was restarted: its variables are lost]\n", "stderr")
    if forward.error is not None:
        error = forward.error
        raise CellFailed(error.get("ename", "Error"), error.get("evalue", ""), error.get("traceback"), shown=True)
    if out.error:  # a timeout or a dead workspace: no error message came from the code
        raise CellFailed(*error_name(out.error), traceback=out.error.splitlines())
    if out.is_final_answer and not forward.result_shown:
        _show_answer(ctx, out)


async def _run_collected(ctx: DirectiveContext, executor: Any, body: str) -> None:
    """An executor without live messages (``local``...): show what it collected, when it ends."""
    out = await executor.run(body)
    if out.logs:
        ctx.out.stream(out.logs)
    result_text = out.output if isinstance(out.output, str) and not out.is_final_answer else None
    bundles = list(out.displays)
    result_bundle = None
    if result_text is not None:
        if bundles and bundles[-1].get("data", {}).get("text/plain") == result_text:
            result_bundle = bundles.pop()
        else:
            result_bundle = {"data": {"text/plain": result_text}, "metadata": {}}
    for bundle in bundles:
        ctx.out.display(bundle.get("data", {}), bundle.get("metadata", {}))
    if out.error:
        raise CellFailed(*error_name(out.error), traceback=out.error.splitlines())
    if result_bundle is not None:
        ctx.out.result(result_bundle["data"], result_bundle.get("metadata"), ctx.execution_count)
    elif out.is_final_answer:
        _show_answer(ctx, out)


def _show_answer(ctx: DirectiveContext, out: Any) -> None:
    answer = out.answer_bundle or {"data": {"text/plain": repr(out.output)}, "metadata": {}}
    ctx.out.result(answer["data"], answer["metadata"], ctx.execution_count)


def error_name(text: str) -> tuple[str, str]:
    """(ename, evalue) from the last line of a formatted error."""
    last = text.strip().splitlines()[-1] if text.strip() else "Error"
    name, sep, value = last.partition(": ")
    if sep and name.replace(".", "").replace("_", "").isalnum():
        return name, value
    return "Error", last
