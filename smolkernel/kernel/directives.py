"""Directives: the cells that begin with ``%`` in the SmolKernel.

Each directive is one async handler in a registry, so the list in ``%help``,
the error for an unknown name and the completions all come from one place.
Handlers write through the cell's ``CellOutput``, raise ``CellFailed`` to end
the cell with an error, and ``ConfigurationError`` for a wrong argument (the
kernel shows its message, not a traceback).
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from .session import AGENT_KINDS

if TYPE_CHECKING:
    from .kernel import SmolKernel
    from .output import CellOutput
    from .session import AgentSession

__all__ = ["Directive", "DirectiveContext", "CellFailed", "DIRECTIVES", "parse_directive", "run_directive", "help_text"]


class CellFailed(Exception):
    """Ends a cell with an error reply; ``shown`` when the error output was already sent."""

    def __init__(self, ename: str, evalue: str, traceback: list[str] | None = None, *, shown: bool = False) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue, self.traceback, self.shown = ename, evalue, traceback, shown


@dataclass
class DirectiveContext:
    """What a directive handler may use."""

    kernel: SmolKernel
    session: AgentSession
    out: CellOutput
    execution_count: int
    payload: list[dict[str, Any]] = field(default_factory=list)
    """Payloads for the execute reply (``%export`` adds ``set_next_input``)."""


Handler = Callable[[DirectiveContext, list[str], str], Awaitable[None]]


@dataclass
class Directive:
    """One directive: ``%name`` (line) or ``%%name`` (cell, with a body)."""

    name: str
    usage: str
    help: str
    handler: Handler
    cell: bool = False
    choices: tuple[str, ...] = ()
    """Words offered when completing the first argument."""

    @property
    def prefix(self) -> str:
        """``%`` or ``%%``."""
        return "%%" if self.cell else "%"


DIRECTIVES: dict[str, Directive] = {}


def directive(name: str, usage: str, help: str, *, cell: bool = False, choices: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Register the decorated coroutine as the handler of ``%name`` (``%%name`` with ``cell``)."""

    def register(handler: Handler) -> Handler:
        DIRECTIVES[name] = Directive(name, usage, help, handler, cell, choices)
        return handler

    return register


def parse_directive(code: str) -> tuple[str, bool, list[str], str]:
    """Split a directive cell into (name, is_cell, arguments, body).

    Raises:
        ConfigurationError: the arguments are not valid shell words (an open quote).
    """
    first, _, body = code.lstrip().partition("\n")
    is_cell = first.startswith("%%")
    words = first.lstrip("%").split(None, 1)
    name = words[0] if words else ""
    try:
        args = shlex.split(words[1]) if len(words) > 1 else []
    except ValueError as exc:
        raise ConfigurationError(f"%{name}: cannot read the arguments ({exc})") from None
    return name, is_cell, args, body


def help_text() -> str:
    """Every directive with its usage and what it does."""
    width = max(len(d.usage) for d in DIRECTIVES.values())
    lines = [f"  {d.usage.ljust(width)}  {d.help}" for d in DIRECTIVES.values()]
    return "Directives (any other cell is a task for the agent):\n" + "\n".join(lines) + "\n"


def valid_names() -> str:
    """``%model, %agent, ...`` for error messages."""
    return ", ".join(f"{d.prefix}{d.name}" for d in DIRECTIVES.values())


async def run_directive(ctx: DirectiveContext, code: str) -> None:
    """Run the directive cell ``code``.

    Raises:
        CellFailed: an unknown directive, or the directive failed.
        ConfigurationError: a wrong argument.
    """
    name, is_cell, args, body = parse_directive(code)
    found = DIRECTIVES.get(name)
    if found is None or found.cell != is_cell:
        shown = f"{'%%' if is_cell else '%'}{name}"
        hint = f" (did you mean {found.prefix}{name}?)" if found is not None else ""
        raise CellFailed("UnknownDirective", f"{shown} is not a directive{hint}. Valid: {valid_names()}")
    await found.handler(ctx, args, body)


def split_options(name: str, args: list[str], allowed: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Separate ``--option VALUE`` pairs (also ``--option=VALUE``) from positional words.

    Raises:
        ConfigurationError: an unknown option or one without a value.
    """
    positional: list[str] = []
    options: dict[str, str] = {}
    words = iter(args)
    for word in words:
        if not word.startswith("--"):
            positional.append(word)
            continue
        key, eq, value = word.partition("=")
        if key not in allowed:
            raise ConfigurationError(f"%{name}: unknown option {key}; options: {', '.join(allowed) or 'none'}")
        if not eq:
            value = next(words, "")
        if not value:
            raise ConfigurationError(f"%{name}: {key} needs a value")
        options[key] = value
    return positional, options


# -- the directives ----------------------------------------------------------


@directive(
    "model",
    "%model SPEC [--api-base URL] [--api-key-env VAR] [--record FILE] [--if-unset]",
    "set the model (no SPEC: show it); --record writes a cassette, --if-unset keeps a configured model",
)
async def _model(ctx: DirectiveContext, args: list[str], body: str) -> None:
    if_unset = "--if-unset" in args
    args = [a for a in args if a != "--if-unset"]
    positional, options = split_options("model", args, ("--api-base", "--api-key-env", "--record"))
    if if_unset and ctx.session.has_model():
        current = ctx.session.model or ctx.session.model_spec or os.environ.get("SMOLKERNEL_MODEL", "").strip()
        ctx.out.stream(f"model: {current!r} (already configured; {positional[0] if positional else 'the default'} not used)\n")
        return
    if not positional:
        current = ctx.session.model or ctx.session.model_spec
        ctx.out.stream(f"model: {current!r}\n" if current else "no model is set\n")
        return
    if len(positional) > 1:
        raise ConfigurationError("%model takes one model spec, e.g. %model openai/gpt-4o-mini")
    from .frontend import resolve_model_spec, resolve_path

    record = resolve_path(options["--record"]) if "--record" in options else None
    model = ctx.session.set_model(
        resolve_model_spec(positional[0]), api_base=options.get("--api-base"), api_key_env=options.get("--api-key-env"), record=record
    )
    ctx.out.stream(f"model: {model!r}\n")


@directive("agent", "%agent code|toolcalling", "choose the kind of agent (memory and tools stay)", choices=tuple(AGENT_KINDS))
async def _agent(ctx: DirectiveContext, args: list[str], body: str) -> None:
    if not args:
        ctx.out.stream(f"agent: {ctx.session.agent_kind}\n")
        return
    if len(args) != 1:
        raise ConfigurationError(f"%agent takes one of: {', '.join(AGENT_KINDS)}")
    ctx.session.set_agent_kind(args[0])
    ctx.out.stream(f"agent: {args[0]} ({AGENT_KINDS[args[0]]})\n")


def _executor_names() -> tuple[str, ...]:
    from ..executors.registry import EXECUTOR_NAMES

    return tuple(EXECUTOR_NAMES)


@directive("executor", "%executor NAME [--timeout S]", "choose where code runs (the workspace restarts)", choices=("kernel", "local", "sandbox", "docker", "wasm", "e2b", "modal", "jupyter-server"))
async def _executor(ctx: DirectiveContext, args: list[str], body: str) -> None:
    positional, options = split_options("executor", args, ("--timeout",))
    session = ctx.session
    if not positional:
        ctx.out.stream(f"executor: {session.executor_name} (timeout {session.executor_timeout} s)\n")
        return
    timeout: float | None = session.executor_timeout
    if "--timeout" in options:
        try:
            timeout = float(options["--timeout"])
        except ValueError:
            raise ConfigurationError(f"%executor: --timeout takes seconds, not {options['--timeout']!r}") from None
        timeout = timeout if timeout > 0 else None
    if len(positional) != 1 or positional[0] not in _executor_names():
        raise ConfigurationError(f"%executor takes one of: {', '.join(_executor_names())}")
    await session.set_executor(positional[0], timeout)
    ctx.out.stream(f"executor: {positional[0]} (timeout {timeout} s); the workspace starts afresh\n")


@directive("tools", "%tools [NAME ...] [remove NAME ...] [mcp COMMAND|URL]",
           "list tools; add them by name (host namespace), module path, or from an MCP server", choices=("remove", "mcp"))
async def _tools(ctx: DirectiveContext, args: list[str], body: str) -> None:
    session = ctx.session
    if args and args[0] == "mcp":
        await _add_mcp(ctx, args[1:])
    elif args and args[0] == "remove":
        missing = session.remove_tools(args[1:])
        if missing:
            raise ConfigurationError(f"%tools remove: no tool named {', '.join(missing)}")
    elif args:
        found = [tool for name in args for tool in _find_tools(ctx, name)]
        session.add_tools(found)
    if not session.tools:
        ctx.out.stream("no tools yet (final_answer is always there); add some with %tools NAME or a %%tool cell\n")
        return
    lines = [f"  {t.usage()}: {t.description.splitlines()[0] if t.description else ''}" for t in session.tools.values()]
    servers = [f"  {c.label}{'' if c.connected else ' (stopped)'}" for c in session.mcp_clients]
    extra = "MCP servers:\n" + "\n".join(servers) + "\n" if servers else ""
    ctx.out.stream("tools:\n" + "\n".join(lines) + "\n" + extra)


async def _add_mcp(ctx: DirectiveContext, args: list[str]) -> None:
    """``%tools mcp [--timeout S] COMMAND ...|URL``: options only before the server's own words."""
    timeout = 30.0
    while args and args[0].startswith("--timeout"):
        key, eq, value = args[0].partition("=")
        value, args = (value, args[1:]) if eq else ((args[1] if len(args) > 1 else ""), args[2:])
        try:
            timeout = float(value)
        except ValueError:
            raise ConfigurationError(f"%tools mcp: --timeout takes seconds, not {value!r}") from None
    if not args:
        servers = ", ".join(c.label for c in ctx.session.mcp_clients) or "none yet"
        raise ConfigurationError(f"%tools mcp needs a server: a command (%tools mcp mcp-server-time) or a URL "
                                 f"(%tools mcp http://127.0.0.1:8000/mcp); connected: {servers}")
    server = args[0] if len(args) == 1 and args[0].lower().startswith(("http://", "https://")) else args
    ctx.out.stream(f"connecting to the MCP server {' '.join(args)} ...\n")
    tools = await ctx.session.add_mcp_server(server, timeout=timeout)
    ctx.out.stream(f"tools added from MCP: {', '.join(t.name for t in tools) or '(the server has none)'}\n")


def _find_tools(ctx: DirectiveContext, name: str) -> list[Any]:
    """The Tool(s) ``name`` names: a host variable, ``pkg.mod:attr``, ``pkg.mod.attr`` or a module."""
    from ..tools import Tool

    namespace = ctx.kernel.shell.user_ns if ctx.kernel.shell is not None else {}
    if name in namespace:
        value = namespace[name]
    elif "." in name or ":" in name:
        value = _import_path(name)
    else:
        raise ConfigurationError(f"%tools: no variable {name!r} in the kernel; define it in a %%tool cell or give a module path")
    if isinstance(value, Tool):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Tool) for v in value):
        return list(value)
    members = [v for v in vars(value).values() if isinstance(v, Tool)] if hasattr(value, "__spec__") else []
    if members:
        return members
    raise ConfigurationError(f"%tools: {name!r} is not a Tool (decorate the function with @tool or subclass Tool)")


def _import_path(path: str) -> Any:
    from importlib import import_module

    module_name, _, attr = path.partition(":")
    try:
        if attr:
            return getattr(import_module(module_name), attr)
        try:
            return import_module(path)
        except ImportError:
            parent, _, attr = path.rpartition(".")
            return getattr(import_module(parent), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"%tools: cannot import {path!r}: {exc}") from None


@directive("tool", "%%tool", "run the cell in the host; its @tool functions and Tool instances become tools", cell=True)
async def _tool_cell(ctx: DirectiveContext, args: list[str], body: str) -> None:
    from ..tools import Tool

    namespace = ctx.kernel.shell.user_ns
    before = {key: id(value) for key, value in namespace.items()}
    result = await ctx.kernel.run_host_code(body)
    if not result.success:
        error = result.error_before_exec or result.error_in_exec
        raise CellFailed(type(error).__name__, str(error), shown=True)
    made = [v for k, v in namespace.items() if isinstance(v, Tool) and before.get(k) != id(v)]
    if not made:
        ctx.out.stream("no tools were defined in this cell (decorate a function with @tool, or create a Tool instance)\n", "stderr")
        return
    for key, value in namespace.items():
        if any(value is item for item in made):
            # what agent.save() and %save write for this tool: the cell, with what it uses from other cells
            value._cell_source, value._cell_namespace, value._source_attribute = body, namespace, key
    ctx.session.add_tools(made)
    ctx.out.stream(f"tools added: {', '.join(t.name for t in made)}\n")


@directive("memory", "%memory [show|size N|clear]", "show the memory window, resize it, or clear it", choices=("show", "size", "clear"))
async def _memory(ctx: DirectiveContext, args: list[str], body: str) -> None:
    memory = ctx.session.memory
    action = args[0] if args else "show"
    if action == "size":
        if len(args) != 2 or not args[1].isdigit():
            raise ConfigurationError("%memory size takes a whole number, e.g. %memory size 3")
        memory.resize(int(args[1]))
        ctx.out.stream(f"memory keeps the last {memory.memory_size} interactions\n")
    elif action == "clear":
        memory.clear()
        ctx.out.stream("memory cleared\n")
    elif action == "show" and len(args) <= 1:
        ctx.kernel.show_memory(ctx.out, memory)
    else:
        raise ConfigurationError("%memory takes show, size N or clear")


@directive("usage", "%usage", "tokens, steps and time spent so far")
async def _usage(ctx: DirectiveContext, args: list[str], body: str) -> None:
    ctx.kernel.show_usage(ctx.out, ctx.session.memory)


@directive("reset", "%reset", "forget the memory and the workspace's variables")
async def _reset(ctx: DirectiveContext, args: list[str], body: str) -> None:
    await ctx.session.reset()
    ctx.out.stream("memory and workspace cleared\n")


@directive("python", "%%python", "run the cell as Python in the agent's workspace", cell=True)
async def _python(ctx: DirectiveContext, args: list[str], body: str) -> None:
    from .forward import run_python_cell

    await run_python_cell(ctx, body)


@directive(
    "unfinished", "%unfinished error|allow",
    "a task that ends without a final answer (max_steps) fails its cell (error), or not (allow)", choices=("error", "allow"),
)
async def _unfinished(ctx: DirectiveContext, args: list[str], body: str) -> None:
    kernel = ctx.kernel
    if args and (len(args) != 1 or args[0] not in ("error", "allow")):
        raise ConfigurationError("%unfinished takes error or allow")
    if args:
        kernel.allow_unfinished = args[0] == "allow"
    state = "allow" if kernel.allow_unfinished else "error"
    ctx.out.stream(f"unfinished tasks: {state} ({'the cell ends ok' if state == 'allow' else 'the cell fails with MaxStepsReached'})\n")


@directive("export", "%export", "offer the code of the last task as a new cell below")
async def _export(ctx: DirectiveContext, args: list[str], body: str) -> None:
    agent = ctx.session.agent
    run = agent.last_run if agent is not None else None
    code = run.code if run is not None else ""
    if not code:
        raise ConfigurationError("%export: no code to export yet; run a task first (with the code agent)")
    header = f"# code of the task: {run.task.splitlines()[0][:100]}\n" if run.task else ""
    ctx.payload.append({"source": "set_next_input", "text": header + code, "replace": False})
    ctx.out.stream("the code of the last task is in a new cell below\n")


@directive("save", "%save FOLDER|hub:ORG/NAME [--public] [--message TEXT]", "save the agent (spec, tool code, requirements) to a folder or push it to the Hub")
async def _save(ctx: DirectiveContext, args: list[str], body: str) -> None:
    public = "--public" in args
    positional, options = split_options("save", [a for a in args if a != "--public"], ("--message",))
    if len(positional) != 1:
        raise ConfigurationError("%save takes one folder or hub:ORG/NAME, e.g. %save my_agent")
    agent = ctx.session.ensure_agent()
    target = positional[0]
    if target.startswith("hub:"):
        revision = await asyncio.to_thread(agent.push_to_hub, target[4:], private=not public, commit_message=options.get("--message"))
        ctx.out.stream(f"pushed to {target} (revision {revision[:12]}); load it with %load {target}\n")
        return
    from .frontend import resolve_path

    folder = await asyncio.to_thread(agent.save, resolve_path(target))
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.parent.name in (folder.name, "tools"))
    ctx.out.stream(f"saved to {folder}: {', '.join(files)}\n")


@directive("load", "%load FOLDER|hub:ORG/NAME [--trust-remote-code] [--revision REV]", "load a saved agent: its model, kind, tools and settings (memory stays)")
async def _load(ctx: DirectiveContext, args: list[str], body: str) -> None:
    from ..sharing.folder import folder_spec, looks_like_hub_id

    trust = "--trust-remote-code" in args
    positional, options = split_options("load", [a for a in args if a != "--trust-remote-code"], ("--revision",))
    if len(positional) != 1:
        raise ConfigurationError("%load takes one folder or hub:ORG/NAME, e.g. %load my_agent --trust-remote-code")
    source = positional[0]
    if looks_like_hub_id(source):
        from ..sharing.hub import download_agent

        folder = await asyncio.to_thread(download_agent, source, revision=options.get("--revision"))
    elif "--revision" in options:
        raise ConfigurationError("%load: --revision is for hub:ORG/NAME sources")
    else:
        from .frontend import resolve_path

        folder = resolve_path(source)
    spec = folder_spec(folder)
    agent = await ctx.session.adopt(spec, trust_remote_code=trust)
    tools = ", ".join(t.name for t in ctx.session.tools.values()) or "none"
    ctx.out.stream(f"loaded {type(agent).__name__} {agent.name or ''} from {source}: model {spec.model or '(default)'}, tools: {tools}\n".replace("  ", " "))


@directive("help", "%help", "this list")
async def _help(ctx: DirectiveContext, args: list[str], body: str) -> None:
    ctx.out.stream(help_text())


def complete_directive(code: str, cursor_pos: int) -> dict[str, Any] | None:
    """Completions when the cursor is in a directive's first line (None elsewhere)."""
    line_end = code.find("\n")
    if line_end != -1 and cursor_pos > line_end:
        return None
    before = code[:cursor_pos]
    if not before.lstrip().startswith("%"):
        return None
    words = before.lstrip().split()
    if len(words) <= 1 and not before.endswith(" "):
        token = words[0] if words else "%"
        matches = [f"{d.prefix}{d.name}" for d in DIRECTIVES.values() if f"{d.prefix}{d.name}".startswith(token)]
        return _reply(matches, cursor_pos - len(token), cursor_pos)
    found = DIRECTIVES.get(words[0].lstrip("%"))
    typed = "" if before.endswith(" ") else words[-1]
    at_first_arg = len(words) == 1 or (len(words) == 2 and typed)
    if found is None or not at_first_arg:
        return _reply([], cursor_pos, cursor_pos)
    return _reply([c for c in found.choices if c.startswith(typed)], cursor_pos - len(typed), cursor_pos)


def _reply(matches: list[str], start: int, end: int) -> dict[str, Any]:
    return {"matches": matches, "cursor_start": start, "cursor_end": end, "metadata": {}, "status": "ok"}
