"""``WasmExecutor``: generated code runs in CPython compiled to WebAssembly (Pyodide) under Deno.

::

    host (agent, tools)                         deno (only --allow-read of the Pyodide files)
    WasmExecutor.run(code) ── {"op": "run"} ──►  Pyodide runs the cell, workspace persists
         ◄── {"op": "stream"} output lines
         ◄── {"op": "call"} a tool stub was called; it blocks until ──
    ToolBridge runs the tool ── {"op": "reply"} ──►  the stub returns
         ◄── {"op": "done"} value of the last expression, error, final answer

Deno is given read access to the Pyodide folder and the runner script and
nothing else: no network, no environment, no subprocesses, no writes, no
prompts. WebAssembly memory is capped (``memory_limit_mb``: allocation past it
raises ``MemoryError`` inside), and so is the JavaScript heap. A timeout kills
the runtime and starts a fresh one (the step says the workspace was lost), as
does a runtime that dies. Imports are what the Pyodide distribution ships
offline (the standard library); others fail with an error naming that limit.

The runtime (the npm packages ``pyodide`` and ``deno``) is installed by the
project's ``make wasm`` (``npm ci`` in ``wasm/``); elsewhere point
``$SMOLKERNEL_WASM_RUNTIME`` at a folder where ``npm ci`` ran with the same
``package.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, ExecutorError
from ..tools import FinalAnswerTool
from .base import DEFAULT_MAX_OUTPUT_CHARS, CodeOutput, Executor, truncate
from .bridge import ToolBridge

__all__ = ["WasmExecutor", "find_runtime"]

RUNTIME_ENV = "SMOLKERNEL_WASM_RUNTIME"
_HERE = Path(__file__).resolve().parent
_LOST = "the runtime was restarted and the workspace was lost: variables and imports must be recreated"
MAX_LINE = 64 * 2**20
"""Longest protocol line accepted from the runtime (bytes)."""


def find_runtime(folder: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """The Deno executable and the Pyodide folder.

    Looks in ``folder`` when given, else in ``$SMOLKERNEL_WASM_RUNTIME`` when set, else in the project's ``wasm/``.

    Raises:
        ConfigurationError: no runtime is installed there; says how to install one.
    """
    candidate = Path(folder or os.environ.get(RUNTIME_ENV) or _HERE.parent.parent / "wasm")
    modules = candidate / "node_modules"
    deno = next((p for p in (modules / "deno" / "deno", *sorted(modules.glob("@deno/*/deno"))) if p.is_file()), None)
    pyodide = modules / "pyodide"
    if deno is not None and (pyodide / "pyodide.mjs").is_file():
        return deno, pyodide
    raise ConfigurationError(
        f"the 'wasm' executor needs the npm packages pyodide and deno, not found in {candidate}: run `make wasm` "
        f"in the smolkernel checkout (npm ci in wasm/), or `npm ci` with its package.json elsewhere and set ${RUNTIME_ENV} "
        "to that folder")


class WasmExecutor(Executor):
    """Run generated code in Pyodide under Deno, sandboxed by Deno's permissions.

    Args:
        timeout: seconds one execution may take; past it the runtime is killed and restarted.
        memory_limit_mb: WebAssembly memory cap (and JavaScript heap cap) of the runtime.
        max_output_chars: logs longer than this are cut with a marker.
        runtime: a folder where ``npm ci`` installed the runtime (default: see ``find_runtime``).
        startup_timeout: seconds the runtime may take to load.
    """

    name = "wasm"

    def __init__(self, timeout: float | None = 60.0, *, memory_limit_mb: int = 1024,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS, runtime: str | None = None,
                 startup_timeout: float = 120.0) -> None:
        super().__init__(timeout=timeout, max_output_chars=max_output_chars)
        self.memory_limit_mb = memory_limit_mb
        self.runtime = runtime
        self.startup_timeout = startup_timeout
        self.bridge = ToolBridge()
        self.bridge.set_tools({"final_answer": FinalAnswerTool()})
        self.restarts = 0
        """How many times the runtime was restarted after a timeout or a death."""
        self._process: asyncio.subprocess.Process | None = None
        self._home: Path | None = None
        self._lock = asyncio.Lock()
        self._lost = False

    # -- lifecycle -----------------------------------------------------------

    def is_alive(self) -> bool:
        """True while the Deno process runs."""
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """The Deno process id, or None when stopped."""
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        """The Deno argv: read access to the Pyodide folder and the runner, nothing else."""
        deno, pyodide = find_runtime(self.runtime)
        pages = max(self.memory_limit_mb * 16, 256)  # 64 KiB WebAssembly pages
        v8 = f"--max-old-space-size={max(self.memory_limit_mb // 2, 128)},--wasm-max-mem-pages={pages}"
        return [str(deno), "run", "--no-prompt", "--no-remote", "--no-config", "--no-lock", "--no-npm",
                "--unstable-detect-cjs", f"--allow-read={pyodide},{_HERE / 'wasm_runner.mjs'}", f"--v8-flags={v8}",
                str(_HERE / "wasm_runner.mjs"), f"{pyodide}/"]

    async def start(self) -> None:
        """Start Deno, load Pyodide and install the tool stubs (idempotent).

        Raises:
            ConfigurationError: the runtime is not installed.
            ExecutorError: it did not start (the message quotes its error output).
        """
        if self.is_alive():
            return
        command = self.command()
        self._home = Path(tempfile.mkdtemp(prefix="smolkernel-wasm-"))
        env = {"DENO_DIR": str(self._home / "deno"), "HOME": str(self._home), "NO_COLOR": "1",
               "DENO_NO_UPDATE_CHECK": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self._process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=open(self._home / "runtime.log", "wb"), env=env, limit=MAX_LINE)  # noqa: SIM115
        try:
            prelude = (_HERE / "_wasm_prelude.py").read_text(encoding="utf-8")
            self._send({"op": "init", "prelude": prelude})
            await asyncio.wait_for(self._wait_ready(), self.startup_timeout)
            await self._install()
        except (asyncio.TimeoutError, ExecutorError, OSError) as exc:
            log = self._read_log()
            await self._stop()
            raise ExecutorError(f"the wasm runtime did not start: {exc or 'timed out'}\n{log}".rstrip()) from None

    async def _wait_ready(self) -> None:
        while True:
            message = await self._next_message()
            if message is None:
                raise ExecutorError("the runtime exited")
            if message.get("op") == "ready":
                return

    async def close(self) -> None:
        """Stop the runtime and remove its private folder; the executor can be started again."""
        await self._stop()
        self.bridge.close()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
        if process is not None:
            await process.wait()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    async def _restart(self) -> None:
        await self._stop()
        self.restarts += 1
        await self.start()

    def _read_log(self) -> str:
        try:
            return (self._home / "runtime.log").read_text(errors="replace")[-2000:] if self._home else ""
        except OSError:
            return ""

    # -- tools, variables, reset ---------------------------------------------

    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        """Make ``tools`` (and ``final_answer``) callable from generated code as synchronous stubs."""
        self.bridge.set_tools({"final_answer": FinalAnswerTool(), **dict(tools)})
        if self.is_alive():
            async with self._lock:
                await self._install()

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        """Put ``variables`` (JSON values) into the workspace.

        Raises:
            ConfigurationError: a name is not an identifier or a value is not JSON-serializable.
        """
        if not variables:
            return
        for name in variables:
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigurationError(f"variable name {name!r} is not a Python identifier")
        try:
            text = json.dumps(dict(variables))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"send_variables: {exc}; the wasm executor takes JSON-safe values") from None
        await self.start()
        async with self._lock:
            await self._internal(f"set_variables(json.loads({text!r}))")

    async def reset(self) -> None:
        """Forget the workspace's variables; tools stay."""
        await self.start()
        async with self._lock:
            await self._internal("reset()")

    async def _install(self) -> None:
        await self._internal(f"install(json.loads({json.dumps(self.bridge.stub_specs())!r}))")

    async def _internal(self, code: str) -> None:
        result, state = await self._execute(code, timeout=max(self.startup_timeout, 30.0), internal=True)
        if state != "ok" or result.error:
            raise ExecutorError(f"the wasm runtime failed framework code: {result.error or state}")

    # -- running code --------------------------------------------------------

    async def run(self, code: str) -> CodeOutput:
        """Run ``code`` in the workspace; timeouts and deaths are reported in the result.

        Raises:
            ExecutorError: only when the runtime cannot be (re)started.
        """
        await self.start()
        async with self._lock:
            lost, self._lost = self._lost, False
            if not self.is_alive():
                lost = True
                await self._restart()
            result, state = await self._execute(code, timeout=self.timeout)
            if state == "timeout":
                result.error = f"ExecutionTimeout: the code timed out after {self.timeout:g} s; {_LOST}"
            elif state == "died":
                result.error = f"ExecutorDied: the wasm runtime stopped while running the code; {_LOST}"
            if state != "ok":
                result.workspace_lost = True
                await self._restart()
            elif lost:
                result.workspace_lost = True
                result.logs = f"[the runtime had stopped and was restarted: {_LOST}]\n" + result.logs
            return result

    async def _execute(self, code: str, *, timeout: float | None, internal: bool = False) -> tuple[CodeOutput, str]:
        """Send one cell and serve its tool calls until it is done: (output, ``ok`` | ``timeout`` | ``died``)."""
        self.bridge.final_answer = None
        started = time.perf_counter()
        logs: list[str] = []
        self._send({"op": "run", "code": code, "internal": internal})
        try:
            done = await asyncio.wait_for(self._serve(logs), timeout)
            state = "ok" if done is not None and not done.get("fatal") else "died"
        except asyncio.TimeoutError:
            done, state = None, "timeout"
        output = CodeOutput(logs=truncate("".join(logs), self.max_output_chars), duration=time.perf_counter() - started)
        if done is not None:
            output.output, output.error = done.get("output"), done.get("error")
            if done.get("fatal"):
                logs_note = f"[the wasm runtime failed: {done.get('error')}]\n"
                output.logs = logs_note + output.logs
        if self.bridge.final_answer is not None:
            output.output, output.is_final_answer, output.error = self.bridge.final_answer[0], True, None
        return output, state

    async def _serve(self, logs: list[str]) -> dict[str, Any] | None:
        """Read the runtime's messages until ``done`` (None when the runtime ended first)."""
        while True:
            message = await self._next_message()
            if message is None:
                return None
            op = message.get("op")
            if op == "stream" and isinstance(message.get("text"), str):
                logs.append(message["text"])
            elif op == "call" and isinstance(message.get("request"), str):
                reply = await self.bridge.handle(self.bridge.marker + message["request"])
                self._send({"op": "reply", "value": reply})
            elif op == "done":
                try:
                    result = json.loads(message.get("result") or "{}")
                except ValueError:
                    result = {}
                return result if isinstance(result, dict) else {}

    async def _next_message(self) -> dict[str, Any] | None:
        """The next JSON object from the runtime; junk lines are skipped; None at its end."""
        process = self._process
        if process is None or process.stdout is None:
            return None
        while True:
            try:
                line = await process.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):  # an over-long line: the runtime is misbehaving
                process.kill()
                return None
            if not line:
                await process.wait()
                return None
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                return message

    def _send(self, message: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise ExecutorError("the wasm runtime is not running")
        process.stdin.write(json.dumps(message).encode() + b"\n")

    async def interrupt(self) -> None:
        """Stop the execution in progress: Pyodide cannot be interrupted here, so the runtime restarts."""
        if self.is_alive() and self._lock.locked():
            self._process.kill()  # the running execution reports the death; run() restarts it
