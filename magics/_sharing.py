"""``%agent save`` and ``%agent load``: share the notebook's agent as a folder or on the Hub.

``%agent save FOLDER|hub:ORG/NAME [--public] [--message TEXT]`` saves the
agent of the latest run (or the one the defaults describe). ``%agent load
FOLDER|hub:ORG/NAME [--trust-remote-code] [--revision REV]`` makes a saved
agent the notebook's agent: its settings become the ``%agent config``
defaults, its tools are defined in the notebook under their names, and the
next ``%%agent`` cell uses it (with the ``local`` executor, in the notebook's
own namespace, as every magics agent does).
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from smolkernel.exceptions import ConfigurationError

if TYPE_CHECKING:
    from smolkernel.agents.base import MultiStepAgent
    from smolkernel.spec import AgentSpec

    from ._session import AgentSession

__all__ = ["save_command", "load_command"]


def _words(command: str, rest: str, flags: tuple[str, ...], options: tuple[str, ...]) -> tuple[str, set[str], dict[str, str]]:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"%agent {command}: cannot read the arguments ({exc})") from None
    given = {w for w in words if w in flags}
    positional: list[str] = []
    values: dict[str, str] = {}
    items = iter(w for w in words if w not in flags)
    for word in items:
        key, eq, value = word.partition("=")
        if key in options:
            values[key] = value if eq else next(items, "")
        elif word.startswith("--"):
            raise UsageError(f"%agent {command}: unknown option {key}; options: {', '.join(flags + options)}")
        else:
            positional.append(word)
    if len(positional) != 1:
        raise UsageError(f"%agent {command} takes one folder or hub:ORG/NAME, e.g. %agent {command} my_agent")
    return positional[0], given, values


def save_command(session: AgentSession, rest: str) -> None:
    """``%agent save``: write the latest agent to a folder, or push it to the Hub.

    Raises:
        UsageError: no agent can be made, a part of it cannot be saved, or the Hub refused.
    """
    target, flags, values = _words("save", rest, ("--public",), ("--message",))
    agent = session.last_agent or session.agent_for(session.defaults)
    try:
        if target.startswith("hub:"):
            revision = agent.push_to_hub(target[4:], private="--public" not in flags, commit_message=values.get("--message"))
            print(f"Pushed to {target} (revision {revision[:12]}); load it with %agent load {target}")
            return
        folder = agent.save(os.path.expanduser(target))
    except ConfigurationError as exc:
        raise UsageError(f"%agent save: {exc}") from None
    print(f"Saved to {folder}: agent.yaml, requirements.txt" + (", tools/" if (folder / "tools").is_dir() else ""))


def load_command(session: AgentSession, rest: str) -> MultiStepAgent:
    """``%agent load``: make a saved agent the notebook's agent; returns it.

    Raises:
        UsageError: the source cannot be read, its spec is wrong, or its tool code is not trusted.
    """
    from smolkernel.sharing.folder import folder_spec, looks_like_hub_id

    source, flags, values = _words("load", rest, ("--trust-remote-code",), ("--revision",))
    try:
        if looks_like_hub_id(source):
            from smolkernel.sharing.hub import download_agent

            folder: Any = download_agent(source, revision=values.get("--revision"))
        else:
            folder = os.path.expanduser(source)
        spec = folder_spec(folder)
        agent = _build(session, spec, trust="--trust-remote-code" in flags)
    except ConfigurationError as exc:
        raise UsageError(f"%agent load: {exc}") from None
    _adopt(session, spec, agent)
    tools = [name for name in agent.tools if name != "final_answer" and name not in agent.managed_agents]
    print(f"Loaded {type(agent).__name__} from {source}; tools defined in the notebook: {', '.join(tools) or 'none'}. "
          "The next %%agent cells use it (see %agent config).")
    return agent


def _build(session: AgentSession, spec: AgentSpec, *, trust: bool) -> MultiStepAgent:
    if spec.kind != "code" or spec.executor not in (None, "local"):
        return spec.build(trust_remote_code=trust)
    from smolkernel.executors.local import LocalExecutor

    options = dict(spec.executor_options)
    executor = LocalExecutor(namespace=session.namespace, **options)
    return spec.build(trust_remote_code=trust, executor=executor)


def _adopt(session: AgentSession, spec: AgentSpec, agent: MultiStepAgent) -> None:
    """Make ``agent`` the one the defaults lead to: settings, tools in the namespace, registry."""
    from smolkernel.sharing.describe import user_tools

    tools = user_tools(agent)
    for item in tools:
        session.namespace[item.name] = item
    options = spec.executor_options
    changes: dict[str, Any] = {
        "model": spec.model, "api_base": spec.model_options.get("api_base"), "api_key_env": spec.model_options.get("api_key_env"),
        "kind": spec.kind, "executor": spec.executor or "local", "tools": tuple(t.name for t in tools),
        "max_steps": spec.max_steps, "memory_size": spec.memory_size,
    }
    if "timeout" in options:
        changes["timeout"] = float(options["timeout"])
    if options.get("additional_imports"):
        changes["imports"] = tuple(options["additional_imports"])
    session.defaults = session.defaults.with_settings(changes)
    session.agents[session.defaults.agent_key] = agent
    session.last_agent = agent
