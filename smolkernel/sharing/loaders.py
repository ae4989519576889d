"""``smolkernel.load_agent``: one call for a folder or a Hub repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..agents.base import MultiStepAgent

__all__ = ["load_agent"]


def load_agent(
    source: str | Path,
    *,
    trust_remote_code: bool = False,
    revision: str | None = None,
    token: str | None = None,
    **options: Any,
) -> MultiStepAgent:
    """Load an agent from a folder (``agent.save``, or smolagents 1.x) or a Hub id (``ORG/NAME``, ``hub:ORG/NAME``).

    Args:
        source: the folder, or the repository id.
        trust_remote_code: import tool code shipped with the agent; refused
            by default, since it is code someone else wrote.
        revision: a commit, branch or tag (Hub only).
        token: a Hub token (Hub only; default: the logged-in one).
        **options: ``model=``/``executor=`` overrides; ``repo_type=``,
            ``endpoint=`` for the Hub.

    Raises:
        AgentSpecError: the spec is wrong or shipped code is not trusted.
        ConfigurationError: the folder or repository cannot be read.
    """
    from .folder import load_folder, looks_like_hub_id

    text = str(source)
    if looks_like_hub_id(text):
        from .hub import download_agent

        where = {key: options.pop(key) for key in ("repo_type", "endpoint") if key in options}
        folder = download_agent(text, revision=revision, token=token, **where)
        return load_folder(folder, trust_remote_code=trust_remote_code, **options)
    return load_folder(text, trust_remote_code=trust_remote_code, **options)
