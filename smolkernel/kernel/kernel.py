"""SmolKernel: a Jupyter kernel in which every cell is a task for an agent.

A cell that begins with ``%`` is a directive (see ``directives``); any other
non-empty cell is a task: the agent runs it, its code runs in the sibling
kernel (the workspace, which persists across cells), the steps appear as they
happen, and the final answer is the cell's ``execute_result``.

Interrupts: ipykernel delivers SIGINT to the main thread, where the asyncio
loop runs. A ``KeyboardInterrupt`` raised inside the loop's machinery would
break it, so while a cell runs the kernel installs its own handler, which
cancels the cell's task from the loop (and interrupts the agent and the
sibling). Only host code run by ``%%tool`` gets a real ``KeyboardInterrupt``,
as in a Python kernel. Every exception of the kernel's own code is caught per
cell: the kernel never dies from a cell.
"""

from __future__ import annotations

import asyncio
import os
import signal
import traceback
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from traitlets import Bool, CaselessStrEnum, Float, Integer, Unicode, default

from ..exceptions import ConfigurationError, RunInterrupted
from ..executors.kernel import KernelExecutor
from ..memory import ActionStep
from . import batch_directive, directives, frontend  # noqa: F401 - batch_directive registers %%batch
from .output import CellOutput, run_footer, value_bundle
from .session import AgentSession
from .views import LiveRun, show_memory, show_usage

__all__ = ["SmolKernel"]

WORKSPACE_START_WAIT = 30.0
"""Seconds a completion or inspection on a fresh kernel waits for the workspace to start."""
SHUTDOWN_TIMEOUT = 10.0
"""Seconds the workspace may take to stop when the kernel shuts down or restarts."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smolkernel")
    except PackageNotFoundError:
        return "0+unknown"


class SmolKernel(IPythonKernel):
    """The agent kernel: cells are tasks, ``%`` cells are directives.

    Configure it like any Jupyter kernel (``jupyter_kernel_config.py`` or
    ``--SmolKernel.model=...`` in the kernelspec's argv).
    """

    implementation = "smolkernel"
    implementation_version = _version()
    banner = "SmolKernel: every cell is a task for an agent. %help lists the directives."

    model = Unicode(None, allow_none=True, help="Model spec used until %model (default: $SMOLKERNEL_MODEL).").tag(config=True)
    agent_kind = Unicode("code", help="Agent kind: 'code' or 'toolcalling'.").tag(config=True)
    executor = Unicode("kernel", help="Where generated code runs: 'kernel', 'local', 'sandbox'...").tag(config=True)
    executor_timeout = Float(60.0, help="Seconds one execution of generated code may take (0: no limit).").tag(config=True)
    max_steps = Integer(10, help="Steps the agent may take per task.").tag(config=True)
    memory_size = Integer(5, help="Past tasks kept in memory across cells.").tag(config=True)
    use_widgets = Bool(True, help="Show runs, memory and usage as ipywidgets when installed (else text).").tag(config=True)
    widgets_when = CaselessStrEnum(
        ["auto", "always"], "auto",
        help="'auto': a run is a live widget only when the client renders widgets (it opened the widget "
             "control comm, as JupyterLab does), else text progress; 'always': a widget whenever installed "
             "(default from $SMOLKERNEL_WIDGETS; `smolkernel report` sets it so reports keep the views' snapshots).",
    ).tag(config=True)

    @default("widgets_when")
    def _widgets_when_default(self) -> str:
        value = os.environ.get("SMOLKERNEL_WIDGETS", "auto").strip().lower()
        return value if value in ("auto", "always") else "auto"
    allow_unfinished = Bool(
        False, help="A task that ends without a final answer (max_steps) ends its cell 'ok' instead of with an error."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.agent_session = AgentSession(
            model=self.model,
            agent_kind=self.agent_kind,
            executor=self.executor,
            executor_timeout=self.executor_timeout or None,
            max_steps=self.max_steps,
            memory_size=self.memory_size,
        )
        self._cell_task: asyncio.Task[Any] | None = None
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._in_agent_run = False
        self._host_code_running = False
        self._interrupted = False
        self._parameters_note = ""
        self.frontend = frontend.WidgetFrontend()
        """Whether the client renders widgets (it opened the widget control comm)."""
        self.frontend.register(self.comm_manager)

    @property
    def language_info(self) -> dict[str, Any]:  # type: ignore[override]
        """Python's, but highlighted by the package's lexer: tasks as plain text, ``%%python`` bodies as Python."""
        info = dict(super().language_info)
        info.update(codemirror_mode="smolkernel", pygments_lexer="smolkernel")
        return info

    def live_widgets(self) -> bool:
        """True when a run should be shown as a live widget (else as text progress)."""
        if not self.use_widgets:
            return False
        return self.widgets_when == "always" or self.frontend.renders_widgets()

    async def request_input(self, prompt: str, password: bool = False) -> str:
        """Ask the user for a line on the stdin channel (``%%python``'s ``input()``); ``"\x04"`` when the client cannot."""
        return await frontend.request_input(self, prompt, password)

    # -- interrupts ----------------------------------------------------------

    def pre_handler_hook(self) -> None:
        """While a shell message is handled, SIGINT interrupts the cell without breaking the loop."""
        self.saved_sigint_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._host_code_running:
            raise KeyboardInterrupt  # synchronous host code (%%tool): stop it like Python does
        loop = self._main_loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._interrupt_cell)

    def _interrupt_cell(self) -> None:
        """Stop what the current cell is doing (runs on the main loop)."""
        task = self._cell_task
        if task is None or task.done():
            return
        self._interrupted = True
        session = self.agent_session
        if self._in_agent_run and session.agent is not None:
            session.agent.interrupt()  # cancels the cell's task and interrupts the executor
            return
        task.cancel()
        if session.executor_started:
            asyncio.ensure_future(session.executor.interrupt())

    # -- execution -----------------------------------------------------------

    async def do_execute(  # type: ignore[override]
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: Any = None,
        cell_id: Any = None,
    ) -> dict[str, Any]:
        """Run one cell: nothing for an empty one, a directive for ``%``, else a task."""
        shell = self.shell
        self._allow_stdin = allow_stdin  # %%python's input() asks the client only when it allows stdin
        count = shell.execution_count
        reply: dict[str, Any] = {"status": "ok", "execution_count": count, "user_expressions": {}, "payload": []}
        if not code.strip():
            reply["execution_count"] = max(count - 1, 0)
            return reply
        word = frontend.console_command(code)
        if word == "exit":  # as IPython does: the console leaves, a notebook ignores it
            reply["payload"] = [dict(frontend.ASK_EXIT)]
            reply["execution_count"] = max(count - 1, 0)
            return reply
        if word == "help":
            code = "%help"
        elif frontend.is_parameters_cell(code, cell_meta):  # papermill's parameters: Python in the workspace
            self._parameters_note = frontend.parameters_note(code)
            code = "%%python\n" + code
        if store_history and not silent:
            try:
                shell.history_manager.store_inputs(count, code, code)
            except Exception:  # history is a convenience, never a reason to fail
                self.log.debug("could not store history", exc_info=True)
            shell.execution_count += 1
        ctx = directives.DirectiveContext(self, self.agent_session, CellOutput(self, self.get_parent("shell")), count)
        error = await self._run_guarded(ctx, code)
        if error is not None:
            reply.update(status="error", **error)
        reply["payload"] = ctx.payload
        return reply

    async def _run_guarded(self, ctx: directives.DirectiveContext, code: str) -> dict[str, Any] | None:
        """Run the cell as a cancellable task; every failure becomes an error output (returned)."""
        self._main_loop = asyncio.get_running_loop()
        self._interrupted = False
        self._cell_task = asyncio.ensure_future(self._dispatch(ctx, code))
        try:
            await self._cell_task
            return None
        except directives.CellFailed as exc:
            if exc.shown:
                return {"ename": exc.ename, "evalue": exc.evalue, "traceback": exc.traceback or []}
            return ctx.out.error(exc.ename, exc.evalue, exc.traceback)
        except ConfigurationError as exc:
            return ctx.out.error(type(exc).__name__, str(exc))
        except (RunInterrupted, KeyboardInterrupt):
            return self._interrupted_error(ctx)
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            return self._interrupted_error(ctx)
        except Exception as exc:  # the kernel's own failure: show it, keep the kernel alive
            self.log.error("SmolKernel cell failed", exc_info=True)
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            return ctx.out.error(type(exc).__name__, f"{exc} (an error in SmolKernel itself)", lines)
        finally:
            self._cell_task = None
            self._in_agent_run = False
            self._host_code_running = False

    def _interrupted_error(self, ctx: directives.DirectiveContext) -> dict[str, Any]:
        return ctx.out.error("KeyboardInterrupt", "interrupted; the memory and the workspace are kept")

    async def _dispatch(self, ctx: directives.DirectiveContext, code: str) -> None:
        if code.lstrip().startswith("%"):
            await directives.run_directive(ctx, code)
        else:
            await self._run_task(ctx, code.strip())

    async def run_host_code(self, code: str) -> Any:
        """Run ``code`` in the host's IPython shell (``%%tool``); returns IPython's ExecutionResult."""
        import sys

        shell = self.shell
        self._host_code_running = True
        try:
            failure = None
            try:
                transformed = shell.transform_cell(code)
            except Exception:
                transformed, failure = code, sys.exc_info()
            return await shell.run_cell_async(
                code, store_history=False, silent=False, transformed_cell=transformed, preprocessing_exc_tuple=failure
            )
        finally:
            self._host_code_running = False

    # -- tasks ---------------------------------------------------------------

    async def _run_task(self, ctx: directives.DirectiveContext, task: str) -> None:
        """Run ``task`` with the agent, showing its steps live and its answer as the result."""
        session = self.agent_session
        agent = session.ensure_agent()
        uses_workspace = hasattr(agent, "executor")
        if uses_workspace and await self._restart_dead_workspace(ctx):
            task += "\n\n(Note: the workspace kernel had stopped and was restarted: variables from earlier tasks are gone.)"
        if self._parameters_note:  # the next task learns the notebook's parameters (memory keeps them after)
            task, self._parameters_note = f"{task}\n\n{self._parameters_note}", ""
        live = LiveRun.start(ctx.out, task, agent.max_steps, use_widgets=self.live_widgets())
        try:
            if uses_workspace:
                await agent.executor.start()
                session.executor_started = True
            self._in_agent_run = True
            result = await agent.arun(task, on_event=live.handle_event)
        except BaseException as exc:
            live.finish(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            raise
        finally:
            self._in_agent_run = False
        live.finish()
        self._show_answer(ctx, result, live)

    async def _restart_dead_workspace(self, ctx: directives.DirectiveContext) -> bool:
        """When the sibling died since the last cell: say so and restart it; True if it had died.

        A death during the task needs no notice here: the executor reports it
        in that step's output (``CodeOutput.workspace_lost``), which the model
        and the run's view show.
        """
        executor = self._workspace()
        if executor is None or executor.is_alive():
            return False
        ctx.out.stream("[the workspace kernel had stopped; it was restarted and its variables are lost]\n", "stderr")
        await executor.restart()
        return True

    def _workspace(self) -> KernelExecutor | None:
        """The started sibling-kernel executor (``kernel``, ``sandbox``), or None."""
        session = self.agent_session
        executor = session.executor if session.executor_started else None
        return executor if isinstance(executor, KernelExecutor) else None

    async def _workspace_for_requests(self) -> KernelExecutor | None:
        """The sibling for completion and inspection, started now on a fresh kernel (None: not a kernel executor)."""
        executor = self._workspace()
        if executor is not None:
            return executor
        session = self.agent_session
        try:
            if not isinstance(session.executor, KernelExecutor):
                return None
            # shielded: a completion that gives up must not leave a half-started workspace
            await asyncio.wait_for(asyncio.shield(session.start_executor()), WORKSPACE_START_WAIT)
        except Exception:  # the cell that starts it will show why; completion just has nothing
            self.log.debug("could not start the workspace for completion", exc_info=True)
            return None
        return self._workspace()

    def _show_answer(self, ctx: directives.DirectiveContext, result: Any, live: LiveRun) -> None:
        """The final answer as the cell's result (rich when possible); a failed run as an error.

        A run that ended without a final answer (``max_steps``) shows the
        model's last attempt and then fails the cell with ``MaxStepsReached``,
        unless unfinished runs are allowed (``%unfinished allow``).
        """
        if live.text_only:
            ctx.out.stream(run_footer(result))
        if not result.success and result.output is None:
            raise directives.CellFailed(_failure_name(result), result.error or "the run ended without an answer")
        if not result.success:
            ctx.out.stream(f"no final answer ({result.error}); the model's last attempt:\n", "stderr")
        bundle = _answer_bundle(result)
        if bundle is not None:  # a DataFrame or figure answered in the workspace: its rich display
            data, metadata = bundle["data"], bundle["metadata"]
        else:
            data, metadata = value_bundle(self.shell, result.output)
        ctx.out.result(data, metadata, ctx.execution_count)
        if not result.success and not self.allow_unfinished:
            hint = "; allow unfinished tasks with %unfinished allow (or --SmolKernel.allow_unfinished=True)"
            raise directives.CellFailed(_failure_name(result), f"{result.error or 'no final answer'}{hint}")

    # -- views ---------------------------------------------------------------

    def show_memory(self, out: CellOutput, memory: Any) -> None:
        """``%memory show``: the memory window (a widget when available, else text)."""
        show_memory(out, memory, use_widgets=self.use_widgets)

    def show_usage(self, out: CellOutput, memory: Any) -> None:
        """``%usage``: tokens, steps and time so far."""
        show_usage(out, memory, use_widgets=self.use_widgets)

    # -- completion and inspection -------------------------------------------

    async def do_complete(self, code: str, cursor_pos: int | None) -> dict[str, Any]:  # type: ignore[override]
        """Directives complete in any cell; ``%%python`` bodies complete in the sibling."""
        cursor_pos = len(code) if cursor_pos is None else cursor_pos
        try:
            body, offset = _cell_body(code, "%%python", cursor_pos)
            if body is not None:
                executor = await self._workspace_for_requests()
                reply = await executor.complete(body, cursor_pos - offset) if executor is not None else None
                if reply is not None:
                    reply["cursor_start"] = reply.get("cursor_start", 0) + offset
                    reply["cursor_end"] = reply.get("cursor_end", 0) + offset
                    return reply
            elif _cell_body(code, "%%tool", cursor_pos)[0] is not None:
                return super().do_complete(code, cursor_pos)
            found = directives.complete_directive(code, cursor_pos)
            if found is not None:
                return found
        except Exception:  # completion must never fail the kernel
            self.log.debug("completion failed", exc_info=True)
        return {"matches": [], "cursor_start": cursor_pos, "cursor_end": cursor_pos, "metadata": {}, "status": "ok"}

    async def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()) -> dict[str, Any]:  # type: ignore[override]
        """``%%python`` bodies are inspected in the sibling, ``%%tool`` in the host, directives show their help."""
        empty = {"status": "ok", "found": False, "data": {}, "metadata": {}}
        try:
            body, offset = _cell_body(code, "%%python", cursor_pos)
            if body is not None:
                executor = await self._workspace_for_requests()
                reply = await executor.inspect(body, cursor_pos - offset, detail_level) if executor is not None else None
                return reply if reply is not None else empty
            if _cell_body(code, "%%tool", cursor_pos)[0] is not None:
                return super().do_inspect(code, cursor_pos, detail_level, omit_sections)
            name = code.lstrip().split(None, 1)[0].lstrip("%") if code.lstrip().startswith("%") else ""
            found = directives.DIRECTIVES.get(name)
            if found is not None:
                return {"status": "ok", "found": True, "data": {"text/plain": f"{found.usage}\n    {found.help}"}, "metadata": {}}
        except Exception:  # inspection must never fail the kernel
            self.log.debug("inspection failed", exc_info=True)
        return empty

    async def do_is_complete(self, code: str) -> dict[str, Any]:  # type: ignore[override]
        """Task and directive lines are complete; cell directives' bodies follow Python's rules."""
        if code.lstrip().startswith(("%%python", "%%tool")):
            body = code.partition("\n")[2]
            return super().do_is_complete(body) if body.strip() else {"status": "incomplete", "indent": ""}
        return {"status": "complete"}

    # -- shutdown --------------------------------------------------------------

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:  # type: ignore[override]
        """Stop the sibling kernel (on shutdown and on restart), then shut down as ipykernel does."""
        try:
            await self._close_session()
        except Exception:  # shutting down must go on
            self.log.warning("could not stop the workspace cleanly", exc_info=True)
        return super().do_shutdown(restart)

    async def _close_session(self) -> None:
        closing = self.agent_session.aclose()
        loop = self._main_loop
        running = asyncio.get_running_loop()
        if loop is None or loop is running or loop.is_closed():
            await asyncio.wait_for(closing, SHUTDOWN_TIMEOUT)
            return
        # shutdown_request arrives on the control thread; the executor lives on the main loop
        future = asyncio.run_coroutine_threadsafe(closing, loop)
        await asyncio.wait_for(asyncio.wrap_future(future), SHUTDOWN_TIMEOUT)


def _answer_bundle(result: Any) -> dict[str, Any] | None:
    """The rich display of a successful run's final answer given in another process, if any."""
    if not result.success:
        return None
    final = [step for step in result.steps if isinstance(step, ActionStep) and step.is_final_answer]
    return final[-1].answer_bundle if final else None


def _failure_name(result: Any) -> str:
    """The ``ename`` of a run that ended without an answer."""
    return "MaxStepsReached" if "max_steps" in (result.error or "") else "RunFailed"


def _cell_body(code: str, marker: str, cursor_pos: int) -> tuple[str | None, int]:
    """The body of a ``marker`` cell and its offset, when the cursor is in the body."""
    stripped = code.lstrip()
    if not stripped.startswith(marker):
        return None, 0
    newline = code.find("\n", len(code) - len(stripped))
    if newline == -1 or cursor_pos <= newline:
        return None, 0
    return code[newline + 1:], newline + 1
