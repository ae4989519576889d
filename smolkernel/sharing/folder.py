"""An agent as a folder: ``agent.save(folder)`` and ``from_folder(folder)``.

The folder holds::

    agent.yaml         the AgentSpec (no secrets: keys by variable name)
    tools/NAME.py      the source of tools defined in user code or %%tool cells
    requirements.txt   the packages the tools import (and smolkernel)

Tools that can be imported (``package.module:name``) are named, not copied.
Loading builds the spec; the code in ``tools/`` is only run when the caller
passes ``trust_remote_code=True``, since it is code someone else wrote. A
folder saved by smolagents 1.x (``agent.json``) is read too.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from ..agents.base import MultiStepAgent
    from ..spec import AgentSpec
    from ..tools import Tool

__all__ = ["save_agent", "load_folder", "folder_spec", "requirements_for"]

SPEC_FILE = "agent.yaml"
TOOLS_DIR = "tools"
REQUIREMENTS_FILE = "requirements.txt"


def save_agent(agent: MultiStepAgent, folder: str | Path) -> Path:
    """Write ``agent`` to ``folder`` (created if needed); return the folder.

    Files of an earlier save there (``agent.yaml``, ``tools/*.py``,
    ``requirements.txt``) are replaced; nothing else in the folder is touched.

    Raises:
        ConfigurationError: a part of the agent cannot be described (a model
            made from a function, a tool whose source cannot be found).
    """
    from .describe import agent_to_spec, source_attribute

    folder = Path(folder).expanduser()
    sources: dict[str, str] = {}

    def source_entry(item: Tool, source: str) -> dict[str, Any]:
        relative = _tool_file(item.name, source, sources)
        entry: dict[str, Any] = {"file": relative}
        attribute = source_attribute(item, source)
        if attribute:
            entry["name"] = attribute
        return entry

    spec = agent_to_spec(agent, source_entry=source_entry)
    folder.mkdir(parents=True, exist_ok=True)
    tools_dir = folder / TOOLS_DIR
    if tools_dir.is_dir():
        for stale in tools_dir.glob("*.py"):
            if f"{TOOLS_DIR}/{stale.name}" not in sources:
                stale.unlink()
    for relative, source in sources.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
    spec.save(folder / SPEC_FILE)
    (folder / REQUIREMENTS_FILE).write_text("\n".join(requirements_for(spec, sources.values())) + "\n", encoding="utf-8")
    return folder


def _tool_file(name: str, source: str, sources: dict[str, str]) -> str:
    """The relative file for a tool's source: one file per distinct source."""
    for relative, existing in sources.items():
        if existing == source:
            return relative
    stem, number = name, 1
    while f"{TOOLS_DIR}/{stem}.py" in sources:
        number += 1
        stem = f"{name}_{number}"
    relative = f"{TOOLS_DIR}/{stem}.py"
    sources[relative] = source
    return relative


_ENTRY_MODULES = {"mcp": "mcp", "space": "gradio_client"}
"""The module each kind of tool entry needs (an MCP client, a Gradio client)."""


def requirements_for(spec: AgentSpec, sources: Any) -> list[str]:
    """The distributions the spec's tools need: smolkernel, plus what their code and import paths import."""
    modules: set[str] = set()
    for source in sources:
        modules |= _imported_modules(source)
    for current in _all_specs(spec):
        for entry in current.tools:
            if isinstance(entry, str):
                modules.add(entry.split(":")[0].split(".")[0])
            elif isinstance(entry, dict):
                modules.update(module for kind, module in _ENTRY_MODULES.items() if kind in entry)
    return ["smolkernel", *sorted(_distributions(modules) - {"smolkernel"})]


def _all_specs(spec: AgentSpec) -> list[AgentSpec]:
    return [spec] + [s for m in spec.managed_agents for s in _all_specs(m)]


def _imported_modules(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _distributions(modules: set[str]) -> set[str]:
    wanted = {m for m in modules if m not in sys.stdlib_module_names and m != "smolkernel" and not m.startswith("smolkernel_shipped_tools_")}
    if not wanted:
        return set()
    mapping = _module_distributions()
    return {dist for module in wanted for dist in mapping.get(module, [])}


@functools.lru_cache(maxsize=1)
def _module_distributions() -> dict[str, list[str]]:
    """Top-level module -> distributions (scanning every installed package takes a second or two: once)."""
    from importlib.metadata import packages_distributions

    return packages_distributions()


def folder_spec(folder: str | Path) -> AgentSpec:
    """The AgentSpec a folder holds: ``agent.yaml`` (smolkernel) or ``agent.json`` (ours or smolagents 1.x).

    Raises:
        AgentSpecError: the folder holds no agent, or its spec is wrong.
    """
    from ..exceptions import AgentSpecError
    from ..spec import AgentSpec

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise AgentSpecError("no such folder", file=str(folder))
    json_file = folder / "agent.json"
    if not any((folder / name).is_file() for name in ("agent.yaml", "agent.yml")) and json_file.is_file():
        from .smolagents_folder import is_smolagents_file, smolagents_spec

        if is_smolagents_file(json_file):
            return smolagents_spec(folder)
    return AgentSpec.from_file(folder)


def load_folder(folder: str | Path, *, trust_remote_code: bool = False, kind: str | None = None, **build: Any) -> MultiStepAgent:
    """Build the agent saved in ``folder``.

    Args:
        folder: a folder written by ``agent.save`` (or by smolagents 1.x).
        trust_remote_code: run the tool code shipped in the folder. Refused
            by default: it is code someone else wrote; read it first.
        kind: ``code`` or ``toolcalling`` to insist on that kind of agent.
        **build: passed to ``AgentSpec.build`` (``model=``, ``executor=``).

    Raises:
        AgentSpecError: the folder or its spec is wrong, a tool does not
            load, or tool code is shipped and not trusted (the message says so).
        ConfigurationError: the folder holds another kind of agent than ``kind``.
    """
    spec = folder_spec(folder)
    if kind is not None and spec.kind != kind:
        other = "ToolCallingAgent" if spec.kind == "toolcalling" else "CodeAgent"
        raise ConfigurationError(f"{folder} holds a {spec.kind} agent; load it with {other}.from_folder or smolkernel.load_agent")
    return spec.build(trust_remote_code=trust_remote_code, **build)


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_like_hub_id(text: str) -> bool:
    """True for ``hub:ORG/NAME`` or a bare ``ORG/NAME`` that is not a local path."""
    return text.startswith("hub:") or (bool(_HUB_ID.match(text)) and not Path(text).expanduser().exists())
