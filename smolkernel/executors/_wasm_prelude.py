"""The Pyodide half of ``WasmExecutor``: source run inside the WebAssembly runtime, never by the host.

``wasm_runner.mjs`` runs this text once in Pyodide's globals. It keeps the
generated code's workspace in its own dict (``WORKSPACE``), builds one stub per
host tool (a function with the tool's signature and docstring that asks the
host synchronously through ``_smolkernel_host.call``), and runs each cell with
``pyodide.code.eval_code`` so the value of a last expression comes back, as
in a notebook cell. Standard library only (plus Pyodide's own modules).
"""

from __future__ import annotations

import builtins
import inspect
import json
import linecache
import sys
import traceback
from typing import Any

WORKSPACE: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
_STUBS: dict[str, Any] = {}
_CELL = "<cell>"
_IMPORT_NOTE = ("[the wasm executor runs Pyodide offline: only the standard library and the packages in its "
                "Pyodide folder can be imported; use executor='docker' or 'sandbox' for other packages]")


class ToolError(Exception):
    """A host tool failed; the message is the host's error text."""


ToolError.__module__ = "builtins"


class FinalAnswerSignal(BaseException):
    """Ends the execution after ``final_answer`` was recorded by the host."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def call_tool(name: str, args: tuple, kwargs: dict) -> Any:
    """Ask the host to run tool ``name``; return its result or raise ``ToolError``."""
    import _smolkernel_host  # registered by the runner

    try:
        request = json.dumps({"t": name, "a": list(args), "k": kwargs}, default=_jsonable)
    except (TypeError, ValueError) as exc:
        if name != "final_answer":
            raise TypeError(f"{name}(): arguments must be JSON-serializable: {exc}") from None
        answer = args[0] if args else kwargs.get("answer")
        request = json.dumps({"t": name, "a": [repr(answer)], "k": {}, "r": True})
    reply = json.loads(_smolkernel_host.call(request))
    if "ok" in reply:
        return reply["ok"]
    if "repr" in reply:
        return reply["repr"]
    if reply.get("final"):
        raise FinalAnswerSignal()
    raise ToolError(reply.get("error", "the tool call failed"))


def _make_stub(spec: dict[str, Any]) -> Any:
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
    return stub


def install(specs: list[dict[str, Any]]) -> None:
    """Replace the tool stubs with those described by ``specs``."""
    for name in set(_STUBS) - {spec["name"] for spec in specs}:
        WORKSPACE.pop(name, None)
    _STUBS.clear()
    _STUBS.update({spec["name"]: _make_stub(spec) for spec in specs})
    _repair()


def set_variables(values: dict[str, Any]) -> None:
    """Put ``values`` into the workspace."""
    WORKSPACE.update(values)


def reset() -> None:
    """Forget the workspace (the stubs come back)."""
    WORKSPACE.clear()
    WORKSPACE.update({"__name__": "__main__", "__builtins__": builtins})
    _repair()


def _no_input(prompt: str = "") -> str:
    raise RuntimeError("input() is not available: generated code runs unattended; pass values in variables or call a tool")


def _repair() -> None:
    for name, stub in _STUBS.items():
        if WORKSPACE.get(name) is not stub:
            WORKSPACE[name] = stub
    WORKSPACE["ToolError"] = ToolError
    builtins.input = _no_input


def _internal(filename: str) -> bool:
    """Frames of Pyodide, of this prelude (run as ``<exec>``) and of the runner, hidden from tracebacks."""
    return filename.startswith("<") or "/_pyodide/" in filename or "/pyodide/" in filename


def _format_error(etype: type, value: BaseException, tb: Any) -> str:
    frames = [f for f in traceback.extract_tb(tb) if f.filename == _CELL or not _internal(f.filename)]
    lines = ["Traceback (most recent call last):"]
    for frame in frames[-8:]:
        where = f"line {frame.lineno}" if frame.filename == _CELL else f'File "{frame.filename}", line {frame.lineno}'
        lines.append(f"  {where}, in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(etype, value))
    if isinstance(value, ModuleNotFoundError):
        lines.append(_IMPORT_NOTE)
    return "\n".join(lines)


def _smolkernel_run(code: str, internal: bool) -> str:
    """Run one cell; return JSON ``{"output": repr or None, "error": text or None, "final": bool}``."""
    from pyodide.code import eval_code

    _repair()
    linecache.cache[_CELL] = (len(code), None, code.splitlines(True), _CELL)
    namespace = globals() if internal else WORKSPACE
    output, error, final = None, None, False
    try:
        value = eval_code(code, namespace, filename=_CELL)
        if value is not None and not internal:
            output = repr(value)
    except FinalAnswerSignal:
        final = True
    except BaseException as exc:  # noqa: BLE001 - every failure of generated code is reported
        try:
            error = _format_error(type(exc), exc, exc.__traceback__)
        except Exception:  # a broken __str__ must not take the runtime down
            error = f"{type(exc).__name__}: <unprintable error>"
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return json.dumps({"output": output, "error": error, "final": final})
