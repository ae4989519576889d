"""A single tool as files: ``tool.py`` (+ ``requirements.txt``), saved, pushed and loaded.

``tool.py`` is the same file smolagents writes for a shared tool, so
``load_tool`` reads both: a module defining a smolkernel Tool (an instance, a
``@tool`` function or a Tool subclass) or a smolagents Tool subclass, which
is adapted with ``Tool.from_smolagents``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError, UntrustedCodeError

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["save_tool", "load_tool", "TOOL_FILE"]

TOOL_FILE = "tool.py"


def save_tool(item: Tool, folder: str | Path) -> Path:
    """Write ``tool.py`` and ``requirements.txt`` for ``item`` into ``folder``; return the folder.

    Raises:
        ConfigurationError: the tool's source cannot be written (see ``tool_source``).
    """
    from .folder import _distributions, _imported_modules
    from .source import tool_source

    folder = Path(folder).expanduser()
    source = tool_source(item)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TOOL_FILE).write_text(source, encoding="utf-8")
    needs = ["smolkernel", *sorted(_distributions(_imported_modules(source)) - {"smolkernel"})]
    (folder / "requirements.txt").write_text("\n".join(needs) + "\n", encoding="utf-8")
    return folder


def load_tool(
    source: str | Path,
    *,
    trust_remote_code: bool = False,
    revision: str | None = None,
    token: str | None = None,
    name: str | None = None,
    repo_type: str | None = None,
    endpoint: str | None = None,
) -> Tool:
    """Load a shared tool: a Hub repository id (``ORG/NAME`` or ``hub:ORG/NAME``), a folder or a ``.py`` file.

    Args:
        source: where the tool is.
        trust_remote_code: the tool's code runs in this process, so loading
            is refused unless you pass True after reading it.
        revision: a commit, branch or tag (Hub only).
        name: which tool, when the file defines several.

    Raises:
        UntrustedCodeError: ``trust_remote_code`` is not True.
        ConfigurationError: the tool cannot be found, fetched or loaded.
    """
    from ..tools.entries import _defined_tools, load_module_from_source, tools_from_value
    from .folder import looks_like_hub_id

    text = str(source)
    if not trust_remote_code:
        raise UntrustedCodeError(
            f"load_tool({text!r}) runs the tool's code in this process; read its {TOOL_FILE} first, "
            "then call load_tool again with trust_remote_code=True"
        )
    if looks_like_hub_id(text):
        from .hub import download_file

        path = download_file(text, TOOL_FILE, revision=revision, token=token, repo_type=repo_type, endpoint=endpoint)
    else:
        path = Path(text).expanduser()
        path = path / TOOL_FILE if path.is_dir() else path
    try:
        code = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the tool at {str(path)!r}: {exc.strerror or exc}") from None
    module = load_module_from_source(code, str(path))
    if name and hasattr(module, name):
        tools = tools_from_value(getattr(module, name), name)
    else:
        tools = [t for t in _defined_tools(module) if name is None or t.name == name]
    if len(tools) != 1:
        found = ", ".join(t.name for t in tools) or "none"
        raise ConfigurationError(f"{text} must define exactly one tool (found: {found}); pass name=... to choose")
    tools[0]._source_code = code  # type: ignore[attr-defined]
    return tools[0]
