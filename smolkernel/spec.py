"""AgentSpec: one serializable description of an agent (YAML or JSON).

It is the unit that crosses every boundary an agent object cannot: saved
folders, the Hub, batch workers, the server. ``spec.build()`` makes the agent;
``agent.to_spec()`` describes one. Example::

    kind: code
    model: openai/gpt-4o-mini
    model_options: {api_key_env: OPENAI_API_KEY, temperature: 0.2}
    tools:
      - mypackage.tools:search          # a Tool, Tool class or @tool function
      - {file: tools/weather.py}        # tool code saved beside the spec
      - {mcp: [npx, server-everything]} # an MCP server's tools
    executor: sandbox
    executor_options: {timeout: 30}
    max_steps: 8
    managed_agents:
      - {kind: toolcalling, name: researcher, description: Looks things up., model: ...}

A spec never holds a secret: keys are named by environment variable
(``api_key_env``); a field that looks like a secret is refused. Every problem
(an unknown field, a tool that does not import, a missing key variable) is
one ``AgentSpecError`` naming the field and, for a file, its line.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exceptions import AgentSpecError, ConfigurationError, MissingAPIKeyError

if TYPE_CHECKING:
    from .agents.base import MultiStepAgent
    from .executors.base import Executor
    from .models.base import Model

__all__ = ["AgentSpec", "AGENT_KINDS", "SPEC_FILENAMES"]

AGENT_KINDS = ("code", "toolcalling")
"""The values of ``kind``."""

SPEC_FILENAMES = ("agent.yaml", "agent.yml", "agent.json")
"""The files ``AgentSpec.from_file(folder)`` looks for, in order."""

_SECRET_KEY = re.compile(r"(^|_)(api_?key|key|token|secret|password|passwd|credentials?)($|_)", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT_FIELDS = {"max_steps": 1, "memory_size": 0, "planning_interval": 1}


@dataclass
class _Where:
    """Where a spec came from, to name the line of a bad field."""

    file: str | None = None
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    prefix: tuple[Any, ...] = ()

    def error(self, path: tuple[Any, ...], problem: str) -> AgentSpecError:
        full = self.prefix + path
        line = None
        for cut in range(len(full), -1, -1):
            line = self.lines.get(full[:cut])
            if line:
                break
        return AgentSpecError(problem, field=_field_name(full), file=self.file, line=line)

    def nested(self, path: tuple[Any, ...]) -> _Where:
        return _Where(self.file, self.lines, self.prefix + path)


def _field_name(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class AgentSpec:
    """A serializable description of an agent; ``build()`` makes it.

    Raises (from the constructors and ``build``):
        AgentSpecError: naming the field and, for a file, its line.
    """

    kind: str = "code"
    """``code`` (CodeAgent) or ``toolcalling`` (ToolCallingAgent)."""
    model: str | None = None
    """A model spec string (see ``resolve_model``); None means ``$SMOLKERNEL_MODEL``.
    ``scripted`` with ``model_options: {responses: [...]}`` is a ScriptedModel given inline
    (what ``to_spec`` writes for one made from a list), for tests and offline demos."""
    model_options: dict[str, Any] = field(default_factory=dict)
    """Options for ``resolve_model``: ``api_base``, ``api_key_env``, backend keywords."""
    tools: list[str | dict[str, Any]] = field(default_factory=list)
    """Tool entries (see ``smolkernel.tools.entries``)."""
    executor: str | None = None
    """Where a code agent's code runs (``local``, ``kernel``, ``sandbox``, ...); None: ``local``."""
    executor_options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the executor, e.g. ``{timeout: 30}``."""
    max_steps: int = 10
    """Action steps before the run stops without an answer."""
    memory_size: int = 5
    """Past interactions kept across runs."""
    planning_interval: int | None = None
    """Plan before step 1 and every N steps; None: no planning."""
    instructions: str | None = None
    """Extra text for the system prompt."""
    name: str | None = None
    """The agent's name (a Python identifier; needed as a managed agent)."""
    description: str | None = None
    """What the agent does (needed as a managed agent)."""
    managed_agents: list[AgentSpec] = field(default_factory=list)
    """Specs of the agents this one can call like tools."""
    base_dir: Path | None = field(default=None, compare=False, repr=False)
    """The folder relative tool paths are read from (the spec file's folder)."""
    _where: _Where = field(default_factory=_Where, compare=False, repr=False)

    # -- reading ------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> AgentSpec:
        """Read a spec from a YAML or JSON file (or a folder holding ``agent.yaml``).

        Raises:
            AgentSpecError: the file is missing or unreadable, does not parse,
                or a field is wrong (naming the line).
        """
        path = _spec_path(Path(path).expanduser())
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AgentSpecError(f"cannot read the spec: {exc.strerror or exc}", file=str(path)) from None
        data, lines = _parse(text, str(path), as_json=path.suffix.lower() == ".json")
        return cls._from_data(data, _Where(str(path), lines), path.parent.resolve())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | Path | None = None) -> AgentSpec:
        """Make a spec from a mapping (as ``to_dict`` returns, or parsed YAML/JSON).

        Args:
            data: the fields.
            base_dir: the folder that relative tool paths are relative to.

        Raises:
            AgentSpecError: a field is unknown or has a bad value.
        """
        return cls._from_data(data, _Where(), Path(base_dir).resolve() if base_dir else None)

    @classmethod
    def from_yaml(cls, text: str, *, base_dir: str | Path | None = None) -> AgentSpec:
        """Make a spec from YAML (or JSON) text; errors name the text's lines."""
        data, lines = _parse(text, None, as_json=False)
        return cls._from_data(data, _Where(None, lines), Path(base_dir).resolve() if base_dir else None)

    @classmethod
    def _from_data(cls, data: Any, where: _Where, base_dir: Path | None) -> AgentSpec:
        if not isinstance(data, Mapping):
            raise where.error((), f"a spec is a mapping of fields, not {type(data).__name__}")
        known = [f.name for f in fields(cls) if not f.name.startswith("_") and f.name != "base_dir"]
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; the fields are: {', '.join(known)}"
                raise where.error((key,), f"unknown field{hint}")
        values = {key: _check_field(key, data[key], where) for key in data}
        managed = values.pop("managed_agents", None) or []
        spec = cls(**values, base_dir=base_dir, _where=where)
        spec.managed_agents = [
            item if isinstance(item, AgentSpec) else cls._from_data(item, where.nested(("managed_agents", index)), base_dir)
            for index, item in enumerate(managed)
        ]
        spec._check_consistency()
        return spec

    def _check_consistency(self) -> None:
        if self.kind != "code" and (self.executor or self.executor_options):
            field_name = "executor" if self.executor else "executor_options"
            raise self._where.error((field_name,), f"only code agents run code; remove it or set kind: code (kind is {self.kind!r})")
        for index, managed in enumerate(self.managed_agents):
            for required in ("name", "description"):
                if not getattr(managed, required):
                    raise self._where.error(("managed_agents", index), f"a managed agent needs a {required!r}")

    # -- writing ------------------------------------------------------------

    def to_dict(self, *, self_contained: bool = False) -> dict[str, Any]:
        """The spec as plain data (JSON/YAML-ready); fields at their default are left out, ``kind`` is always there.

        Args:
            self_contained: make the data independent of the spec's folder, for
                another process or machine (a Dask worker): ``{file: ...}``
                entries become ``{source: ...}`` with the file's code, and a
                relative ``scripted:``/``replay:`` file becomes absolute.

        Raises:
            AgentSpecError: with ``self_contained``, a tool file cannot be read.
        """
        out: dict[str, Any] = {"kind": self.kind}
        defaults = AgentSpec()
        for f in fields(self):
            if f.name in ("kind", "base_dir") or f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if value == getattr(defaults, f.name):
                continue
            if f.name == "managed_agents":
                value = [m.to_dict(self_contained=self_contained) for m in value]
            elif isinstance(value, (dict, list)):
                value = json.loads(json.dumps(value))  # a deep, plain copy
            out[f.name] = value
        if self_contained:
            if self.model:
                out["model"] = self._local_model_path()
            if self.tools:
                out["tools"] = [self._inlined(index, entry) for index, entry in enumerate(out["tools"])]
        return out

    def _inlined(self, index: int, entry: Any) -> Any:
        if not (isinstance(entry, dict) and "file" in entry):
            return entry
        from .tools.entries import ToolEntryContext

        path = ToolEntryContext(base_dir=self.base_dir).resolve_path(str(entry["file"]))
        try:
            code = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise self._where.error(("tools", index), f"cannot read tool file {str(path)!r}: {exc.strerror or exc}") from None
        return {"source": code, **({"name": entry["name"]} if entry.get("name") else {})}

    def to_yaml(self) -> str:
        """The spec as YAML text (multi-line strings as blocks)."""
        import yaml

        class _Dumper(yaml.SafeDumper):
            pass

        def _text(dumper: yaml.SafeDumper, value: str) -> Any:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

        _Dumper.add_representer(str, _text)
        return yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)

    def to_json(self) -> str:
        """The spec as JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def save(self, path: str | Path) -> Path:
        """Write the spec to ``path`` (``.json`` as JSON, anything else as YAML); return the path."""
        path = Path(path)
        path.write_text(self.to_json() if path.suffix.lower() == ".json" else self.to_yaml(), encoding="utf-8")
        return path

    # -- building -----------------------------------------------------------

    def build(
        self,
        *,
        model: Model | str | None = None,
        executor: Executor | str | None = None,
        trust_remote_code: bool = True,
    ) -> MultiStepAgent:
        """Make the agent this spec describes (its managed agents too).

        Args:
            model: use this model instead of the spec's, for the managed agents
                too (e.g. one ScriptedModel answering for the whole team in a test).
            executor: use this executor (instance or name) instead of the spec's.
            trust_remote_code: whether tool code shipped with the spec
                (``file``/``source`` entries) may run. A spec you load yourself
                is code you chose to run, as with a Python import; the sharing
                loaders (``from_folder``, ``from_hub``) default to False.

        Raises:
            AgentSpecError: a tool does not import or build, the model or
                executor cannot be made, or a key variable is not set; the
                message names the field and the file's line.
        """
        from .agents import CodeAgent, ToolCallingAgent
        from .exceptions import ToolDefinitionError

        tools = self._build_tools(trust_remote_code)
        built_model = self._build_model(model)
        managed = [m.build(model=model, trust_remote_code=trust_remote_code) for m in self.managed_agents]
        common: dict[str, Any] = dict(
            max_steps=self.max_steps, memory_size=self.memory_size, managed_agents=managed, planning_interval=self.planning_interval,
            name=self.name, description=self.description, instructions=self.instructions,
        )
        try:
            if self.kind == "toolcalling":
                agent: MultiStepAgent = ToolCallingAgent(tools, built_model, **common)
            else:
                agent = CodeAgent(tools, built_model, executor=self._build_executor(executor), **common)
        except ToolDefinitionError as exc:
            raise self._where.error(("tools",), str(exc)) from None
        return agent

    def _build_tools(self, trust_remote_code: bool) -> list[Any]:
        from .tools.entries import ToolEntryContext, build_tool_entry

        context = ToolEntryContext(base_dir=self.base_dir, trust_remote_code=trust_remote_code)
        tools: list[Any] = []
        for index, entry in enumerate(self.tools):
            try:
                tools.extend(build_tool_entry(entry, context))
            except ConfigurationError as exc:
                raise self._where.error(("tools", index), str(exc)) from None
            except Exception as exc:  # a tool's own constructor failed: still one located error
                raise self._where.error(("tools", index), f"building the tool failed: {type(exc).__name__}: {exc}") from exc
        return tools

    def _build_model(self, override: Model | str | None) -> Model:
        from .models.resolve import resolve_model

        options = dict(self.model_options)
        if override is not None:
            return resolve_model(override) if isinstance(override, str) else override
        try:
            if self.model == "scripted" and "responses" in options:
                from .models.scripted import ScriptedModel

                return ScriptedModel(options.pop("responses"), **options)
            return resolve_model(self._local_model_path(), **options)
        except MissingAPIKeyError as exc:
            raise self._where.error(("model_options", "api_key_env"), str(exc)) from None
        except ConfigurationError as exc:
            raise self._where.error(("model",), str(exc)) from None
        except TypeError as exc:  # a backend keyword it does not take
            raise self._where.error(("model_options",), f"the model does not take these options: {exc}") from None
        except (ValueError, OSError) as exc:
            raise self._where.error(("model",), f"the model cannot be made: {type(exc).__name__}: {exc}") from exc

    def _local_model_path(self) -> str | None:
        """``scripted:FILE`` / ``replay:FILE`` relative to the spec's folder when the file is there."""
        prefix, sep, rest = (self.model or "").partition(":")
        if sep and prefix in ("scripted", "replay") and self.base_dir is not None:
            candidate = self.base_dir / Path(rest.strip()).expanduser()
            if not Path(rest.strip()).expanduser().is_absolute() and candidate.exists():
                return f"{prefix}:{candidate}"
        return self.model

    def _build_executor(self, override: Executor | str | None) -> Any:
        from .executors.registry import resolve_executor

        if override is not None and not isinstance(override, str):
            return override
        name = override or self.executor or "local"
        try:
            return resolve_executor(name, **self.executor_options)
        except ConfigurationError as exc:
            raise self._where.error(("executor",), str(exc)) from None
        except TypeError as exc:
            raise self._where.error(("executor_options",), f"executor {name!r} does not take these options: {exc}") from None


# -- parsing and checking ----------------------------------------------------


def _spec_path(path: Path) -> Path:
    if path.is_dir():
        for name in SPEC_FILENAMES:
            if (path / name).is_file():
                return path / name
        raise AgentSpecError(f"the folder holds no {' or '.join(SPEC_FILENAMES)}", file=str(path))
    return path


def _parse(text: str, file: str | None, *, as_json: bool) -> tuple[Any, dict[tuple[Any, ...], int]]:
    import yaml

    if as_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AgentSpecError(f"not valid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise AgentSpecError(f"not valid YAML: {problem}", file=file, line=mark.line + 1 if mark else None) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # JSON that YAML 1.1 does not read: no line numbers, nothing else lost
        return data, {}
    lines: dict[tuple[Any, ...], int] = {}
    if root is not None:
        _node_lines(root, (), lines, file)
    return data, lines


def _node_lines(node: Any, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], file: str | None) -> None:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise AgentSpecError("this field appears twice", field=_field_name(path + (key,)), file=file, line=key_node.start_mark.line + 1)
            seen.add(key)
            _node_lines(value_node, path + (key,), lines, file)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, path + (index,), lines, file)


def _check_field(key: str, value: Any, where: _Where) -> Any:
    """Check one top-level field's value; return it normalized."""
    if key == "kind":
        normal = str(value).lower().replace("_", "").replace("-", "") if isinstance(value, str) else value
        if normal not in AGENT_KINDS:
            raise where.error((key,), f"{value!r} is not a kind of agent; use one of: {', '.join(AGENT_KINDS)}")
        return normal
    if key in ("model", "executor", "instructions", "name", "description"):
        if value is not None and not isinstance(value, str):
            raise where.error((key,), f"must be text, not {type(value).__name__}")
        if key == "name" and value is not None and not value.isidentifier():
            raise where.error((key,), f"{value!r} is not a Python identifier (managers call agents by name)")
        return value
    if key in ("model_options", "executor_options"):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise where.error((key,), f"must be a mapping of options, not {type(value).__name__}")
        _check_no_secrets(key, value, where)
        return dict(value)
    if key in _INT_FIELDS:
        if value is None and key == "planning_interval":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < _INT_FIELDS[key]:
            raise where.error((key,), f"must be a whole number >= {_INT_FIELDS[key]}, not {value!r}")
        return value
    if key == "tools":
        return _check_tools(value, where)
    if key == "managed_agents":
        if value is None:
            return []
        if not isinstance(value, list):
            raise where.error((key,), f"must be a list of agent specs, not {type(value).__name__}")
        return value
    raise AssertionError(key)


def _check_no_secrets(key: str, options: Mapping[str, Any], where: _Where) -> None:
    """Refuse values that look like secrets; never repeat them in the message."""
    for name, value in options.items():
        if str(name).endswith("_env"):
            if not isinstance(value, str) or not _ENV_NAME.match(value):
                raise where.error((key, name), "must be the name of an environment variable (e.g. OPENAI_API_KEY), not a key or other text")
        elif _SECRET_KEY.search(str(name)) and value is not None:
            raise where.error(
                (key, name),
                "a spec never holds a secret; put it in an environment variable and name the variable instead (api_key_env: VAR)",
            )


def _check_tools(value: Any, where: _Where) -> list[Any]:
    from .tools.entries import check_tool_entry

    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(("tools",), f"must be a list of tool entries, not {type(value).__name__}")
    for index, entry in enumerate(value):
        problem = check_tool_entry(entry)
        if problem:
            raise where.error(("tools", index), problem)
    return [entry if isinstance(entry, str) else dict(entry) for entry in value]
