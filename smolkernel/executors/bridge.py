"""The ToolBridge: host tools callable from code running in a sibling kernel.

Tools always run in the host, where the user's connections, credentials and
state live. Inside the sibling each tool is a stub function with the tool's
signature and docstring. Calling it crosses the Jupyter protocol's stdin
channel::

    sibling: search("x")  ──►  input_request  prompt = MARKER + {"t": "search", "a": ["x"], "k": {}}
    host:    ToolBridge.handle(prompt): validate, run the tool (sync tools in the bridge's thread)
    host:    input_reply   value = {"ok": <json>} | {"repr": "<text>"} | {"pickle": ...} | {"error": "..."} | {"final": true}
                           (+ "displays": [mime bundles] when the result holds Media: images, files)
    sibling: the stub returns the value, or raises ``ToolError`` / ends the execution

Values cross as JSON: arguments must be JSON-serializable (numpy scalars and
arrays, tuples and sets are converted); a tool result that is not JSON comes
back as its ``repr`` text, or pickled when the executor was created with
``allow_pickle=True`` (the host pickles, the sibling unpickles: never the
other way round). A ``final_answer`` whose value is not JSON is recorded as
its ``repr``; the sibling publishes its rich display in the same execution
(``CodeOutput.answer_bundle``).

Under abuse:

* tool calls from several threads of the generated code take turns (one
  request on the stdin channel at a time) and each gets its own reply;
* a request larger than :data:`MAX_REQUEST_CHARS` (a final answer: larger than
  :data:`MAX_ANSWER_CHARS`) or nested deeper than ``MAX_NESTING`` is refused
  with an ``AgentToolCallError`` the code sees, before any tool runs;
* once the host has recorded a ``final_answer``, the answer stands: code that
  catches the signal and then raises gets its error reported in the logs,
  not in place of the answer;
* an async tool is cancelled when its execution times out; a sync tool cannot
  be stopped, so its thread is left to finish. At most
  :data:`MAX_ABANDONED_CALLS` such calls may run at once: past that, sync tool
  calls are refused until they finish, and ``abandoned_calls()`` names them
  (the executor reports them in the timed-out step).

The marker is private to the session, so a genuine ``input()`` is never
mistaken for a tool call; it is not a secret against code in the sibling.
Safety rests on the host: it accepts only the names it was given, binds the
arguments with the tool's own checks (``AgentToolCallError`` text reaches the
sibling), and never unpickles anything the sibling sends.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import inspect
import json
import pickle
import secrets
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..exceptions import AgentToolCallError
from ..monitoring import tool_call
from ..tools import FinalAnswer
from ..tools.schema import python_annotation
from ._bounds import MAX_NESTING, check_json_shape

__all__ = ["ToolBridge", "sibling_source"]

MAX_REQUEST_CHARS = 4_000_000
"""Bridge requests larger than this are refused (a flood must not exhaust the host)."""
MAX_ANSWER_CHARS = 1_000_000
"""A ``final_answer`` request larger than this is refused: the host keeps the answer in its memory."""
MAX_ABANDONED_CALLS = 4
"""Sync tool calls left running after timeouts; past this, sync tool calls are refused until some finish."""

_SIBLING_SOURCE: str | None = None


def sibling_source() -> str:
    """The text of the sibling half of the bridge (``_sibling.py``), read once."""
    global _SIBLING_SOURCE
    if _SIBLING_SOURCE is None:
        _SIBLING_SOURCE = (Path(__file__).parent / "_sibling.py").read_text(encoding="utf-8")
    return _SIBLING_SOURCE


class ToolBridge:
    """Host side of the bridge: the tools, their stub specs, and the request handler.

    One bridge belongs to one executor. Synchronous tools run one at a time in
    the bridge's own worker thread, so the event loop stays responsive and a
    tool's thread-bound state (an sqlite connection made in ``setup``) sees the
    same thread on every call. If an execution times out while a sync tool
    runs, that thread is abandoned (the tool finishes in the background) and
    later calls get a new one.
    """

    def __init__(self, *, allow_pickle: bool = False) -> None:
        self.allow_pickle = allow_pickle
        """Pickle non-JSON tool results for the sibling instead of sending their repr."""
        self.marker = f"\x00smolkernel-bridge:{secrets.token_hex(16)}:"
        """The private prefix of every bridge request of this session."""
        self.tools: dict[str, Any] = {}
        self.final_answer: tuple[Any] | None = None
        """``(value,)`` once ``final_answer`` was called in the current execution."""
        self.calls = 0
        """How many tool calls the bridge served (all executions)."""
        self._worker: ThreadPoolExecutor | None = None
        self._abandoned: list[tuple[str, Future]] = []

    # -- tools -------------------------------------------------------------

    def set_tools(self, tools: Mapping[str, Any]) -> None:
        """Replace the tools; keys are the names the generated code calls.

        Raises:
            ValueError: a name is not a Python identifier.
        """
        for name in tools:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"tool name {name!r} is not a Python identifier")
        self.tools = dict(tools)

    def stub_specs(self) -> list[dict[str, Any]]:
        """JSON-safe descriptions of the stubs the sibling builds (name, parameters, docstring)."""
        return [_stub_spec(name, obj) for name, obj in self.tools.items()]

    def install_code(self) -> str:
        """Code that (re)installs the sibling half with the current stubs, in one execution."""
        payload = json.dumps([self.marker, self.stub_specs()])
        return (
            "def __smolkernel_install():\n"
            "    import sys, types, json\n"
            "    mod = types.ModuleType('_smolkernel_bridge')\n"
            f"    exec(compile({sibling_source()!r}, '<smolkernel-bridge>', 'exec'), mod.__dict__)\n"
            "    sys.modules['_smolkernel_bridge'] = mod\n"
            f"    mod.install(*json.loads({payload!r}))\n"
            "__smolkernel_install()\n"
            "del __smolkernel_install\n"
        )

    # -- requests ----------------------------------------------------------

    def owns(self, prompt: str) -> bool:
        """True when ``prompt`` is a bridge request of this session."""
        return prompt.startswith(self.marker)

    async def handle(self, prompt: str) -> str:
        """Serve one bridge request and return the ``input_reply`` value (JSON text)."""
        self.calls += 1
        try:
            name, args, kwargs = self._parse(prompt)
            kind, value = await self._invoke(self.tools[name], args, kwargs, name)
        except AgentToolCallError as exc:
            return json.dumps({"error": f"AgentToolCallError: {exc}"})
        except Exception as exc:  # any tool failure becomes ToolError in the sibling
            return json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        if kind == "final":
            self.final_answer = (value,)
            return '{"final": true}'
        return self._encode_result(value)

    def _parse(self, prompt: str) -> tuple[str, list[Any], dict[str, Any]]:
        if len(prompt) > MAX_REQUEST_CHARS:
            raise AgentToolCallError(f"tool call too large ({len(prompt)} characters, limit {MAX_REQUEST_CHARS})")
        try:
            data = json.loads(prompt[len(self.marker):])
            check_json_shape(data, MAX_NESTING + 2)  # the request's own dict and list add two levels
        except (ValueError, RecursionError) as exc:
            raise AgentToolCallError(f"malformed bridge request: {exc}") from None
        if not isinstance(data, dict):
            raise AgentToolCallError("malformed bridge request")
        name, args, kwargs = data.get("t"), data.get("a", []), data.get("k", {})
        if not isinstance(name, str) or name not in self.tools:
            raise AgentToolCallError(f"unknown tool {name[:100] if isinstance(name, str) else name!r}; "
                                     f"available: {', '.join(self.tools) or 'none'}")
        if not isinstance(args, list) or not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise AgentToolCallError(f"malformed arguments for {name}()")
        if name == "final_answer" and len(prompt) > MAX_ANSWER_CHARS:
            raise AgentToolCallError(f"final_answer too large ({len(prompt)} characters, limit {MAX_ANSWER_CHARS}); "
                                     "answer with a summary, or save the data and answer with where it is")
        return name, args, kwargs

    async def _invoke(self, target: Any, args: list[Any], kwargs: dict[str, Any], name: str = "tool") -> tuple[str, Any]:
        """Run a tool: coroutine functions on the loop (cancelled on timeout), everything else in the worker thread."""
        acall = getattr(target, "acall", None)
        if acall is not None and inspect.iscoroutinefunction(acall):
            with tool_call(getattr(target, "name", None) or "tool"):  # Tool.__call__ observes the sync path
                return await _guard_final(acall(*args, **kwargs))
        if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(getattr(target, "__call__", None)):
            return await _guard_final(target(*args, **kwargs))
        running = self.abandoned_calls()
        if len(running) >= MAX_ABANDONED_CALLS:
            raise AgentToolCallError(f"{len(running)} tool calls abandoned after timeouts are still running in the host "
                                     f"({', '.join(running)}); no more sync tool calls until they finish")
        context = contextvars.copy_context()  # the caller's span and active metrics go along to the thread
        future = self._thread().submit(context.run, _call_guarded, target, args, kwargs)
        try:
            kind, value = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # the execution timed out while the tool ran: leave that thread to finish alone,
            # so that later calls do not queue behind it
            if not future.cancel():
                self._abandoned.append((name, future))
            self.close()
            raise
        if inspect.isawaitable(value):
            return await _guard_final(value)
        return kind, value

    def _thread(self) -> ThreadPoolExecutor:
        """The worker thread for sync tools (replaced only after a call was abandoned on timeout)."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smolkernel-tools")
        return self._worker

    def _encode_result(self, value: Any) -> str:
        value, displays = _split_media(value)
        if displays:
            # images and files from tools (MCP, Gradio) are shown in the sibling; the code gets their repr
            try:
                return json.dumps({"ok": value, "displays": displays}, allow_nan=True)
            except (TypeError, ValueError, RecursionError):
                return json.dumps({"repr": repr(value), "displays": displays})
        try:
            return json.dumps({"ok": value}, allow_nan=True)
        except (TypeError, ValueError, RecursionError):
            pass
        if self.allow_pickle:
            try:
                return json.dumps({"pickle": base64.b64encode(pickle.dumps(value)).decode("ascii")})
            except Exception:  # unpicklable: fall back to the repr
                pass
        return json.dumps({"repr": repr(value)})

    def abandoned_calls(self) -> list[str]:
        """Names of sync tool calls left running in the host after their execution timed out."""
        self._abandoned = [(n, f) for n, f in self._abandoned if not f.done()]
        return [n for n, _ in self._abandoned]

    def close(self) -> None:
        """Stop the worker thread (a tool still running finishes in the background)."""
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)
            self._worker = None


def _split_media(value: Any) -> tuple[Any, list[dict[str, Any]]]:
    """``Media`` in a tool result (itself, or items of a list): their mime bundles, and the value with their repr."""
    from ..tools.media import Media

    if isinstance(value, Media):
        return repr(value), [value._repr_mimebundle_()]
    if isinstance(value, (list, tuple)) and any(isinstance(item, Media) for item in value):
        bundles = [item._repr_mimebundle_() for item in value if isinstance(item, Media)]
        return [repr(item) if isinstance(item, Media) else item for item in value], bundles
    return value, []


def _call_guarded(target: Any, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, Any]:
    """Call a sync tool; ``FinalAnswer`` (a BaseException) becomes a value, not a thread crash."""
    try:
        return "ok", target(*args, **kwargs)
    except FinalAnswer as final:
        return "final", final.value


async def _guard_final(awaitable: Any) -> tuple[str, Any]:
    try:
        return "ok", await awaitable
    except FinalAnswer as final:
        return "final", final.value


def _stub_spec(name: str, obj: Any) -> dict[str, Any]:
    """Describe ``obj`` for the sibling: parameters from ``inputs`` (tools) or its signature."""
    inputs = getattr(obj, "inputs", None)
    returns = python_annotation({"type": getattr(obj, "output_type", "any")})
    if isinstance(inputs, dict):
        params = [[key, python_annotation(spec), _default_of(spec)] for key, spec in inputs.items()]
    else:
        params = _signature_params(obj)
    prompt = getattr(obj, "to_code_prompt", None)
    if callable(prompt):
        doc = _docstring_of(prompt())
    else:
        doc = getattr(obj, "description", None) or inspect.getdoc(obj) or ""
    return {"name": name, "params": params, "returns": returns, "doc": doc}


def _default_of(spec: dict[str, Any]) -> Any:
    if "default" in spec:
        default = spec["default"]
        try:
            json.dumps(default)
            return default
        except (TypeError, ValueError):
            return None
    return None if spec.get("nullable") else "<required>"


def _signature_params(obj: Any) -> list[list[Any]]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    params = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = "<required>" if param.default is param.empty else param.default
        try:
            json.dumps(default)
        except (TypeError, ValueError):
            default = None
        params.append([param.name, "Any", default])
    return params


def _docstring_of(code_prompt: str) -> str:
    """The docstring part of ``Tool.to_code_prompt()`` (between the triple quotes)."""
    start = code_prompt.find('"""')
    end = code_prompt.rfind('"""')
    if start == -1 or end <= start:
        return code_prompt
    lines = code_prompt[start + 3 : end].splitlines()
    return "\n".join(line[4:] if line.startswith("    ") else line for line in lines).strip()
