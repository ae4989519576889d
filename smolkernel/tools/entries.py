"""Tool entries of an agent spec: how each kind of entry becomes Tools.

An ``AgentSpec``'s ``tools`` list holds entries of these kinds:

======================================  =====================================
``"package.module:attribute"``          a Tool, a Tool subclass, a ``@tool``-able
                                        function or a list of them, imported
``{file: tools/NAME.py, name: ATTR}``   tool code shipped beside the spec
                                        (``agent.save`` writes these); ``name``
                                        is optional
``{source: CODE, name: ATTR}``          the same code inline (``agent.to_spec``
                                        writes these for notebook tools)
``{mcp: COMMAND | URL, ...}``           an MCP server's tools
``{space: ID_OR_URL, api_name: ...}``   a Gradio app as a tool
======================================  =====================================

Shipped code (``file`` and ``source``) is only run when the caller trusts it
(``ToolEntryContext.trust_remote_code``); the sharing loaders pass what the
user said, and a spec the user loads from their own file is trusted as a
Python import is.

**Adding a kind** is one function ``build(entry, context) -> list[Tool]`` and
one line in ``ENTRY_KINDS`` (``key -> "module:function"``, imported only when
an entry of that kind is built), or a call to :func:`register_tool_entry`.
The builder raises ``ConfigurationError`` with the problem; the spec adds the
field and the file's line. Every Tool a builder returns gets ``spec_entry``
set to its entry, so ``agent.to_spec()`` writes the same entry back; a Tool
made outside a spec may set ``spec_entry`` itself for the same effect.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, UntrustedCodeError
from .base import Tool

__all__ = [
    "ENTRY_KINDS",
    "ToolEntryContext",
    "ToolEntryBuilder",
    "register_tool_entry",
    "build_tool_entry",
    "check_tool_entry",
    "tools_from_value",
    "load_module_from_source",
]

ToolEntryBuilder = Callable[[Mapping[str, Any], "ToolEntryContext"], list[Tool]]

ENTRY_KINDS: dict[str, str | ToolEntryBuilder] = {
    "file": "smolkernel.tools.entries:build_file_entry",
    "source": "smolkernel.tools.entries:build_source_entry",
    "mcp": "smolkernel.tools.mcp:tools_from_entry",
    "space": "smolkernel.tools.space:tools_from_entry",
}
"""Entry key -> its builder, or ``"module:function"`` naming it (imported on first use)."""

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass
class ToolEntryContext:
    """What a builder knows besides the entry itself."""

    base_dir: Path | None = None
    """The spec's folder: relative paths in entries are relative to it."""
    trust_remote_code: bool = True
    """Whether code shipped with the spec (``file``/``source`` entries) may run."""

    def require_trust(self, what: str) -> None:
        """Raise ``UntrustedCodeError`` unless shipped code may run."""
        if not self.trust_remote_code:
            raise UntrustedCodeError(
                f"{what} is tool code shipped with the agent; it is not imported unless you trust it. "
                "Read it, then load again with trust_remote_code=True"
            )

    def resolve_path(self, path: str) -> Path:
        """``path`` relative to the spec's folder (or as given when absolute)."""
        candidate = Path(path).expanduser()
        if not candidate.is_absolute() and self.base_dir is not None:
            candidate = self.base_dir / candidate
        return candidate


def register_tool_entry(key: str, builder: str | ToolEntryBuilder) -> None:
    """Add (or replace) the builder of the ``{key: ...}`` entry kind.

    Args:
        key: the entry's kind key, e.g. ``"mcp"``.
        builder: ``fn(entry, context) -> list[Tool]`` or ``"module:function"``.
    """
    ENTRY_KINDS[key] = builder


def check_tool_entry(entry: Any) -> str | None:
    """Check an entry's shape (no import); return the problem, or None when fine."""
    if isinstance(entry, str):
        if _IMPORT_PATH.match(entry.strip()):
            return None
        return f"{entry!r} is not an import path; write 'package.module:attribute' (a Tool, Tool class or @tool function)"
    if isinstance(entry, Mapping):
        kinds = [key for key in entry if key in ENTRY_KINDS]
        if len(kinds) == 1:
            return None
        known = ", ".join(f"{{{k}: ...}}" for k in ENTRY_KINDS)
        if not kinds:
            return f"a tool entry needs one of the keys {known}; got {sorted(map(str, entry))}"
        return f"a tool entry has one kind, not {kinds}"
    return f"a tool entry is a string 'package.module:attribute' or a mapping such as {{mcp: ...}}, not {type(entry).__name__}"


def build_tool_entry(entry: str | Mapping[str, Any], context: ToolEntryContext) -> list[Tool]:
    """Build the Tools one entry names, each with ``spec_entry`` set to the entry.

    Raises:
        ConfigurationError: the entry is malformed, its import or code fails,
            or (``UntrustedCodeError``) it ships code that is not trusted.
    """
    problem = check_tool_entry(entry)
    if problem:
        raise ConfigurationError(problem)
    if isinstance(entry, str):
        tools = tools_from_value(_import_attribute(entry.strip()), entry)
    else:
        kind = next(key for key in entry if key in ENTRY_KINDS)
        tools = _builder(kind)(entry, context)
    remembered = entry if isinstance(entry, str) else dict(entry)
    for item in tools:
        if getattr(item, "spec_entry", None) is None:
            item.spec_entry = remembered  # type: ignore[attr-defined]
    return tools


def _builder(kind: str) -> ToolEntryBuilder:
    target = ENTRY_KINDS[kind]
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ConfigurationError(f"{{{kind}: ...}} tool entries need {module_name}, which this smolkernel does not have") from None
        raise
    return getattr(module, attr)


def _import_attribute(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r} for tool {path!r}: {exc}") from None
    except Exception as exc:  # the module itself failed while importing
        raise ConfigurationError(f"importing {module_name!r} for tool {path!r} failed: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(value, part):
            raise ConfigurationError(f"module {module_name!r} has no attribute {attr!r} (tool {path!r})")
        value = getattr(value, part)
    return value


def tools_from_value(value: Any, label: str) -> list[Tool]:
    """The Tools a Python value stands for: a Tool, a Tool class, a function, or a list of them.

    A smolagents tool (instance or class) is adapted with ``Tool.from_smolagents``.

    Raises:
        ConfigurationError: the value is none of these, or a definition is bad.
    """
    if isinstance(value, (list, tuple)):
        return [made for item in value for made in tools_from_value(item, label)]
    if isinstance(value, Tool):
        return [value]
    if isinstance(value, type) and issubclass(value, Tool):
        return [value()]
    if _is_smolagents_tool(value):
        from .smolagents_compat import from_smolagents

        return [from_smolagents(value() if isinstance(value, type) else value)]
    if inspect.isfunction(value):
        from .decorator import tool

        return [tool(value)]
    raise ConfigurationError(f"{label!r} is a {type(value).__name__}, not a Tool, a Tool class or a function")


def _is_smolagents_tool(value: Any) -> bool:
    module = sys.modules.get("smolagents.tools")
    if module is None:
        return False
    base = module.Tool
    return isinstance(value, base) or (isinstance(value, type) and issubclass(value, base))


# -- shipped code ------------------------------------------------------------


def build_file_entry(entry: Mapping[str, Any], context: ToolEntryContext) -> list[Tool]:
    """``{file: PATH, name: ATTR}``: the tools defined in a Python file beside the spec."""
    _check_keys(entry, "file", {"file", "name"})
    path = context.resolve_path(str(entry["file"]))
    context.require_trust(f"{entry['file']!r}")
    try:
        code = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read tool file {str(path)!r}: {exc.strerror or exc}") from None
    return _tools_from_code(code, str(path), entry.get("name"))


def build_source_entry(entry: Mapping[str, Any], context: ToolEntryContext) -> list[Tool]:
    """``{source: CODE, name: ATTR}``: the tools defined by inline Python code."""
    _check_keys(entry, "source", {"source", "name"})
    code = entry["source"]
    if not isinstance(code, str):
        raise ConfigurationError(f"'source' must be Python code as text, not {type(code).__name__}")
    context.require_trust(f"the inline source of tool {entry.get('name') or '?'!r}")
    return _tools_from_code(code, f"<tool source {entry.get('name') or ''}>", entry.get("name"))


def _check_keys(entry: Mapping[str, Any], kind: str, allowed: set[str]) -> None:
    unknown = sorted(set(map(str, entry)) - allowed)
    if unknown:
        raise ConfigurationError(f"unknown key(s) {unknown} in a {{{kind}: ...}} entry; it takes {sorted(allowed)}")


def load_module_from_source(code: str, filename: str) -> types.ModuleType:
    """Run ``code`` as a fresh module (registered in ``sys.modules``, so classes pickle and inspect).

    Raises:
        ConfigurationError: the code does not compile or raises while running.
    """
    digest = hashlib.sha1(f"{filename}\0{code}".encode()).hexdigest()[:12]
    module = types.ModuleType(f"smolkernel_shipped_tools_{digest}")
    module.__file__ = filename
    module.__dict__["__source__"] = code
    try:
        compiled = compile(code, filename, "exec")
    except SyntaxError as exc:
        raise ConfigurationError(f"tool code {filename} does not compile: {exc.msg} (line {exc.lineno})") from None
    import linecache

    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    sys.modules[module.__name__] = module
    try:
        exec(compiled, module.__dict__)
    except Exception as exc:
        sys.modules.pop(module.__name__, None)
        raise ConfigurationError(f"tool code {filename} failed while loading: {type(exc).__name__}: {exc}") from None
    return module


def _tools_from_code(code: str, filename: str, name: Any) -> list[Tool]:
    module = load_module_from_source(code, filename)
    if name:
        if not hasattr(module, str(name)):
            raise ConfigurationError(f"{filename} defines no {name!r}")
        tools = tools_from_value(getattr(module, str(name)), str(name))
    else:
        tools = _defined_tools(module)
    if not tools:
        raise ConfigurationError(f"{filename} defines no tool (a @tool function, a Tool instance or a Tool subclass)")
    for item in tools:
        item._source_code = code  # type: ignore[attr-defined]
        item._source_attribute = str(name) if name else _attribute_of(module, item)  # type: ignore[attr-defined]
    return tools


def _attribute_of(module: types.ModuleType, item: Tool) -> str | None:
    """The module-level name that gives ``item`` (or its class), so a save names just this tool."""
    candidates = [item, getattr(item, "wrapped", item), getattr(item, "function", item)]
    origin = candidates[1]
    for key, value in vars(module).items():
        if any(value is candidate for candidate in candidates):
            return key
    for key, value in vars(module).items():
        if isinstance(value, type) and getattr(value, "__module__", None) == module.__name__ and isinstance(origin, value):
            return key
    return None


def _defined_tools(module: types.ModuleType) -> list[Tool]:
    """Tool instances in ``module``; else the Tool subclasses it defines (instantiated)."""
    found = [value for value in vars(module).values() if isinstance(value, Tool)]
    if found:
        return _unique(found)
    classes = [
        value for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == module.__name__ and (issubclass(value, Tool) or _is_smolagents_tool(value))
    ]
    return [made for cls in classes for made in tools_from_value(cls, cls.__name__)]


def _unique(tools: Iterable[Tool]) -> list[Tool]:
    seen: dict[int, Tool] = {}
    for item in tools:
        seen.setdefault(id(item), item)
    return list(seen.values())
