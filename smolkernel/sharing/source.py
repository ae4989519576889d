"""The source of a tool as a standalone module, so it can be saved and shared.

A tool defined in a module file, in a notebook cell or in a ``%%tool`` cell
becomes one Python file: the imports it needs, the helper functions and the
simple constants it uses from its module, and its definition. A global it
uses that cannot be written down (an open connection, a DataFrame) is an
error naming it, rather than a file that fails when loaded elsewhere.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import textwrap
import types
from typing import Any

from ..exceptions import ConfigurationError
from ..tools.base import FunctionTool, Tool

__all__ = ["tool_source", "importable_path"]

_HEADER = "# Saved by smolkernel: the tool's code and what it uses.\n"


def importable_path(obj: Any) -> str | None:
    """``"module:qualname"`` when importing that gives back ``obj`` itself, else None."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not module or not qualname or module == "__main__" or "<locals>" in qualname or module.startswith("smolkernel_shipped_tools_"):
        return None
    try:
        value: Any = importlib.import_module(module)
        for part in qualname.split("."):
            value = getattr(value, part)
    except Exception:  # not importable as such: the caller falls back to the source
        return None
    return f"{module}:{qualname}" if value is obj else None


def tool_source(item: Tool) -> str:
    """Python source that defines ``item`` when run as a module.

    Tools loaded from shipped code and tools from ``%%tool`` cells keep the
    code they came from (``_source_code``); others are rebuilt from
    ``inspect.getsource`` plus the imports and constants they use.

    Raises:
        ConfigurationError: the source cannot be found, or the tool uses a
            global that cannot be written as code.
    """
    kept = getattr(item, "_source_code", None)
    if isinstance(kept, str):
        return kept
    cell = getattr(item, "_cell_source", None)
    if isinstance(cell, str):
        return _cell_tool_source(cell, getattr(item, "_cell_namespace", None) or {}, item.name)
    if isinstance(item, FunctionTool):
        return _function_tool_source(item)
    return _class_tool_source(item)


def _function_tool_source(item: FunctionTool) -> str:
    function = item.function
    definition = _strip_decorators(_source_of(function, item.name))
    namespace = {**function.__globals__, **inspect.getclosurevars(function).nonlocals}
    preamble = _preamble(definition, namespace, item.name, skip={function.__name__})
    name_arg = "" if function.__name__ == item.name else f", name={item.name!r}"
    body = f"{definition}\n\n{function.__name__} = tool({function.__name__}{name_arg})\n"
    return _HEADER + "from smolkernel import tool\n" + preamble + "\n\n" + body


def _cell_tool_source(cell: str, namespace: dict[str, Any], tool_name: str) -> str:
    """A ``%%tool`` cell as a module: what it uses from earlier cells first, then the cell."""
    try:
        preamble = _preamble(cell, namespace, tool_name, skip=set())
    except SyntaxError:
        preamble = ""
    return _HEADER + (preamble + "\n\n\n" if preamble else "") + cell.strip() + "\n"


def _class_tool_source(item: Tool) -> str:
    cls = type(item)
    if _required_init_args(cls):
        raise ConfigurationError(f"tool {item.name!r}: {cls.__name__}() takes arguments, so it cannot be rebuilt from its source; make them optional")
    definition = _source_of(cls, item.name)
    module = inspect.getmodule(cls)
    namespace = dict(vars(module)) if module is not None else {}
    preamble = _preamble(definition, namespace, item.name, skip={cls.__name__})
    return _HEADER + preamble + "\n\n" + definition + "\n"


def _required_init_args(cls: type) -> list[str]:
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _source_of(obj: Any, tool_name: str) -> str:
    try:
        return textwrap.dedent(inspect.getsource(obj)).rstrip()
    except (OSError, TypeError) as exc:
        raise ConfigurationError(
            f"tool {tool_name!r}: its source code cannot be found ({exc}); define it in a file, a notebook cell or a %%tool cell"
        ) from None


def _strip_decorators(source: str) -> str:
    tree = ast.parse(source)
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.decorator_list:
        return source
    lines = source.splitlines()
    return "\n".join(lines[node.lineno - 1 :])


def _free_names(source: str) -> list[str]:
    """Names the code reads but does not bind itself (in first-use order)."""
    tree = ast.parse(source)
    bound: set[str] = set()
    used: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                used.setdefault(node.id, None)
            else:
                bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return [name for name in used if name not in bound and not hasattr(builtins, name)]


def _preamble(source: str, namespace: dict[str, Any], tool_name: str, *, skip: set[str], seen: set[str] | None = None) -> str:
    """Imports, constants and helper definitions for the free names of ``source``."""
    seen = set() if seen is None else seen
    imports: list[str] = []
    helpers: list[str] = []
    for name in _free_names(source):
        if name in skip or name in seen or name not in namespace:
            continue
        seen.add(name)
        line, helper = _define(name, namespace[name], namespace, tool_name, seen)
        if line:
            imports.append(line)
        if helper:
            helpers.append(helper)
    imports.sort(key=lambda line: not line.startswith(("import ", "from ")))
    return "\n".join(imports) + ("\n\n\n" + "\n\n\n".join(helpers) if helpers else "")


def _define(name: str, value: Any, namespace: dict[str, Any], tool_name: str, seen: set[str]) -> tuple[str | None, str | None]:
    """(import or assignment line, helper source) that gives ``name`` its value."""
    if isinstance(value, types.ModuleType):
        return (f"import {value.__name__}" if value.__name__ == name else f"import {value.__name__} as {name}"), None
    path = importable_path(value)
    if path:
        module, _, qualname = path.partition(":")
        if "." not in qualname:
            return (f"from {module} import {qualname}" if qualname == name else f"from {module} import {qualname} as {name}"), None
    if _is_literal(value):
        return f"{name} = {value!r}", None
    if isinstance(value, Tool) or inspect.isfunction(value) or inspect.isclass(value):
        target = value.function if isinstance(value, FunctionTool) else value
        if isinstance(value, Tool) and not isinstance(value, FunctionTool):
            raise ConfigurationError(f"tool {tool_name!r} uses the tool object {name!r}; save that tool on its own")
        helper = _strip_decorators(_source_of(target, tool_name)) if inspect.isfunction(target) else _source_of(target, tool_name)
        inner = _preamble(helper, namespace, tool_name, skip={name}, seen=seen)
        if isinstance(value, FunctionTool):
            helper += f"\n\n\n{name} = tool({target.__name__})"
        return None, (inner + "\n\n\n" if inner else "") + helper
    raise ConfigurationError(
        f"tool {tool_name!r} uses {name!r}, a {type(value).__name__} defined outside it, which cannot be saved as code; "
        "create it inside the tool (or in its setup()), or import it from a module"
    )


def _is_literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
