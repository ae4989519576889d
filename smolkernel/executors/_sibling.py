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
  refer to the generated code.

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
import traceback
from typing import Any

MARKER = ""
"""Set by ``install``: the private per-session prefix of every bridge request."""

ANSWER_METADATA_KEY = "smolkernel/final_answer"
"""Marks the display of a non-JSON final answer (``_collect.ANSWER_METADATA_KEY`` on the host)."""

_STATE: dict[str, Any] = {"stubs": {}, "hook": None, "raw_input": None}


class ToolError(Exception):
    """A host tool failed; the message is the host's error text."""


ToolError.__module__ = "builtins"  # shown as "ToolError: ..." in tracebacks


class FinalAnswerSignal(BaseException):
    """Ends the execution after ``final_answer`` was recorded by the host."""


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
    """The request's JSON text, and whether it carries a final answer as its ``repr``."""
    try:
        return json.dumps({"t": name, "a": list(args), "k": kwargs}, default=_jsonable), False
    except (TypeError, ValueError) as exc:
        if name != "final_answer":
            raise TypeError(f"{name}(): arguments must be JSON-serializable (str, int, float, bool, list, dict): {exc}") from None
        answer = args[0] if args else kwargs.get("answer")
        return json.dumps({"t": name, "a": [repr(answer)], "k": {}, "r": True}), True


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
    raw_input = _STATE["raw_input"]
    request, answer_as_text = _encode(name, args, kwargs)
    reply = json.loads(raw_input(MARKER + request))
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
    shell._showtraceback(etype, value, stb)
    return stb


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
    _repair()

