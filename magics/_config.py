"""The magics' configuration: defaults set by ``%agent config`` and per-cell options.

A run's settings are the session defaults (``%agent config KEY=VALUE``)
overridden by the options of its ``%%agent`` line. The settings that shape an
agent (model, executor, kind, memory size...) form its ``agent_key``: cells
with the same key share one agent, hence one memory and one workspace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from IPython.core.error import UsageError

__all__ = ["AgentConfig", "CONFIG_KEYS", "KINDS", "parse_config_items"]

KINDS = ("code", "toolcalling")
"""Agent kinds: ``code`` (CodeAgent) and ``toolcalling`` (ToolCallingAgent)."""

DEFAULT_MODEL_ENV = "SMOLKERNEL_MODEL"


@dataclass(frozen=True)
class AgentConfig:
    """Everything a run needs to know besides its task."""

    model: str | None = None
    """Model spec (``openai/gpt-4o-mini``...); None reads ``$SMOLKERNEL_MODEL``."""
    api_base: str | None = None
    """Base URL of the model's server (OpenAI-compatible servers, proxies)."""
    api_key_env: str | None = None
    """Environment variable holding the API key."""
    kind: str = "code"
    """``code`` or ``toolcalling``."""
    executor: str = "local"
    """Where code runs: ``local`` (this notebook's namespace), ``kernel``, ``sandbox``..."""
    tools: tuple[str, ...] = ()
    """Names of tools in the user's namespace."""
    memory_size: int = 5
    """Past interactions the agent remembers across cells."""
    max_steps: int = 10
    """Steps before a run gives up."""
    timeout: float = 60.0
    """Seconds one code execution may take."""
    imports: tuple[str, ...] = ()
    """Extra modules the local executor may import (``*``: any)."""
    pickle: bool = False
    """Send ``--vars`` values pickled to kernel/sandbox executors (any picklable type)."""
    record: str | None = None
    """Cassette file recording every model call (replay it with ``--model replay:FILE``)."""

    @property
    def model_spec(self) -> str | None:
        """The model spec in force: the configured one or ``$SMOLKERNEL_MODEL``."""
        return self.model or os.environ.get(DEFAULT_MODEL_ENV, "").strip() or None

    @property
    def agent_key(self) -> tuple[Any, ...]:
        """What identifies an agent: cells with equal keys share memory and workspace."""
        return (self.model_spec, self.api_base, self.api_key_env, self.kind, self.executor, self.memory_size, self.timeout, self.imports, self.pickle, self.record)

    def updated(self, **changes: Any) -> AgentConfig:
        """A copy with ``changes`` applied; None means "not given" and keeps the current value."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def with_settings(self, changes: dict[str, Any]) -> AgentConfig:
        """A copy with ``changes`` applied as given (None unsets an optional setting)."""
        return replace(self, **changes)

    def describe(self) -> str:
        """The settings, one ``key = value`` per line, for ``%agent config``."""
        lines = []
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = ",".join(value) or "(none)"
            if item.name == "model" and not value:
                env = self.model_spec
                value = f"{env}  (from ${DEFAULT_MODEL_ENV})" if env else "(not set)"
            lines.append(f"{item.name:<12} = {value if value is not None else '(not set)'}")
        return "\n".join(lines)


CONFIG_KEYS = tuple(f.name for f in fields(AgentConfig))
"""Keys accepted by ``%agent config``."""


def _to_int(key: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{key} must be a whole number, got {text!r}; e.g. %agent config {key}=5") from None
    if value < minimum:
        raise UsageError(f"{key} must be at least {minimum}, got {value}")
    return value


def _to_float(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{key} must be a number of seconds, got {text!r}; e.g. %agent config {key}=30") from None
    if value <= 0:
        raise UsageError(f"{key} must be positive, got {value:g}")
    return value


def _to_bool(key: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{key} must be true or false, got {text!r}")


def split_names(text: str | None) -> tuple[str, ...]:
    """``"a, b"`` -> ``("a", "b")``; empty parts are dropped."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def convert_value(key: str, text: str) -> Any:
    """Turn the text of one setting into its typed value.

    Raises:
        UsageError: the value is not valid for ``key``, with the fix.
    """
    text = text.strip()
    if key in ("model", "api_base", "api_key_env", "record"):
        return text or None
    if key == "kind":
        if text not in KINDS:
            raise UsageError(f"kind must be one of {', '.join(KINDS)}, got {text!r}")
        return text
    if key == "executor":
        return check_executor(text)
    if key in ("tools", "imports"):
        return split_names(text)
    if key in ("memory_size", "max_steps"):
        return _to_int(key, text, 0 if key == "memory_size" else 1)
    if key == "timeout":
        return _to_float(key, text)
    if key == "pickle":
        return _to_bool(key, text)
    raise UsageError(f"unknown setting {key!r}; settings are: {', '.join(CONFIG_KEYS)}")


def check_executor(name: str) -> str:
    """Return ``name`` if it names an executor.

    Raises:
        UsageError: listing the known executor names.
    """
    from smolkernel.executors.registry import EXECUTOR_NAMES

    if name not in EXECUTOR_NAMES:
        raise UsageError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTOR_NAMES)}")
    return name


def parse_config_items(items: list[str]) -> dict[str, Any]:
    """Parse ``["model=openai/x", "max_steps=5"]`` into typed settings.

    Dashes in keys are accepted (``api-base=...``).

    Raises:
        UsageError: an item without ``=``, an unknown key or a bad value.
    """
    changes: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {item!r}; e.g. %agent config model=openai/gpt-4o-mini max_steps=5")
        if key not in CONFIG_KEYS:
            raise UsageError(f"unknown setting {key!r}; settings are: {', '.join(CONFIG_KEYS)}")
        changes[key] = convert_value(key, value)
    return changes
