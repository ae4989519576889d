"""``LocalExecutor``: run generated code in this process, in a namespace dict.

Trusted code only, not a security boundary. The code runs in the same
process as the notebook or the agent, with the same memory, files and
network access. An AST check and restricted builtins (see ``_local_guard``)
stop the common accidents and naive escapes and turn them into errors the
model can read, but the modules it may import can reach further (numpy and
pandas read and write files; allowed modules hold references to others), and
a stop request cannot interrupt code blocked in C. For code you do not trust,
use the ``sandbox`` executor.

How a run works: the code is parsed and checked, then compiled like a
notebook cell (every statement with ``exec``, a final expression with
``eval`` so its value becomes ``CodeOutput.output``) and run in a daemon
worker thread, reused from run to run (``_local_threads``). Output printed
by that thread is captured per thread (``_local_capture``), so other threads
of the notebook keep their output.
On timeout or ``interrupt()`` an exception is raised inside the worker with
``PyThreadState_SetAsyncExc``; Python code stops at its next bytecode, but a
call blocked in C (``time.sleep``, a long numpy operation, a socket read)
only stops when that call returns, and code that catches ``BaseException``
in a loop can keep catching the repeated stop. If it does not stop within a grace period,
``run`` returns the timeout error anyway and the thread is left to finish in
the background, sharing the namespace with later runs.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import ctypes
import functools
import linecache
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count
from types import CodeType
from typing import TYPE_CHECKING, Any, ClassVar

from .._async import within
from ..tools.final_answer import FinalAnswer, FinalAnswerTool
from . import _local_threads
from ._local_capture import LogBuffer, capture_thread_output, capturing_print
from ._local_guard import DEFAULT_ALLOWED_IMPORTS, ImportPolicy, build_builtins, find_violations
from .base import DEFAULT_MAX_OUTPUT_CHARS, CodeOutput, Executor

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["LocalExecutor", "DEFAULT_ALLOWED_IMPORTS"]

_FILENAME_PREFIX = "<smolkernel-local-"
_STOP_GRACE_SECONDS = 1.0
_REINJECT_EVERY = 0.05
_run_numbers = count(1)
_SOURCES_KEPT = 200
"""linecache keeps the source of this many recent runs (tracebacks of functions they defined)."""
_recent_sources: deque[str] = deque()
_MISSING = object()


class _ExecutionStopped(BaseException):
    """Raised inside the worker thread to stop generated code (timeout or interrupt).

    A ``BaseException``, like ``KeyboardInterrupt``, so ``except Exception`` in
    generated code does not swallow it; a bare ``except:`` might, so the stop
    request repeats it until the code gives up or the grace period ends.
    """


def _set_async_exc(thread_id: int, exc_type: type[BaseException] | None) -> int:
    """Schedule ``exc_type`` in thread ``thread_id`` (``None`` clears a pending one)."""
    payload = ctypes.py_object(exc_type) if exc_type is not None else None
    return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), payload)


@dataclass
class _Job:
    """One execution: the compiled code and the state shared with its worker thread."""

    filename: str
    body: CodeType
    last: CodeType | None
    buffer: LogBuffer
    future: asyncio.Future[CodeOutput]
    loop: asyncio.AbstractEventLoop
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread_id: int | None = None
    running: bool = False
    """True while generated code runs; stop requests only inject an exception then."""
    stop_reason: str | None = None
    """Why the run is being stopped (first request wins), or None."""

    def request_stop(self, reason: str) -> None:
        """Record ``reason`` and raise ``_ExecutionStopped`` in the worker if code is running."""
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            if self.running and self.thread_id is not None:
                _set_async_exc(self.thread_id, _ExecutionStopped)

    def deliver(self, outcome: CodeOutput) -> None:
        """Hand ``outcome`` to the waiting coroutine (thread-safe; ignored if it gave up)."""

        def _set() -> None:
            if not self.future.done():
                self.future.set_result(outcome)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(_set)


class LocalExecutor(Executor):
    """Runs generated code in this process, in a namespace dict.

    Trusted code only, not a security boundary: the code shares this
    process's memory, files and network; the AST check and import allow-list
    catch accidents and naive escapes, not a determined attacker, and code
    blocked in C cannot be interrupted. Use the ``sandbox`` executor for
    untrusted code.

    Args:
        namespace: the dict the code runs in. By default a fresh one; the
            ``%%agent`` magics pass the notebook's namespace, so the agent
            reads the user's variables and leaves its own there.
        timeout: seconds one execution may take (None: no limit).
        additional_imports: modules to allow on top of ``DEFAULT_ALLOWED_IMPORTS``
            (submodules included); ``"*"`` allows every module.
        allow_open: let the code call ``open``.
        allow_dynamic: let the code use ``eval``, ``exec``, ``compile``,
            ``__import__``, ``globals``, ``locals`` and ``vars``. Strings given
            to ``eval``/``exec`` get the same AST check; code objects do not.
        max_output_chars: logs longer than this are cut, with a marker.
        import_hint: how a refused import can be allowed, in the words of the
            place the executor was configured (``{module}`` is filled in); by
            default the ``additional_imports=`` argument above.
    """

    name: ClassVar[str] = "local"

    def __init__(
        self,
        namespace: dict[str, Any] | None = None,
        *,
        timeout: float | None = 60.0,
        additional_imports: Iterable[str] = (),
        allow_open: bool = False,
        allow_dynamic: bool = False,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        import_hint: str | None = None,
    ):
        super().__init__(timeout=timeout, max_output_chars=max_output_chars)
        self._owns_namespace = namespace is None
        self.namespace: dict[str, Any] = {"__name__": "__main__"} if namespace is None else namespace
        """The dict the code runs in (the user's own, when one was given)."""
        self._baseline = set(self.namespace)
        self.allow_open = allow_open
        self.allow_dynamic = allow_dynamic
        self.imports = ImportPolicy(additional_imports, hint=import_hint)
        """The import allow-list in force."""
        self._builtins = build_builtins(
            policy=self.imports, print_function=capturing_print, allow_open=allow_open, allow_dynamic=allow_dynamic
        )
        self._tools: dict[str, Tool] = {"final_answer": FinalAnswerTool()}
        self._job: _Job | None = None

    # -- the Executor interface ---------------------------------------------

    @property
    def allowed_imports(self) -> frozenset[str] | None:
        """The import allow-list (None when ``"*"`` allows everything)."""
        return None if self.imports.allow_all else self.imports.allowed

    async def run(self, code: str) -> CodeOutput:
        """Check and run ``code``; return its output, logs and error (never raises for code errors)."""
        started = time.perf_counter()
        job_or_error = self._prepare(code, asyncio.get_running_loop())
        if isinstance(job_or_error, CodeOutput):
            job_or_error.duration = time.perf_counter() - started
            return job_or_error
        job = self._job = job_or_error
        # the run's context (its span, the active metrics) goes along to the thread
        context = contextvars.copy_context()
        _local_threads.submit(functools.partial(context.run, self._thread_main, job))
        try:
            outcome = await within(asyncio.shield(job.future), self.timeout)
        except asyncio.TimeoutError:
            outcome = await self._stop(job, f"Execution timed out after {self.timeout:g} s")
        except asyncio.CancelledError:
            job.request_stop("Execution cancelled")
            raise
        finally:
            if self._job is job:
                self._job = None
        outcome.duration = time.perf_counter() - started
        return outcome

    async def send_tools(self, tools: Mapping[str, Tool]) -> None:
        """Make ``tools`` callable by name (``final_answer`` is always there).

        In a namespace of our own the tools are ordinary names. In the user's
        namespace (the magics) they are visible to the code as builtins, so
        ``final_answer`` and managed agents do not leak into the user's
        variables (their own ``@tool`` functions are there already).
        """
        self._tools.update(tools)
        self._publish_tools()

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        """Put ``variables`` into the namespace."""
        self.namespace.update(variables)

    async def interrupt(self) -> None:
        """Stop the execution in progress, if any; it returns "Execution interrupted"."""
        job = self._job
        if job is not None:
            await self._stop(job, "Execution interrupted")

    async def reset(self) -> None:
        """Forget variables, keep tools.

        With a namespace of your own, only names added since the executor was
        created are removed; your variables stay (values the agent changed are
        not restored).
        """
        if self._owns_namespace:
            self.namespace.clear()
            self.namespace["__name__"] = "__main__"
        else:
            for name in [n for n in self.namespace if n not in self._baseline]:
                del self.namespace[name]
        self._publish_tools()

    def _publish_tools(self) -> None:
        """Make the tools reachable by name from the code (see :meth:`send_tools`)."""
        if self._owns_namespace:
            self.namespace.update(self._tools)
        else:
            self._builtins.update(self._tools)

    async def close(self) -> None:
        """Stop a running execution; the namespace and tools stay, so it may be used again."""
        await self.interrupt()

    # -- preparing -------------------------------------------------------------

    def _prepare(self, code: str, loop: asyncio.AbstractEventLoop) -> _Job | CodeOutput:
        """Parse, check and compile ``code``; a CodeOutput with the error if it cannot run."""
        filename = f"{_FILENAME_PREFIX}{next(_run_numbers)}>"
        lines = code.splitlines(keepends=True)
        linecache.cache[filename] = (len(code), None, lines, filename)  # tracebacks show the source
        _recent_sources.append(filename)
        while len(_recent_sources) > _SOURCES_KEPT:  # bounded: a long notebook session must not grow forever
            linecache.cache.pop(_recent_sources.popleft(), None)
        try:
            tree = ast.parse(code, filename=filename)
        except SyntaxError as exc:
            where = _describe_line(exc.lineno, exc.text or _line(lines, exc.lineno))
            return CodeOutput(error=f"{where}{type(exc).__name__}: {exc.msg}\nThe code was not run.")
        violations = find_violations(tree, allow_open=self.allow_open, allow_dynamic=self.allow_dynamic)
        if violations:
            first, rest = violations[0], violations[1:]
            text = f"{_describe_line(first.lineno, _line(lines, first.lineno))}Not allowed: {first.message}"
            for other in rest[:4]:
                text += f"\nAlso line {other.lineno}: {other.message}"
            return CodeOutput(error=f"{text}\nThe code was not run (trusted-code guard of the local executor).")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = compile(ast.Expression(tree.body.pop().value), filename, "eval", dont_inherit=True)
        body = compile(tree, filename, "exec", dont_inherit=True)
        return _Job(filename, body, last, LogBuffer(self.max_output_chars), loop.create_future(), loop)

    # -- running (in the worker thread) ---------------------------------------

    def _thread_main(self, job: _Job) -> None:
        """Worker thread: run the job with output captured, then deliver the outcome."""
        job.thread_id = threading.get_ident()
        try:
            with capture_thread_output(job.buffer):
                outcome = self._execute(job)
        except BaseException as exc:  # never let the worker die silently
            outcome = CodeOutput(error=f"LocalExecutor internal error: {type(exc).__name__}: {exc}")
        outcome.logs = job.buffer.getvalue()
        job.deliver(outcome)

    def _execute(self, job: _Job) -> CodeOutput:
        """Run the compiled code in the namespace; turn what happens into a CodeOutput."""
        ns = self.namespace
        previous = ns.get("__builtins__", _MISSING)
        ns["__builtins__"] = self._builtins
        self._publish_tools()  # repairs a tool the previous code overwrote
        try:
            try:
                with job.lock:
                    job.running = True
                    if job.stop_reason is not None:
                        raise _ExecutionStopped
                exec(job.body, ns)
                value = eval(job.last, ns) if job.last is not None else None
            finally:
                # Stop accepting stop requests and clear one still pending; the loop
                # catches a stop that lands while doing so (it may fire at any bytecode).
                while True:
                    try:
                        with job.lock:
                            job.running = False
                        _set_async_exc(job.thread_id or 0, None)
                        break
                    except _ExecutionStopped:
                        continue
            return CodeOutput(output=value)
        except FinalAnswer as answer:
            return CodeOutput(output=answer.value, is_final_answer=True)
        except _ExecutionStopped:
            return CodeOutput(error=job.stop_reason or "Execution interrupted")
        except BaseException as exc:
            return CodeOutput(error=_format_exception(exc))
        finally:
            if not self._owns_namespace:
                if previous is _MISSING:
                    ns.pop("__builtins__", None)
                else:
                    ns["__builtins__"] = previous

    async def _stop(self, job: _Job, reason: str) -> CodeOutput:
        """Stop ``job``'s code; return its outcome, or ``reason`` if it will not stop in time."""
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        while not job.future.done() and time.monotonic() < deadline:
            job.request_stop(reason)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(job.future), _REINJECT_EVERY)
        if job.future.done():
            return job.future.result()
        return CodeOutput(
            error=f"{job.stop_reason or reason}. The code did not stop (it is blocked in C code, e.g. time.sleep) "
            "and keeps running in the background; its later effects on variables may still appear.",
            logs=job.buffer.getvalue(),
        )


def _line(lines: list[str], lineno: int | None) -> str:
    """Line ``lineno`` (1-based) of ``lines``, or ''."""
    if lineno is None or not 1 <= lineno <= len(lines):
        return ""
    return lines[lineno - 1]


def _describe_line(lineno: int | None, source: str | None) -> str:
    """``"Error on line 3: `y = x / 0`\\n"``, or ``""`` when the line is unknown."""
    if not lineno:
        return ""
    source = (source or "").strip()
    return f"Error on line {lineno}: `{source}`\n" if source else f"Error on line {lineno}\n"


def _format_exception(exc: BaseException) -> str:
    """A readable error: the innermost line of generated code involved, then type and message."""
    lineno = None
    source = ""
    for frame, frame_lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith(_FILENAME_PREFIX):
            lineno, source = frame_lineno, linecache.getline(filename, frame_lineno)
    message = str(exc)
    text = f"{_describe_line(lineno, source)}{type(exc).__name__}: {message}" if message else f"{_describe_line(lineno, source)}{type(exc).__name__}"
    for note in getattr(exc, "__notes__", ()) or ():
        text += f"\n{note}"
    return text
