"""``KernelExecutor``: generated code runs in a sibling ipykernel, tools stay in the host.

::

    host (agent, tools)                          sibling ipykernel (workspace)
    KernelExecutor.run(code) ── execute_request ──►  code runs, variables persist
         ◄── stream / display_data / execute_result / error (IOPub)
         ◄── input_request  MARKER+{"t": "search", ...}   a tool stub was called
    ToolBridge runs the tool ── input_reply {"ok": ...} ──►  the stub returns

The sibling starts with an allow-listed environment (no API keys), resource
limits (address space, CPU seconds, open files, processes), IPC sockets in a
private 0700 folder, its stderr in a log file, and it dies with the host.

Faults are reported, not raised: a timeout interrupts the execution (and
restarts the kernel if it does not respond to the interrupt); a kernel that
dies (``os._exit``, segfault, memory) is noticed within about half a second,
restarted with the tools re-sent, and the ``CodeOutput`` says the workspace
was lost. A sibling found dead at the start of a run (killed between runs,
or while framework code ran) is restarted the same way, and reported the same.

A final answer that is not JSON arrives as its ``repr`` in ``CodeOutput.output``
with its rich mime bundle in ``CodeOutput.answer_bundle``, from the same
execution. ``complete`` and ``inspect`` ask the sibling for completions and
documentation of code in its workspace.

This is not a security boundary: code in the sibling runs as the host's user
and can read what that user can. Use ``SandboxExecutor`` for untrusted code.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pickle
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from ..exceptions import ConfigurationError, ExecutorError
from ..tools import FinalAnswerTool
from .base import DEFAULT_MAX_OUTPUT_CHARS, CodeOutput, Executor
from ._bounds import MAX_FIELD_CHARS, cap_text
from ._collect import OutputCollector
from ._host_guard import make_host_undumpable, signal_guard
from ._process import KernelProcess, LaunchPlan, describe_exit, still_busy
from .bridge import ToolBridge
from .limits import DEFAULT_ENV_ALLOWLIST, ResourceLimits, SiblingCgroup, make_preexec, sibling_environment

__all__ = ["KernelExecutor"]

POLL_SECONDS = 0.25
"""How often a silent kernel is checked for life (a dead one is noticed within this)."""
_STATUS_EXPRESSION = "__import__('sys').modules['_smolkernel_bridge'].status()"
_USER_CELL = "__import__('sys').modules['_smolkernel_bridge'].user_cell()"
_RESET_CODE = (
    # IPython's %reset runs two full garbage collections (about 30 ms each, most of
    # a pooled task's kernel time); reference counting frees the workspace at once
    # and the generational collector the rest, so they are skipped.
    "def __smolkernel_reset():\n"
    "    import gc\n"
    "    collect, gc.collect = gc.collect, lambda *args, **kwargs: 0\n"
    "    try:\n"
    "        get_ipython().run_line_magic('reset', '-f')\n"
    "    finally:\n"
    "        gc.collect = collect\n"
    "__smolkernel_reset()\n"
)
_LOST_NOTE = "[the kernel had stopped and was restarted: the workspace was lost]\n"
IDLE_GRACE = 1.0
"""Seconds to wait for the idle status after the reply before confirming the end anyway (it may have been dropped)."""
REQUEST_TIMEOUT = 5.0
"""Seconds ``complete`` and ``inspect`` wait by default (for the lock and the reply)."""

MessageHook = Callable[[str, dict[str, Any]], None]
"""Called with ``(msg_type, content)`` for each IOPub message of a run, as it arrives, and
once with ``("execute_reply", content)``; lets a caller forward the run live (``%%python``)."""
InputHook = Callable[[str, bool], Awaitable[str]]
"""Answers an ``input()`` of the code: ``(prompt, password) -> text`` (``"\x04"``: end of file)."""


class KernelExecutor(Executor):
    """Run generated code in a sibling Jupyter kernel; tools are called back in the host.

    Args:
        timeout: seconds one execution may take (None: no limit).
        max_output_chars: logs longer than this are cut with a marker.
        memory_limit_mb: address-space limit of the sibling (None: inherited).
        cpu_seconds: CPU seconds over the sibling's life; past it, it is restarted.
        max_open_files: open file descriptors of the sibling.
        max_processes: processes/threads the sibling may add to its user's.
        allow_pickle: send non-JSON variables and tool results pickled (host to
            sibling only; the host never unpickles sibling data).
        env_allowlist: fnmatch patterns of host environment variables the
            sibling may see (secret-looking names are dropped regardless).
        env: extra variables for the sibling, passed unfiltered.
        python: the interpreter that runs ipykernel (default: this one).
        cwd: the sibling's working directory (default: the host's).
        startup_timeout: seconds the kernel may take to answer after launch.
        interrupt_grace: seconds a timed-out execution has to stop after the
            interrupt before the kernel is restarted.
    """

    name = "kernel"
    runs_ipython = True
    interrupt_mode = "signal"
    fresh_on_reset = False
    """Whether ``reset()`` replaces the process (``SandboxExecutor``) or clears the workspace in place."""

    def __init__(
        self,
        timeout: float | None = 60.0,
        *,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        memory_limit_mb: int | None = 8192,
        cpu_seconds: int | None = 3600,
        max_open_files: int | None = 1024,
        max_processes: int | None = 256,
        allow_pickle: bool = False,
        env_allowlist: Iterable[str] = DEFAULT_ENV_ALLOWLIST,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        cwd: str | None = None,
        startup_timeout: float = 60.0,
        interrupt_grace: float = 2.0,
    ) -> None:
        super().__init__(timeout=timeout, max_output_chars=max_output_chars)
        self.limits = ResourceLimits(memory_limit_mb, cpu_seconds, max_open_files, max_processes)
        self.allow_pickle = allow_pickle
        self.env_allowlist = tuple(env_allowlist)
        self.extra_env = dict(env or {})
        self.python = python
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.interrupt_grace = interrupt_grace
        self.bridge = ToolBridge(allow_pickle=allow_pickle)
        """The host half of the tool bridge (tools, call counter)."""
        self.bridge.set_tools({"final_answer": FinalAnswerTool()})
        self.restarts = 0
        """How many times the sibling was restarted after dying or hanging."""
        self._process: KernelProcess | None = None
        self._lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._install_needed = True
        self._installed_code: str | None = None
        """The stubs the sibling has (what ``_install`` last sent)."""
        self._lost = False  # the sibling died outside run(); the next run reports the workspace lost
        self._msg_id = ""

    # -- lifecycle -----------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The sibling's process id (bubblewrap's for ``sandbox``), or None when stopped."""
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path | None:
        """The file that receives the sibling's stdout/stderr."""
        return self._process.log_path if self._process else None

    def is_alive(self) -> bool:
        """True while the sibling process runs."""
        return self._process is not None and self._process.is_alive()

    def kernel_command(self, connection_file: str, socket_dir: Path) -> list[str]:
        """The argv that starts the sibling (``SandboxExecutor`` wraps it in bubblewrap)."""
        # Jedi's first completion imports and indexes for seconds (22 s measured
        # on a loaded 2-core machine), long past any frontend's patience; IPython's
        # own completer answers names, attributes, keys and paths at once.
        return [self.python, "-m", "ipykernel_launcher", "-f", connection_file, "--quiet", "--IPCompleter.use_jedi=False",
                # no history database: generated code must not land in the user's IPython history
                "--HistoryManager.enabled=False"]

    def sibling_env(self) -> dict[str, str]:
        """The environment the sibling starts with."""
        return sibling_environment(allowlist=self.env_allowlist, extra=self.extra_env)

    def launch_plan(self) -> LaunchPlan:
        """Where the sibling's sockets live (``SandboxExecutor`` keeps them inside the sandbox)."""
        return LaunchPlan()

    def host_guard(self) -> Any:
        """What the sibling runs last before ``exec`` to protect the host (see ``_host_guard``); None: nothing.

        The ``kernel`` sibling may not signal, ptrace or read the memory of the
        host; a sandbox is in its own PID namespace, so it needs none of this.
        """
        make_host_undumpable()
        return signal_guard() if self.interrupt_mode == "signal" else None

    async def start(self) -> None:
        """Start the sibling and install the bridge (idempotent).

        Raises:
            ExecutorError: the kernel could not be started.
        """
        if self._process is not None:
            return
        async with self._start_lock:
            if self._process is not None:
                return
            cgroup = SiblingCgroup.create(self.limits.processes, self.limits.memory_mb)
            process = KernelProcess(
                self.kernel_command,
                env=self.sibling_env(),
                preexec=make_preexec(self.limits, cgroup=cgroup, protect_host=self.host_guard()),
                cgroup=cgroup,
                plan=self.launch_plan(),
                interrupt_mode=self.interrupt_mode,
                cwd=self.cwd,
                startup_timeout=self.startup_timeout,
            )
            await process.start()
            self._process = process
            self._install_needed = True
            await self._install()

    async def close(self) -> None:
        """Stop the sibling and every process it started; the executor can be started again."""
        process, self._process = self._process, None
        if process is not None:
            await process.stop()
        self.bridge.close()

    async def restart(self) -> None:
        """Replace the sibling with a fresh one (workspace lost, tools re-sent)."""
        process, self._process = self._process, None
        if process is not None:
            await process.stop()
        self.restarts += 1
        self._lost = False  # the caller asked for a fresh workspace: nothing left to report
        await self.start()

    async def interrupt(self) -> None:
        """Interrupt the execution in progress (a no-op when idle or stopped)."""
        if self._process is not None:
            await self._process.interrupt()

    # -- tools and variables -------------------------------------------------

    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        """Make ``tools`` (and ``final_answer``) callable from generated code as stubs.

        Values may be ``Tool`` instances, managed agents or other callables;
        they run in the host when the stub is called.
        """
        merged = {"final_answer": FinalAnswerTool(), **dict(tools)}
        self.bridge.set_tools(merged)
        if not self._install_needed and self.bridge.install_code() == self._installed_code:
            return  # the sibling has these very stubs (a pooled kernel lent again): the host half is enough
        self._install_needed = True
        if self.is_alive():  # a dead sibling gets the tools when run() restarts it
            async with self._lock:
                await self._install()

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        """Put ``variables`` into the workspace.

        Values travel as JSON (tuples become lists); with ``allow_pickle=True``
        they travel pickled, so any picklable object keeps its type.

        Raises:
            ConfigurationError: a name is not an identifier, or a value is not
                JSON-serializable and pickling is not allowed.
        """
        if not variables:
            return
        for name in variables:
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigurationError(f"variable name {name!r} is not a Python identifier")
        if self.allow_pickle:
            blob = base64.b64encode(pickle.dumps(dict(variables))).decode("ascii")
            code = f"get_ipython().user_ns.update(__import__('pickle').loads(__import__('base64').b64decode({blob!r})))"
        else:
            try:
                text = json.dumps(dict(variables))
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"send_variables: {exc}; send JSON-safe values, or create the executor with allow_pickle=True"
                ) from None
            code = f"get_ipython().user_ns.update(__import__('json').loads({text!r}))"
        await self.start()
        async with self._lock:
            await self._internal(code)

    async def reset(self) -> None:
        """Forget the workspace's variables and imports; tools stay (much cheaper than a restart).

        For the same user's next task only: the process stays, so threads the
        code left running, modules it patched, files it wrote and descriptors
        it opened survive. Across tenants use ``restart()`` (or
        ``SandboxExecutor``, whose ``reset()`` is a fresh sandbox).
        """
        if self.fresh_on_reset:
            await self.restart()
            self.restarts -= 1  # asked for, not a fault
            return
        await self.start()
        async with self._lock:
            await self._internal(_RESET_CODE +
                "import sys as _s\n"
                "_m = _s.modules.get('matplotlib.pyplot')\n"
                "_m and _m.close('all')\n"
                "_s.modules['_smolkernel_bridge']._repair()\n"
                "get_ipython().user_ns['ToolError'] = _s.modules['_smolkernel_bridge'].ToolError\n"
                "del _s, _m\n"
            )

    async def _install(self) -> None:
        """Send the bridge and the current stubs in one silent execution."""
        code = self.bridge.install_code()
        await self._internal(code)
        self._installed_code = code
        self._install_needed = False

    async def _internal(self, code: str) -> None:
        """Run framework code silently.

        Raises:
            ExecutorError: the code failed or the kernel died (it is restarted).
        """
        result, state = await self._execute(code, timeout=max(self.startup_timeout, 30.0), internal=True)
        if state != "ok":
            process, self._process = self._process, None
            if process is not None:
                await process.stop()
            self._lost = True
            raise ExecutorError(f"the sibling kernel {'died' if state == 'died' else 'did not answer'} while running framework code")
        if result.error:
            raise ExecutorError(f"the sibling kernel rejected framework code: {result.error}")

    # -- running code --------------------------------------------------------

    async def run(self, code: str, *, on_message: MessageHook | None = None, on_input: InputHook | None = None) -> CodeOutput:
        """Run ``code`` in the sibling's workspace and report what happened.

        Tool calls are served while the code runs. Timeouts, a dying kernel
        and tool errors are reported in the result, not raised. ``on_message``
        sees every message of the run as it arrives. With ``on_input`` the
        code runs as the user's own: its ``input()`` is answered by
        ``on_input`` (the wait does not count toward the timeout) and errors
        keep IPython's full traceback; without it ``input()`` raises.

        Raises:
            ExecutorError: only when the sibling cannot be (re)started.
        """
        await self.start()
        async with self._lock:
            lost = await self._revive_locked()
            if on_input is not None:  # the user's own code (%%python): input() and tracebacks as in Python
                await self._internal(_USER_CELL)
            oom_before = self._oom_kills()
            result, state = await self._execute(code, timeout=self.timeout, on_message=on_message, on_input=on_input)
            oom = self._oom_kills() - oom_before
            if oom:
                result.error = (result.error + "\n" if result.error else "") + (
                    f"MemoryLimit: the code exceeded the memory limit ({self.limits.memory_mb} MiB for all of its processes "
                    f"and temporary files together); Linux killed {oom} process(es)")
            if state != "ok":
                await self._recover(result, state)
            if lost:
                result.workspace_lost = True
                result.logs = _LOST_NOTE + result.logs
            return result

    async def _revive_locked(self) -> bool:
        """Before a run: restart a sibling that died since the last one, reinstall the bridge if needed.

        Returns True when the workspace was lost, however the death was noticed
        (now, or earlier while framework code ran).

        Raises:
            ExecutorError: the sibling cannot be restarted, or rejected the bridge.
        """
        lost, self._lost = self._lost, False
        if lost:
            self.restarts += 1  # start() already replaced the sibling that died under framework code
        if not self.is_alive():
            lost = True
            await self._restart_locked()
        if self._install_needed:
            try:
                await self._install()
            except ExecutorError:
                if self._process is not None:  # alive, but it rejected the bridge
                    raise
                lost, self._lost = True, False  # it died while the bridge was installed: once more
                await self._restart_locked()
        return lost

    def _oom_kills(self) -> int:
        """Processes of the sibling killed for exceeding its memory cgroup so far (0 without a cgroup)."""
        counter = getattr(self._process, "oom_kills", None)  # transports without a cgroup have none
        return counter() if counter is not None else 0

    async def _recover(self, result: CodeOutput, state: str) -> None:
        """After a timeout or a death: make the kernel usable again and say what happened."""
        oom = result.error if result.error and result.error.startswith("MemoryLimit") else None
        if state == "timeout":
            running = self.bridge.abandoned_calls()
            result.error = f"ExecutionTimeout: the code timed out after {self.timeout:g} s and was interrupted" + \
                (f"; tool calls still running in the host, left to finish: {', '.join(running)}" if running else "")
            if await self._settle_after_interrupt():
                if not await asyncio.to_thread(still_busy, self._process.pid):
                    return
                result.error += "; threads it started kept running, so the kernel was restarted and the workspace was lost"
            else:
                result.error += "; the kernel did not stop, so it was restarted and the workspace was lost"
        else:
            code = self._process.returncode() if self._process else None
            result.error = f"ExecutorDied: the kernel died while running the code ({describe_exit(code)}); " \
                           "it was restarted and the workspace was lost: variables and imports must be recreated"
        if oom:
            result.error = oom + "\n" + result.error
        result.workspace_lost = True
        await self._restart_locked()

    async def _restart_locked(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            await process.stop()
        self.restarts += 1
        await self.start()

    async def _settle_after_interrupt(self) -> bool:
        """Interrupt, then wait for the execution to end; False when the kernel did not stop."""
        try:
            await self._process.interrupt()
        except Exception:  # interrupt failed: treat as hung
            return False
        _, state = await self._execute(None, timeout=self.interrupt_grace, internal=True)
        return state == "ok"

    async def _execute(
        self, code: str | None, *, timeout: float | None, internal: bool = False,
        on_message: MessageHook | None = None, on_input: InputHook | None = None,
    ) -> tuple[CodeOutput, str]:
        """Send ``code`` (None: keep waiting for the previous one) and serve it until it is done.

        Returns the output and a state: ``ok``, ``timeout`` or ``died``.
        """
        client = self._process.client
        if code is not None:
            self.bridge.final_answer = None
            self._msg_id = client.execute(
                code,
                silent=internal,
                store_history=not internal,
                user_expressions=None if internal else {"sk": _STATUS_EXPRESSION},
                allow_stdin=True,
                stop_on_error=False,
            )
        waiter = self._new_waiter(self._msg_id)
        waiter.on_message, waiter.on_input = on_message, on_input  # hooks for %%python, whatever the transport
        started = time.perf_counter()
        state = await waiter.wait(timeout)
        output = waiter.collector.to_output(time.perf_counter() - started)
        output.output, output.error = cap_text(output.output), cap_text(output.error)
        if not internal and waiter.bridge_status not in (None, "'ok'"):
            self._install_needed = True
        if self.bridge.final_answer is None:
            output.answer_bundle = None  # only a final answer recorded by the host has a display
        else:
            output.output = self.bridge.final_answer[0]
            output.is_final_answer = True
            if output.error:  # the code caught the final-answer signal, then raised: the answer stands
                output.logs += "\n[after final_answer, the code raised an error; the answer stands]\n" + \
                    cap_text(output.error, MAX_FIELD_CHARS // 10)
            output.error = None
        return output, state

    def _new_waiter(self, msg_id: str) -> _ExecutionWaiter:
        """The reader of one execution's messages (transports other than ZMQ override it)."""
        return _ExecutionWaiter(self, msg_id, self.max_output_chars)

    # -- completion and inspection ---------------------------------------------

    async def complete(self, code: str, cursor_pos: int, *, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """Complete ``code`` at ``cursor_pos`` in the workspace, as a Python cell would.

        Returns the ``complete_reply`` content (``matches``, ``cursor_start``,
        ``cursor_end``...); never None: when the sibling is not running or did
        not answer within ``timeout`` seconds (a running execution is waited
        for: requests take turns with runs) the reply has no matches and
        ``status`` ``"error"`` with the reason in ``evalue``.
        """
        reply = await self._request("complete", timeout, code, cursor_pos)
        if isinstance(reply, str):
            return {"status": "error", "ename": "Unavailable", "evalue": reply, "matches": [], "cursor_start": cursor_pos, "cursor_end": cursor_pos, "metadata": {}}
        return reply

    async def inspect(self, code: str, cursor_pos: int, detail_level: int = 0, *, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """Inspect the object at ``cursor_pos`` in the workspace (Shift-Tab).

        Returns the ``inspect_reply`` content (``found``, ``data``...); never
        None: like :meth:`complete`, an unavailable workspace gives
        ``found: False`` with ``status`` ``"error"`` and the reason.
        """
        reply = await self._request("inspect", timeout, code, cursor_pos, detail_level)
        if isinstance(reply, str):
            return {"status": "error", "ename": "Unavailable", "evalue": reply, "found": False, "data": {}, "metadata": {}}
        return reply

    async def _request(self, kind: str, timeout: float, *args: Any) -> dict[str, Any] | str:
        """Send one shell request under the lock: its reply content, or why there is none."""
        if not self.is_alive():
            return "the workspace is not running"
        try:
            reply = await asyncio.wait_for(self._request_locked(kind, *args), timeout)
        except asyncio.TimeoutError:  # a late reply is skipped by later waits (its msg_id is not theirs)
            return f"no reply within {timeout:g}s (the workspace is busy)"
        return reply if reply is not None else "the workspace stopped"

    async def _request_locked(self, kind: str, *args: Any) -> dict[str, Any] | None:
        async with self._lock:
            if not self.is_alive():
                return None
            client = self._process.client
            msg_id = getattr(client, kind)(*args)
            while True:
                reply = await client.get_shell_msg()
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    return reply["content"]


class _ExecutionWaiter:
    """Reads the three channels of one execution until its reply and idle status arrive."""

    def __init__(self, executor: KernelExecutor, msg_id: str, max_output_chars: int) -> None:
        self.executor = executor
        self.on_message: MessageHook | None = None
        """Sees each message of the execution as it arrives (set by ``run``)."""
        self.on_input: InputHook | None = None
        """Answers the code's own ``input()`` (set by ``run``); None: end of file."""
        self.deadline: float | None = None
        self.process = executor._process
        self.client = self.process.client
        self.msg_id = msg_id
        self.collector = OutputCollector(max_output_chars)
        self.bridge_status: str | None = None
        self.idle = False
        self.replied = False
        self.probe_id: str | None = None
        self.confirmed = False
        self.replied_at = 0.0

    async def wait(self, timeout: float | None) -> str:
        """Return ``ok``, ``timeout`` or ``died``."""
        client = self.client
        channels = {
            client.iopub_channel.socket: self._on_iopub,
            client.stdin_channel.socket: self._on_stdin,
            client.shell_channel.socket: self._on_shell,
        }
        poller = zmq.asyncio.Poller()
        for socket in channels:
            poller.register(socket, zmq.POLLIN)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        while not self.confirmed:
            if self.replied and self.probe_id is None and (self.idle or time.monotonic() - self.replied_at > IDLE_GRACE):
                # the code holds the kernel's key and can forge a reply and an idle status; a request
                # sent now is answered only once the kernel really finished the execution
                self.probe_id = client.kernel_info()
            deadline = self.deadline  # moved on while the user answered an input()
            remaining = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            if remaining <= 0:
                return "timeout"
            events = await poller.poll(remaining * 1000)
            if not events:
                if not self.process.is_alive():
                    return "died"
                continue
            for socket, _ in events:
                handler = channels[socket]
                while await socket.poll(0):
                    message = await _receive(client, socket)
                    if message is not None and _parent_id(message) in (self.msg_id, self.probe_id):
                        try:
                            outcome = await handler(message, self.deadline)
                        except (AttributeError, KeyError, TypeError, ValueError):  # a malformed (forged) message
                            continue
                        if outcome == "timeout":
                            return "timeout"
        return "ok"

    async def _on_iopub(self, message: dict[str, Any], deadline: float | None) -> None:
        msg_type = message["header"]["msg_type"]
        if _parent_id(message) != self.msg_id:
            return
        if msg_type == "status":
            self.idle = message["content"].get("execution_state") == "idle"
        else:
            self.collector.feed(msg_type, message["content"])
            if self.on_message is not None:
                self.on_message(msg_type, message["content"])

    async def _on_shell(self, message: dict[str, Any], deadline: float | None) -> None:
        if _parent_id(message) == self.probe_id:
            self.confirmed = message["header"]["msg_type"] == "kernel_info_reply"
            return
        if message["header"]["msg_type"] == "execute_reply":
            self.replied, self.replied_at = True, time.monotonic()
            if self.on_message is not None:
                self.on_message("execute_reply", message["content"])
            status = message["content"].get("user_expressions", {}).get("sk")
            if status is not None:
                self.bridge_status = status.get("data", {}).get("text/plain", status.get("ename"))

    async def _on_stdin(self, message: dict[str, Any], deadline: float | None) -> str | None:
        if message["header"]["msg_type"] != "input_request":
            return None
        prompt = message["content"].get("prompt", "")
        bridge = self.executor.bridge
        if not bridge.owns(prompt):
            self.client.input(await self._ask_user(prompt, bool(message["content"].get("password"))))
            return None
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.001)
        try:
            reply = await asyncio.wait_for(bridge.handle(prompt), remaining)
        except asyncio.TimeoutError:
            return "timeout"
        self.client.input(reply)
        return None

    async def _ask_user(self, prompt: str, password: bool) -> str:
        """The answer to the code's own ``input()``: from ``on_input`` (timeout paused), else end-of-file."""
        if self.on_input is None:
            self.collector.logs.add("[input() is not available to generated code; it received end-of-file]\n")
            return "\x04"
        began = time.monotonic()
        try:
            return await self.on_input(prompt, password)
        finally:
            if self.deadline is not None:
                self.deadline += time.monotonic() - began


def _parent_id(message: dict[str, Any]) -> Any:
    parent = message.get("parent_header")
    return parent.get("msg_id") if isinstance(parent, dict) else None


async def _receive(client: Any, socket: zmq.asyncio.Socket) -> dict[str, Any] | None:
    """One message from ``socket``, deserialized and signature-checked (None if invalid)."""
    frames = await socket.recv_multipart()
    try:
        _, frames = client.session.feed_identities(frames)
        return client.session.deserialize(frames)
    except Exception:  # a message that fails the signature check is dropped
        return None
