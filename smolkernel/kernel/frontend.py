"""What the kernel learns about, and asks of, the client that sends it code.

Jupyter users reach the kernel through JupyterLab, ``jupyter console``,
papermill, nbclient... Each helper here adapts one behaviour to the client:

* ``WidgetFrontend``: does the client render widgets? A JupyterLab (or any
  ``@jupyter-widgets`` manager) opens a comm on the ``jupyter.widget.control``
  target as soon as it connects; a terminal or a headless runner never does.
* ``request_input``: the ``input_request`` / ``input_reply`` exchange on the
  stdin channel, awaited without blocking the event loop.
* ``console_command``: words a console user types that are not tasks
  (``exit``, ``quit``, ``help``).
* ``is_parameters_cell``: papermill's parameters cells, run as Python.
* ``notebook_dir`` / ``resolve_path``: relative paths in directives are
  found beside the notebook, even when a tool runs it from elsewhere.
"""

from __future__ import annotations

import ast
import asyncio
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "WidgetFrontend", "request_input", "console_command", "is_parameters_cell", "parameters_note", "notebook_dir", "resolve_path",
    "resolve_model_spec", "ASK_EXIT", "PARAMETER_TAGS",
]

CONTROL_TARGET = "jupyter.widget.control"
"""The comm target a widget manager opens when it connects to a kernel (ipywidgets 8)."""
PARAMETER_TAGS = frozenset({"parameters", "injected-parameters"})
"""Cell tags (papermill's) whose cells are Python, not tasks."""
ASK_EXIT = {"source": "ask_exit", "keepkernel": False}
"""The payload with which IPython asks a console to leave."""
_EXIT_WORDS = {"exit", "quit", "exit()", "quit()", "%exit", "%quit"}
_HELP_WORDS = {"help", "?", "help()"}


class WidgetFrontend:
    """Notices whether a connected client renders widgets.

    ``register`` adds a handler for the widget manager's control target; the
    first comm opened there sets ``seen`` and is handed to ipywidgets (which
    replaces this handler with its own when it is imported).
    """

    def __init__(self) -> None:
        self.seen = False
        """True once a client opened the widget control comm."""

    def register(self, comm_manager: Any) -> None:
        """Listen on the control target of ``comm_manager`` (unless ipywidgets already does)."""
        if CONTROL_TARGET not in getattr(comm_manager, "targets", {}):
            comm_manager.register_target(CONTROL_TARGET, self._opened)

    def _opened(self, comm: Any, msg: dict[str, Any]) -> None:
        self.seen = True
        try:
            from ipywidgets import Widget
        except ImportError:  # no ipywidgets here: nothing to restore, answer with no widgets
            comm.on_msg(lambda _msg: comm.send({"method": "update_states", "states": {}, "buffer_paths": []}))
            return
        Widget.handle_control_comm_opened(comm, msg)

    def renders_widgets(self) -> bool:
        """True when widgets can be shown live: a client opened the control comm, or ipywidgets holds one."""
        if self.seen:
            return True
        module = sys.modules.get("ipywidgets")  # a client that connected after ipywidgets took the target
        widget = getattr(module, "Widget", None)
        return widget is not None and getattr(widget, "_control_comm", None) is not None


async def request_input(kernel: Any, prompt: str, password: bool = False, poll: float = 0.02) -> str:
    """Ask the client for a line of input on the stdin channel and return it (``"\\x04"`` at end of file).

    Unlike ipykernel's ``raw_input`` it does not block the event loop, so the
    workspace's output and an interrupt (which cancels the wait) still get through.
    """
    if not kernel._allow_stdin:
        return "\x04"
    socket = kernel.stdin_socket
    while socket.poll(0):  # stale replies of an earlier, abandoned request
        socket.recv_multipart()
    ident = kernel._get_shell_context_var(kernel._shell_parent_ident)
    content = {"prompt": prompt, "password": password}
    kernel.session.send(socket, "input_request", content, kernel.get_parent("shell"), ident=ident)
    while True:
        if socket.poll(0):
            _, reply = kernel.session.recv(socket)
            if reply is not None and reply.get("header", {}).get("msg_type") == "input_reply":
                value = reply.get("content", {}).get("value", "")
                return value if isinstance(value, str) else str(value)
            continue
        await asyncio.sleep(poll)


def console_command(code: str) -> str | None:
    """``"exit"`` or ``"help"`` when the cell is one of the words a console user types for those; else None."""
    word = code.strip()
    if word in _EXIT_WORDS:
        return "exit"
    if word in _HELP_WORDS:
        return "help"
    return None


def is_parameters_cell(code: str, cell_meta: Any = None) -> bool:
    """True for a parameters cell: tagged so by the client, or only assignments of literal values.

    papermill's clients do not send cell tags to the kernel, so the cell's
    shape decides: ``name = literal`` lines and comments (what papermill
    injects, and what a ``parameters`` cell holds). No task reads like that.
    """
    tags = cell_meta.get("tags") if isinstance(cell_meta, dict) else None
    if isinstance(tags, list) and PARAMETER_TAGS.intersection(tags):
        return True
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    if not tree.body:
        return False
    for node in tree.body:
        if not isinstance(node, ast.Assign) or not all(isinstance(t, ast.Name) for t in node.targets):
            return False
        try:
            ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    return True


def parameters_note(code: str) -> str:
    """A line for the next task naming the variables a parameters cell set (empty when none can be read)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return ""
    parts = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            value = ast.get_source_segment(code, node.value) or "..."
            value = value if len(value) <= 80 else value[:77] + "..."
            parts.extend(f"{target.id} = {value}" for target in node.targets if isinstance(target, ast.Name))
    return f"(The notebook's parameters are variables in the workspace: {'; '.join(parts)}.)" if parts else ""


@lru_cache(maxsize=1)
def notebook_dir() -> Path | None:
    """The folder of the notebook this kernel runs, when it can be known.

    From ``JPY_SESSION_NAME`` (set by jupyter_server), else from the command
    line of the process that started the kernel (papermill, ``jupyter
    nbconvert --execute``, ``jupyter execute``: the first ``.ipynb`` argument
    that exists, read from ``/proc`` on Linux). None when neither tells.
    """
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb") and Path(session).is_absolute() and Path(session).exists():
        return Path(session).parent
    return _parent_notebook_dir(os.getppid())


def _parent_notebook_dir(pid: int) -> Path | None:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None
    for raw in args[1:]:
        arg = raw.decode(errors="replace")
        if arg.endswith(".ipynb") and not arg.startswith("-"):
            path = cwd / arg
            if path.is_file():
                return path.parent.resolve()
    return None


def resolve_path(path: str) -> str:
    """``path`` as given when absolute; else beside the notebook when it is there, else from the working folder."""
    given = Path(path).expanduser()
    if given.is_absolute():
        return str(given)
    folder = notebook_dir()
    if folder is not None and ((folder / given).exists() or not given.exists()):
        return str(folder / given)
    return str(given)


_FILE_SPECS = ("scripted:", "replay:")


def resolve_model_spec(spec: str) -> str:
    """A model spec whose file (``scripted:FILE``, ``replay:FILE``) is found as ``resolve_path`` finds it."""
    for prefix in _FILE_SPECS:
        if spec.startswith(prefix) and spec[len(prefix):]:
            return prefix + resolve_path(spec[len(prefix):])
    return spec
