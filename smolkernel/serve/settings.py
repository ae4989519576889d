"""ServeSettings: everything ``create_app`` needs, as one dataclass."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ServeSettings", "default_data_dir", "keys_from_env"]


def default_data_dir() -> Path:
    """Where the embedded store lives by default: ``$XDG_DATA_HOME/smolkernel/serve``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "smolkernel" / "serve"


def keys_from_env() -> list[str]:
    """API keys from ``SMOLKERNEL_API_KEYS`` (comma separated; empty: no auth)."""
    return [k.strip() for k in os.environ.get("SMOLKERNEL_API_KEYS", "").split(",") if k.strip()]


@dataclass
class ServeSettings:
    """How the service runs. ``agent_factory`` is the only required field."""

    agent_factory: Callable[[], Any]
    """Builds a fresh agent for every run (``AgentSpec.build`` for ``--agent``)."""
    agent_fingerprint: str = ""
    """Identifies the agent's spec in result-cache keys (a hash of the spec)."""
    agent_name: str = "agent"
    """Shown on the status page."""
    redis_url: str | None = None
    """Redis URL; None keeps everything in the embedded store under ``data_dir``."""
    data_dir: Path = field(default_factory=default_data_dir)
    """Folder of the embedded store."""
    concurrency: int = 8
    """Runs executing at once in this process."""
    queue_size: int = 64
    """Runs accepted and waiting beyond ``concurrency``; more get 429."""
    api_keys: list[str] = field(default_factory=keys_from_env)
    """Bearer keys; empty means no authentication."""
    max_task_chars: int = 100_000
    """Longer tasks are refused (413)."""
    max_body_bytes: int = 1_000_000
    """Larger request bodies are refused (413)."""
    cache_ttl: float = 3600.0
    """Default seconds a cached result lives (requests opt in with ``cache``)."""
    wait_timeout: float = 300.0
    """Longest a ``wait: true`` request waits before answering 202."""
    run_timeout: float | None = None
    """Seconds after which a run is stopped and marked failed (None: no limit)."""
    store_retry_seconds: float = 300.0
    """How long the runner keeps retrying writes while the store is unreachable."""
    heartbeat_seconds: float = 2.0
    """How often a server says it is alive (Redis); it counts as gone after 5 missed beats."""
    rerun_interrupted: bool = False
    """After a crash, run again the runs that were running (True) or fail them with the reason (False)."""
    redis_prefix: str = "smolkernel:"
    """Prefix of every Redis key."""
    dask_address: str | None = None
    """A Dask scheduler's address: runs execute on its workers instead of in this process."""
    agent_spec: dict[str, Any] | None = None
    """The agent's spec as self-contained data (``AgentSpec.to_dict(self_contained=True)``); needed with ``dask_address``."""
