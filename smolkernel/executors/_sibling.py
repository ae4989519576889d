"""The sibling half of the ToolBridge: source sent into the kernel, never imported by the host.

The host reads this file's text and executes it inside the sibling kernel as a
module named ``_smolkernel_bridge``. It must therefore depend on nothing but
the standard library and IPython (which ipykernel always has).

What it installs:

* one stub per host tool in the user namespace: a function with the tool's
  signature and docstring that sends ``MARKER + json`` through the kernel's
  ``raw_input`` (the protocol's stdin channel) and returns the host's reply;
* a ``pre_run_cell`` hook that, before every execution, puts back any stub the
  previous code overwrote and replaces ``input()`` with a clear error;
* a custom exception handler that prints concise tracebacks whose line numbers
  refer to the generated code;
* cuts of what the kernel sends: stdout and stderr to ``MAX_STREAM_CHARS`` per
  execution, result and display text values to ``MAX_VALUE_CHARS``, so an
  honest flood arrives as a readable head with a marker (the host enforces
  its own caps regardless: hostile code can bypass these);
* tool calls that take turns (a lock), so threads of the generated code can
  call tools; from a thread the request carries the current execution's parent.

A final answer that is not JSON (a DataFrame, a figure) reaches the host as
its ``repr``; its full mime bundle is published as display data marked with
``ANSWER_METADATA_KEY``, in the same execution, so the host can still show it
in its rich form.

Nothing here is a security boundary: code in the sibling can read the marker
like anything else in its process. The host validates every call (tool name,
arguments), so a forged call can do no more than a real one.
"""

from __future__ import annotations

import builtins
import inspect
import json
import linecache
import sys
import threading
import traceback
from typing import Any

MARKER = ""
"""Set by ``install``: the private per-session prefix of every bridge request."""

ANSWER_METADATA_KEY = "smolkernel/final_answer"
"""Marks the display of a non-JSON final answer (``_collect.ANSWER_METADATA_KEY`` on the host)."""

_STATE: dict[str, Any] = {"stubs": {}, "hook": None, "raw_input": None, "parent": None, "ident": None}
_ONE_CALL = threading.Lock()
"""Tool calls from several threads take turns: the stdin socket is not thread-safe."""
MAX_REQUEST_CHARS = 4_000_000
"""Same limit as the host's (``bridge.MAX_REQUEST_CHARS``): larger calls are refused here, with a clear error."""
MAX_STREAM_CHARS = 1_000_000
"""Characters of stdout (and of stderr) sent per execution; the rest is counted and dropped here.

The host drops any message over its size cap unread (and the messages around
it); cutting honest floods here keeps them readable, with a marker."""
MAX_VALUE_CHARS = 1_000_000
"""Characters of one text value sent in a result or display; a larger display is replaced by a note."""
_SENT: dict[int, int] = {}


class ToolError(Exception):
    """A host tool failed; the message is the host's error text."""


ToolError.__module__ = "builtins"  # shown as "ToolError: ..." in tracebacks


class FinalAnswerSignal(BaseException):
    """Ends the execution after ``final_answer`` was recorded by the host."""

    def _render_traceback_(self) -> list[str]:
        """IPython's hook for an exception's own traceback: none (else it formats one for its history, ~15 ms)."""
        return []


def _jsonable(value: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays, sets and tuples."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    for method in ("tolist", "item"):
        convert = getattr(value, method, None)
        if callable(convert):
            return convert()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _encode(name: str, args: tuple, kwargs: dict) -> tuple[str, bool]:
    """The request's JSON text, and whether it carries a final answer as its ``repr``.

    Raises:
        TypeError: arguments that are not JSON (a final answer falls back to its repr).
        ValueError: arguments nested too deeply or too large to send.
    """
    try:
        text, as_text = json.dumps({"t": name, "a": list(args), "k": kwargs}, default=_jsonable), False
    except RecursionError:
        raise ValueError(f"{name}(): arguments are nested too deeply to send to the host") from None
    except (TypeError, ValueError) as exc:
        if name != "final_answer":
            raise TypeError(f"{name}(): arguments must be JSON-serializable (str, int, float, bool, list, dict): {exc}") from None
        answer = args[0] if args else kwargs.get("answer")
        try:
            text, as_text = json.dumps({"t": name, "a": [repr(answer)], "k": {}, "r": True}), True
        except RecursionError:
            raise ValueError("final_answer(): the answer is nested too deeply to send to the host") from None
    if len(text) > MAX_REQUEST_CHARS:
        raise ValueError(f"{name}(): arguments too large to send to the host ({len(text)} characters, "
                         f"limit {MAX_REQUEST_CHARS}); pass a smaller value, e.g. a summary or a file name")
    return text, as_text


def _publish_answer(answer: Any) -> None:
    """Publish the mime bundle of a final answer that crossed as text, marked for the host."""
    shell = _STATE["shell"]
    try:
        data, metadata = shell.display_formatter.format(answer)
    except Exception:  # a broken _repr_ leaves the host with the repr text
        return
    if data:
        shell.display_pub.publish(data=data, metadata={**(metadata or {}), ANSWER_METADATA_KEY: True})


def call_tool(name: str, args: tuple, kwargs: dict) -> Any:
    """Send one tool call to the host and return its result (or raise ``ToolError``)."""
    request, answer_as_text = _encode(name, args, kwargs)
    reply = json.loads(_ask_host(MARKER + request))
    for bundle in reply.get("displays", ()):
        _STATE["shell"].display_pub.publish(data=bundle, metadata={})
    if "ok" in reply:
        return reply["ok"]
    if "repr" in reply:
        return reply["repr"]
    if "pickle" in reply:
        import base64
        import pickle

        return pickle.loads(base64.b64decode(reply["pickle"]))
    if reply.get("final"):
        if answer_as_text:
            _publish_answer(args[0] if args else kwargs.get("answer"))
        raise FinalAnswerSignal()
    raise ToolError(reply.get("error", "the tool call failed"))


def _ask_host(prompt: str) -> str:
    """Send one request on the stdin channel and wait for the reply, one call at a time.

    From another thread the request carries the parent of the execution the
    code runs in (saved by the pre-run hook), as a call from the main thread would.
    """
    with _ONE_CALL:
        if threading.current_thread() is threading.main_thread():
            return _STATE["raw_input"](prompt)
        kernel = _STATE["shell"].kernel
        request = getattr(kernel, "_input_request", None)
        if request is None or _STATE["parent"] is None:
            raise RuntimeError("tool calls from threads are not supported by this kernel; call tools from the main thread")
        return request(prompt, _STATE["ident"], _STATE["parent"], password=False)


def _remember_parent() -> None:
    """Save the current execution's parent message, for tool calls made from threads."""
    kernel = getattr(_STATE["shell"], "kernel", None)
    try:
        _STATE["parent"] = kernel.get_parent("shell")
        getter = getattr(kernel, "_get_shell_context_var", None)
        _STATE["ident"] = getter(kernel._shell_parent_ident) if getter else kernel._parent_ident["shell"]
    except Exception:  # another ipykernel: threads get the clear error instead
        _STATE["parent"] = None


def _make_stub(spec: dict[str, Any]) -> Any:
    """A function named like the tool, with its signature and docstring, that calls the host."""
    name = spec["name"]

    def stub(*args: Any, **kwargs: Any) -> Any:
        return call_tool(name, args, kwargs)

    params = []
    for pname, annotation, default in spec["params"]:
        value = inspect.Parameter.empty if default == "<required>" else default
        params.append(inspect.Parameter(pname, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value, annotation=annotation))
    try:
        stub.__signature__ = inspect.Signature(params, return_annotation=spec["returns"])  # type: ignore[attr-defined]
    except ValueError:
        pass
    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = spec["doc"]
    stub.__module__ = "smolkernel_tools"
    return stub


def _no_input(prompt: str = "") -> str:
    raise RuntimeError("input() is not available: generated code runs unattended, so nobody can answer; "
                       "pass values in variables or call a tool instead")


def user_cell() -> None:
    """Run the next execution as the user's own cell: ``input()`` asks the user, IPython's tracebacks."""
    _STATE["user_cell"] = True


def _repair(*_: Any) -> None:
    """pre_run_cell hook: restore overwritten stubs and the input() guard (not for a user's cell)."""
    shell = _STATE["shell"]
    _remember_parent()
    _bound_streams()
    namespace = shell.user_ns
    for name, stub in _STATE["stubs"].items():
        if namespace.get(name) is not stub:
            namespace[name] = stub
    if _STATE.pop("user_cell", False):
        shell.set_custom_exc((FinalAnswerSignal,), _concise_traceback)
        return  # ipykernel's own input() and getpass() stay: they ask the user through the host
    shell.set_custom_exc((Exception, FinalAnswerSignal), _concise_traceback)
    builtins.input = _no_input
    try:
        import getpass

        getpass.getpass = _no_input
    except ImportError:
        pass


def _cell_line(filename: str) -> bool:
    compiler = getattr(_STATE["shell"], "compile", None)
    known = getattr(compiler, "_filename_map", {})
    return filename in known or "/ipykernel_" in filename or filename.startswith("<ipython-input")


def _internal(filename: str) -> bool:
    return any(part in filename for part in ("/IPython/", "/ipykernel/", "<smolkernel-bridge>"))


def _concise_traceback(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """Custom exception handler: show a short traceback whose line numbers refer to the generated code."""
    if isinstance(value, FinalAnswerSignal):
        return []
    stb = _format_concise(etype, value, tb)
    stb = [_cut(line) for line in stb]
    shell._showtraceback(etype, _Text(_cut(str(value))), stb)
    return stb


class _Text:
    """An exception value whose ``str`` is already cut to size."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def _cut(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n[... {len(text) - limit} characters omitted in the kernel ...]\n" + text[-limit // 2:]


def _bounded_write(original: Any, index: int) -> Any:
    """A ``write`` passing at most ``MAX_STREAM_CHARS`` per execution to ``original``, then one marker."""

    def write(text: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(text, str):
            return original(text, *args, **kwargs)
        room = MAX_STREAM_CHARS - _SENT.get(index, 0)
        _SENT[index] = _SENT.get(index, 0) + len(text)
        if room <= 0:
            return len(text)
        if len(text) > room:
            original(text[:room] + "\n[... further output dropped in the kernel ...]\n", *args, **kwargs)
            return len(text)
        return original(text, *args, **kwargs)

    write._smolkernel_bounded = True  # type: ignore[attr-defined]
    return write


def _bound_streams() -> None:
    """Wrap the current ``write`` of stdout and stderr (IPython re-wraps them around every cell)."""
    _SENT.clear()
    for index, stream in enumerate((sys.stdout, sys.stderr)):
        current = getattr(stream, "write", None)
        if current is None or getattr(current, "_smolkernel_bounded", False):
            continue
        try:
            stream.write = _bounded_write(current, index)
        except (AttributeError, TypeError):
            pass


def _bounded_publish(original: Any) -> Any:
    """``display_pub.publish`` replacing a bundle with a text value over ``MAX_VALUE_CHARS`` by a note."""

    def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and any(isinstance(v, str) and len(v) > MAX_VALUE_CHARS for v in data.values()):
            size = sum(len(v) for v in data.values() if isinstance(v, str))
            data, metadata = {"text/plain": f"[display of {size} characters omitted in the kernel]"}, {}
        return original(data, metadata, *args, **kwargs)

    return publish


def _bound_outputs(shell: Any) -> None:
    """Cut streams, displays and results to size before they are sent (wrapping the originals, on every install)."""
    originals = getattr(shell, "_smolkernel_original_outputs", None)
    if originals is None:
        originals = (shell.display_pub.publish, shell.displayhook.write_format_data)
        shell._smolkernel_original_outputs = originals
    shell.display_pub.publish = _bounded_publish(originals[0])

    def write_format_data(format_dict: Any, md_dict: Any = None) -> Any:
        if isinstance(format_dict, dict):
            format_dict = {k: _cut(v) if isinstance(v, str) else v for k, v in format_dict.items()}
        return originals[1](format_dict, md_dict)

    shell.displayhook.write_format_data = write_format_data


def _format_concise(etype: type, value: BaseException, tb: Any) -> list[str]:
    frames = [f for f in traceback.extract_tb(tb) if not _internal(f.filename)]
    lines = ["Traceback (most recent call last):"]
    if len(frames) > 8:
        lines.append(f"  ... {len(frames) - 8} earlier frames omitted ...")
        frames = frames[-8:]
    for frame in frames:
        where = f"line {frame.lineno}" if _cell_line(frame.filename) else f'File "{frame.filename}", line {frame.lineno}'
        lines.append(f"  {where}, in {frame.name}")
        text = frame.line or linecache.getline(frame.filename, frame.lineno or 0).strip()
        if text:
            lines.append(f"    {text}")
    lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(etype, value))
    return ["\n".join(lines)]


def status() -> str:
    """Evaluated as a user expression after every run: is the bridge still in place?"""
    shell = _STATE["shell"]
    intact = sys.modules.get(__name__) is not None and _STATE["hook"] in shell.events.callbacks["pre_run_cell"]
    return "ok" if intact else "broken"


def install(marker: str, specs: list[dict[str, Any]]) -> None:
    """(Re)install the bridge: stubs for ``specs``, the repair hook, the traceback handler."""
    global MARKER
    MARKER = marker
    shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    _STATE["shell"] = shell
    _STATE["raw_input"] = shell.kernel.raw_input
    stubs = {spec["name"]: _make_stub(spec) for spec in specs}
    for name in set(_STATE["stubs"]) - set(stubs):
        shell.user_ns.pop(name, None)
    _STATE["stubs"] = stubs
    callbacks = shell.events.callbacks["pre_run_cell"]
    for old in [cb for cb in callbacks if getattr(cb, "__name__", "") == "_repair"]:
        shell.events.unregister("pre_run_cell", old)
    shell.events.register("pre_run_cell", _repair)
    _STATE["hook"] = _repair
    shell.set_custom_exc((Exception, FinalAnswerSignal), _concise_traceback)
    shell.user_ns["ToolError"] = ToolError
    _bound_outputs(shell)
    _repair()

