"""``%%agent`` and ``%agent``: an agent in any IPython kernel, working on the notebook's own data.

::

    %load_ext smolkernel
    %agent config model=openai/gpt-4o-mini api_key_env=OPENAI_API_KEY

    %%agent --out summary
    Which region of `sales` has the highest revenue? Keep the totals in `by_region`.

The cell is the task; ``{name}`` in it is filled from the notebook's
variables. With the default ``local`` executor the agent's code runs in the
notebook's namespace, so it reads ``sales`` and leaves ``by_region`` there.
The final answer is the cell's value (and, with ``--out``, a variable).
"""

from __future__ import annotations

import re
import shlex
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from smolkernel.exceptions import ConfigurationError, RunError, RunInterrupted, SmolkernelError

from ._config import AgentConfig, convert_value, parse_config_items, split_names
from ._runner import STOP_GRACE_SECONDS, RunOutcome, run_interruptibly
from ._session import AgentSession
from ._task import describe_variables, fill_task, lookup_variables
from ._views import RunDisplay, open_run_view, show_memory, show_usage

__all__ = ["AgentMagics", "load_ipython_extension", "unload_ipython_extension"]

SUBCOMMANDS = ("config", "tools", "memory", "usage", "reset", "export", "save", "load")
"""Words that make ``%agent`` a command instead of a task."""

_OPTION = re.compile(r"--?[A-Za-z][\w-]*(=\S*)?")
_ERROR_DETAIL_CHARS = 300


def _run_options(prog: str) -> Any:
    """Decorator: the options shared by ``%%agent`` and ``%agent TASK``, shown in help as ``%prog``."""
    return lambda func: _add_run_options(func, prog)


def _add_run_options(func: Any, prog: str) -> Any:
    options = [
        argument("--model", help="model spec, e.g. openai/gpt-4o-mini, hf:ORG/NAME, scripted:FILE (default: %%agent config model=..., or $SMOLKERNEL_MODEL)"),
        argument("--api-base", dest="api_base", help="base URL of the model's server (OpenAI-compatible servers, proxies)"),
        argument("--api-key-env", dest="api_key_env", help="environment variable that holds the API key"),
        argument("--kind", help="code (CodeAgent, default) or toolcalling (ToolCallingAgent)"),
        argument("--executor", help="where code runs: local (this notebook's namespace, default), kernel, sandbox"),
        argument("--tools", help="comma-separated names of @tool functions defined in the notebook"),
        argument("--vars", help="comma-separated variables to give the agent (sent to kernel/sandbox executors)"),
        argument("--out", help="also store the final answer in this variable (with --over: the results DataFrame)"),
        argument("--over", help="run the task once per item of this list, Series or DataFrame (rows fill {column}), as a batch"),
        argument("--concurrency", help="with --over: items at once (default 16)"),
        argument("--max-steps", dest="max_steps", help="steps before the run gives up (default 10)"),
        argument("--memory-size", dest="memory_size", help="past tasks remembered across cells (default 5)"),
        argument("--record", help="append every model call to this cassette file (replay with --model replay:FILE)"),
    ]
    for decorator in reversed(options):
        func = decorator(func)
    return magic_arguments(name=prog)(func)


@magics_class
class AgentMagics(Magics):
    """The ``%agent`` line magic and ``%%agent`` cell magic (one ``AgentSession`` per shell)."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.session = AgentSession(shell.user_ns)
        """The agents, settings and run history of this shell."""

    # -- the magics -------------------------------------------------------------

    @no_var_expand
    @cell_magic("agent")
    @_run_options("%agent")
    def agent_cell(self, line: str, cell: str) -> Any:
        """Run the cell as a task for an agent; the final answer is the cell's value.

        ``{name}`` in the cell is replaced by the value of the notebook
        variable ``name`` (``{{`` and ``}}`` for literal braces). With the
        default ``local`` executor the agent's code runs in this notebook's
        namespace: it reads your variables and what it defines stays here.
        Cells with the same settings share one agent, which remembers earlier
        tasks (``--memory-size``). Defaults come from ``%agent config``.

        Example::

            %%agent --out top --max-steps 5
            Which product in {table_name} sold best? Put the totals in `totals`.
        """
        args = self._parse(self.agent_cell, line, "%%agent")
        return self._run_task(args, cell)

    @no_var_expand
    @line_magic("agent")
    @_run_options("agent")
    @argument("task", nargs="*", help="the task (or a command: config, tools, memory, usage, reset, export, save, load)")
    def agent_line(self, line: str) -> Any:
        """A one-line task, or a command for the agents of this notebook.

        Commands::

            %agent config                      show the defaults
            %agent config KEY=VALUE ...        set defaults for later cells: model, api_base,
                                               api_key_env, kind, executor, tools, memory_size,
                                               max_steps, timeout, imports, pickle, record
            %agent tools                       the tools configured and the @tool objects defined
            %agent tools mcp COMMAND|URL       add an MCP server's tools to every agent
            %agent memory                      the memory of the latest agent
            %agent usage                       tokens per run and the session's totals
            %agent reset                       forget memories, stop sibling kernels (variables stay)
            %agent export                      put the last run's code in a new cell
            %agent save FOLDER|hub:ORG/NAME    save the latest agent (spec, tool code, requirements)
                 [--public] [--message TEXT]   or push it to the Hub
            %agent load FOLDER|hub:ORG/NAME    make a saved agent the notebook's agent
                 [--trust-remote-code] [--revision REV]

        Anything else is a task, after optional options:
        ``%agent --max-steps 3 Give the mean of {column}``. A task that
        begins with one of the command words goes in a ``%%agent`` cell, and
        so does a question ending in ``?`` (IPython reads a line ending in
        ``?`` as a request for help).
        """
        words = line.strip().split(None, 1)
        if not words:
            raise UsageError("%agent needs a task or a command (config, tools, memory, usage, reset, export, save, load); see %agent?")
        command, rest = words[0], (words[1] if len(words) > 1 else "")
        if command in SUBCOMMANDS:
            return self._command(command, rest)
        options, task = _split_options(line)
        args = self._parse(self.agent_line, options, "%agent")
        return self._run_task(args, task)

    # -- commands -----------------------------------------------------------------

    def _command(self, command: str, rest: str) -> Any:
        if command == "config":
            self._config(rest)
            return None
        if command == "tools" and rest.split(None, 1)[:1] == ["mcp"]:
            self._add_mcp(rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else "")
            return None
        if command in ("save", "load"):
            from ._sharing import load_command, save_command

            return load_command(self.session, rest) if command == "load" else save_command(self.session, rest)
        if rest.strip():
            raise UsageError(f"%agent {command} takes no arguments; for a task that begins with {command!r}, use a %%agent cell")
        if command == "tools":
            self._show_tools()
        elif command == "memory":
            agent = self.session.last_agent
            if agent is None:
                raise UsageError("no agent has run yet in this session; run a %%agent cell first")
            show_memory(self.shell, agent.memory)
        elif command == "usage":
            show_usage(self.shell, self.session.results)
        elif command == "reset":
            self.session.reset()
            print("Agents reset: memories forgotten, sibling kernels stopped; your variables and usage totals stay.")
        elif command == "export":
            self._export()

    def _config(self, text: str) -> None:
        if not text.strip():
            print(self.session.defaults.describe())
            return
        filled = fill_task(text, self.shell.user_ns)
        try:
            items = shlex.split(filled)
        except ValueError as exc:
            raise UsageError(f"cannot read the settings: {exc}; write KEY=VALUE pairs, quoting values with spaces") from None
        changes = parse_config_items(items)
        if "tools" in changes:
            self.session.resolve_tools(changes["tools"])
        settings = self.session.defaults.with_settings(changes)
        if {"model", "api_base", "api_key_env"} & changes.keys() and settings.model_spec:
            self.session.model_for(settings)  # a wrong model or a missing key fails now, not at the first task
        self.session.defaults = settings
        shown = ", ".join(f"{key}={_show(value)}" for key, value in changes.items())
        print(f"%agent defaults set: {shown}")

    def _add_mcp(self, text: str) -> None:
        """``%agent tools mcp [--timeout S] COMMAND ...|URL``."""
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise UsageError(f"%agent tools mcp: cannot read the command: {exc}") from None
        timeout = 30.0
        if words and words[0].startswith("--timeout"):
            key, eq, value = words[0].partition("=")
            value, words = (value, words[1:]) if eq else ((words[1] if len(words) > 1 else ""), words[2:])
            timeout = convert_value("timeout", value)
        if not words:
            raise UsageError("%agent tools mcp needs a server: a command (%agent tools mcp mcp-server-time) or a URL (%agent tools mcp http://127.0.0.1:8000/mcp)")
        server = words[0] if len(words) == 1 and words[0].lower().startswith(("http://", "https://")) else words
        tools = self.session.add_mcp_server(server, timeout=timeout)
        print(f"MCP tools added for every agent of this notebook: {', '.join(t.name for t in tools) or '(the server has none)'}")

    def _show_tools(self) -> None:
        from smolkernel.tools import Tool

        configured = self.session.defaults.tools
        for client in self.session.mcp_clients:
            print(f"MCP server {client.label}: {', '.join(t.name for t in client.tools)}  (every agent gets these)")
        print(f"Configured tools: {', '.join(configured) if configured else '(none)'}  (set with %agent config tools=a,b or --tools a,b)")
        found = [(name, value) for name, value in self.shell.user_ns.items() if isinstance(value, Tool) and not name.startswith("_")]
        if not found:
            print("No @tool objects are defined in this notebook.")
            return
        print("Tools defined in this notebook:")
        for name, value in found:
            description = (value.description or "").strip().splitlines()
            print(f"  {name}: {description[0] if description else '(no description)'}")

    def _export(self) -> None:
        agent = self.session.last_agent
        run = agent.last_run if agent is not None else None
        if run is None:
            raise UsageError("nothing to export yet: run a %%agent cell first")
        if not run.code:
            raise UsageError("the last run has no code that ran without error to export")
        from smolkernel.tools.final_answer import final_answer_as_assignment

        first = run.task.strip().splitlines()[0] if run.task.strip() else ""
        code = final_answer_as_assignment(run.code)  # runs on its own: the answer lands in `result`
        self.shell.set_next_input(f"# exported from %%agent: {first[:80]}\n{code}\n", replace=False)

    # -- running a task -------------------------------------------------------------

    def _parse(self, func: Any, line: str, name: str) -> Any:
        try:
            return parse_argstring(func, line)
        except UsageError as exc:
            raise UsageError(f"{name}: {exc}; see {name}? for the options") from None

    def _config_from(self, args: Any) -> AgentConfig:
        """The session defaults overridden by the options given on the magic's line."""
        changes: dict[str, Any] = {}
        for key in ("model", "api_base", "api_key_env", "kind", "executor", "tools", "max_steps", "memory_size", "record"):
            value = getattr(args, key, None)
            if value is not None:
                changes[key] = convert_value(key, value)
        return self.session.defaults.updated(**changes)

    def _run_task(self, args: Any, text: str) -> Any:
        """Run ``text`` as a task with the options in ``args``; return the final answer."""
        config = self._config_from(args)
        namespace = self.shell.user_ns
        if args.over is not None:
            return self._run_over(args, text, config)
        task = fill_task(text.strip(), namespace)
        if not task:
            raise UsageError("the task is empty; write it in the cell below %%agent (or after %agent)")
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out needs a variable name, got {args.out!r}")
        variables = lookup_variables(split_names(args.vars), namespace)
        self.session.check_sendable(config, variables)
        agent = self.session.agent_for(config)
        note = describe_variables(variables)
        full_task = f"{task}\n\n{note}" if note else task
        local = config.executor == "local" and config.kind == "code"
        view = open_run_view(self.shell, _first_line(task), config.max_steps)
        outcome = run_interruptibly(agent, full_task, variables=None if local else variables, on_event=view.handle_event)
        self.session.record(agent, outcome.result)
        result = self._check(outcome, view, config)
        if args.out is not None:
            namespace[args.out] = result.output
        return result.output

    def _run_over(self, args: Any, text: str, config: AgentConfig) -> Any:
        """``--over VAR``: the task for every item, fresh agents like this cell's; a DataFrame of results."""
        from ._batch import run_over

        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out needs a variable name, got {args.out!r}")
        concurrency = convert_value("max_steps", args.concurrency) if args.concurrency is not None else 16
        frame = run_over(self.shell, self.session.agent_for(config), text, args.over, concurrency=concurrency, timeout=None)
        if args.out is not None:
            self.shell.user_ns[args.out] = frame
        return frame

    def _check(self, outcome: RunOutcome, view: RunDisplay, config: AgentConfig) -> Any:
        """The run's result, or a short UsageError saying what went wrong and what to do."""
        if outcome.interrupted or isinstance(outcome.error, RunInterrupted):
            view.finish("interrupted")
            if not outcome.stopped:
                raise UsageError(
                    f"interrupted, but the agent's code did not stop within {STOP_GRACE_SECONDS:.0f} s (it is blocked, e.g. in time.sleep); "
                    "it ends at its timeout. The shell is usable; %agent reset starts afresh"
                )
            raise UsageError(f"interrupted: the run stopped after {outcome.stop_seconds:.1f} s; the shell is ready")
        error = outcome.error
        if error is not None:
            view.finish(f"{type(error).__name__}: {error}")
            if isinstance(error, (ConfigurationError, RunError)):
                raise UsageError(_short(str(error))) from None
            if isinstance(error, SmolkernelError):
                raise UsageError(f"the run failed: {_short(str(error))}") from None
            raise error
        result = outcome.result
        assert result is not None
        if not result.success and (result.error or "").startswith("The model call failed"):
            where = f" at {config.api_base}" if config.api_base else ""
            raise UsageError(
                f"the model {config.model_spec!r}{where} could not be used: {_short(result.error or '')}. "
                "Check the model name, --api-base (is the server running?) and the API key (--api-key-env), "
                "or pick another model with %agent config model=..."
            )
        if not result.success:
            error = result.error or "no final answer"
            if error.startswith("no final answer within max_steps"):
                advice = " The value shown is its last attempt; allow more steps with --max-steps."
            else:
                advice = ""
            print(f"The agent did not finish: {_short(error)}.{advice}", file=sys.stderr)
        return result


def _split_options(line: str) -> tuple[str, str]:
    """Split ``%agent`` text into the leading ``--options`` and the task after them.

    Every option takes a value (``--max-steps 3`` or ``--max-steps=3``); the
    task is everything after the last option value, untouched (quotes and all).
    """
    position = 0
    while True:
        match = _OPTION.match(line, _skip_spaces(line, position))
        if match is None:
            break
        position = match.end()
        if match.group(1) is None:
            value = re.compile(r"\S+").match(line, _skip_spaces(line, position))
            position = value.end() if value else len(line)
    return line[:position], line[position:].strip()


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:120] if stripped else ""


def _short(text: str) -> str:
    """The first line of an error message, cut to a readable length."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= _ERROR_DETAIL_CHARS else first[: _ERROR_DETAIL_CHARS - 3] + "..."


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or "(none)"
    return "(not set)" if value is None else str(value)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%agent`` and ``%%agent`` in ``ipython`` (an InteractiveShell)."""
    ipython.register_magics(AgentMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """Remove ``%agent`` / ``%%agent`` and stop the agents' executors."""
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        bound = manager.magics[kind].pop("agent", None)
        owner = getattr(bound, "__self__", None)
        if isinstance(owner, AgentMagics):
            owner.session.close()
    manager.registry.pop("AgentMagics", None)
