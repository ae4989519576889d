"""Read an agent folder saved by smolagents 1.x (``agent.json``, ``tools/``, ``managed_agents/``).

What carries over: the agent's class, its model (class and id, ``api_base``
and a few generation options; smolagents never saves keys), its tools (the
``tools/NAME.py`` files, each defining a smolagents ``Tool``, used through
``Tool.from_smolagents``), ``max_steps``, ``planning_interval``, ``name``,
``description``, the managed agents and, for the local executor, the
authorized imports. smolagents' prompt templates do not: smolkernel's own
prompts are used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..exceptions import AgentSpecError

__all__ = ["is_smolagents_file", "smolagents_spec"]

_KINDS = {"CodeAgent": "code", "ToolCallingAgent": "toolcalling"}
_MODEL_PREFIXES = {
    "LiteLLMModel": "",
    "LiteLLMRouterModel": "",
    "InferenceClientModel": "hf:",
    "HfApiModel": "hf:",
    "OpenAIServerModel": "openai-server:",
    "OpenAIModel": "openai-server:",
    "AzureOpenAIServerModel": "openai-server:",
    "TransformersModel": "transformers:",
}
_MODEL_OPTIONS = ("api_base", "temperature", "max_tokens", "provider", "timeout")
"""Model data keys carried into model_options (others, e.g. counters, are dropped)."""


def is_smolagents_file(path: Path) -> bool:
    """True when ``path`` is an ``agent.json`` in smolagents' format (it has a ``class``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "class" in data and "kind" not in data


def smolagents_spec(folder: Path) -> Any:
    """The AgentSpec equivalent to the smolagents agent saved in ``folder``.

    Raises:
        AgentSpecError: naming ``agent.json`` and the field that cannot be read.
    """
    from ..spec import AgentSpec

    path = folder / "agent.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    kind = _KINDS.get(data.get("class", ""))
    if kind is None:
        raise AgentSpecError(f"smolagents agent class {data.get('class')!r} is not one smolkernel has; use CodeAgent or ToolCallingAgent", field="class", file=str(path))
    model, model_options = _model(data.get("model") or {}, path)
    spec: dict[str, Any] = {
        "kind": kind,
        "model": model,
        "model_options": model_options,
        "tools": _tools(folder, data.get("tools") or [], path),
        "max_steps": data.get("max_steps") or 20,
        "planning_interval": data.get("planning_interval"),
        "name": data.get("name"),
        "description": data.get("description"),
        "instructions": data.get("instructions"),
    }
    if kind == "code":
        spec.update(_executor(data))
    managed = []
    for name in data.get("managed_agents") or {}:
        sub = folder / "managed_agents" / name
        if not (sub / "agent.json").is_file():
            raise AgentSpecError(f"managed agent {name!r} has no folder managed_agents/{name}/agent.json", field="managed_agents", file=str(path))
        managed.append(smolagents_spec(sub))
    result = AgentSpec.from_dict({k: v for k, v in spec.items() if v is not None}, base_dir=folder)
    result.managed_agents = managed
    return result


def _model(model: dict[str, Any], path: Path) -> tuple[str | None, dict[str, Any]]:
    cls = model.get("class")
    data = model.get("data") or {}
    if not cls:
        return None, {}
    prefix = _MODEL_PREFIXES.get(cls)
    model_id = data.get("model_id")
    if prefix is None or not model_id:
        raise AgentSpecError(f"smolagents model {cls!r} cannot be named here; build the agent with model=...", field="model", file=str(path))
    options = {key: data[key] for key in _MODEL_OPTIONS if data.get(key) is not None}
    if prefix == "transformers:":
        options = {}
    return prefix + model_id, options


def _tools(folder: Path, names: list[str], path: Path) -> list[dict[str, Any]]:
    entries = []
    for name in names:
        if name == "final_answer":
            continue  # smolkernel's own final_answer is always there
        relative = f"tools/{name}.py"
        if not (folder / relative).is_file():
            raise AgentSpecError(f"tool {name!r} has no file {relative}", field="tools", file=str(path))
        entries.append({"file": relative})
    return entries


def _executor(data: dict[str, Any]) -> dict[str, Any]:
    from ..executors._local_guard import DEFAULT_ALLOWED_IMPORTS

    executor = data.get("executor_type") or "local"
    if executor != "local":
        return {"executor": executor}
    extra = sorted(set(data.get("authorized_imports") or []) - DEFAULT_ALLOWED_IMPORTS)
    return {"executor_options": {"additional_imports": extra}} if extra else {}
