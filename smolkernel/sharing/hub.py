"""Agents and tools on the Hugging Face Hub, through ``huggingface_hub``.

``HF_ENDPOINT`` (read at call time, or ``endpoint=``) picks the server, so
any Hub-compatible server works; ``HF_HUB_CACHE``/``HF_HOME`` pick where
downloads go. Every push is one commit, so each version of an agent is a
revision that ``from_hub(..., revision=...)`` can load again.

smolkernel pushes to **model** repositories by default (an agent folder is
not a runnable Space); where smolagents pushes agents and tools to Spaces,
pass ``repo_type="space"``. Loading tries a model repository first, then a
Space, so agents and tools that smolagents shared load too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError, MissingExtraError

if TYPE_CHECKING:
    from ..agents.base import MultiStepAgent
    from ..tools import Tool

__all__ = ["push_agent", "download_agent", "push_folder", "download_file", "strip_hub_prefix"]

_REPO_TYPES = ("model", "space")


def strip_hub_prefix(repo_id: str) -> str:
    """``hub:ORG/NAME`` -> ``ORG/NAME``."""
    return repo_id[4:] if repo_id.startswith("hub:") else repo_id


def _hf() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise MissingExtraError("huggingface_hub", "hf", "sharing on the Hub") from None
    return huggingface_hub


def _endpoint(endpoint: str | None) -> str | None:
    return endpoint or os.environ.get("HF_ENDPOINT") or None


def _cache_dir() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    return os.path.join(os.environ["HF_HOME"], "hub") if os.environ.get("HF_HOME") else None


@contextlib.contextmanager
def _hub_errors(what: str) -> Iterator[None]:
    """Turn the client's errors into ConfigurationErrors that say what failed."""
    _hf()
    from huggingface_hub import errors

    try:
        yield
    except errors.LocalEntryNotFoundError as exc:
        # the client found no server (or no file there) and nothing usable in its cache
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc).splitlines()[0]
        raise ConfigurationError(f"{what}: cannot reach the Hub at {_endpoint(None) or 'huggingface.co'} and nothing is cached ({detail})") from None
    except errors.RevisionNotFoundError:
        raise ConfigurationError(f"{what}: no such revision (give a commit id, a branch or a tag that exists)") from None
    except errors.RepositoryNotFoundError:
        raise ConfigurationError(f"{what}: the repository does not exist or you have no access (is the token right?)") from None
    except errors.EntryNotFoundError as exc:
        raise ConfigurationError(f"{what}: a file is missing in the repository ({exc})") from None
    except errors.HfHubHTTPError as exc:
        raise ConfigurationError(f"{what}: the Hub answered {exc}") from None
    except (OSError, ValueError) as exc:
        if type(exc).__module__.startswith("huggingface_hub") or "connect" in type(exc).__name__.lower():
            raise ConfigurationError(f"{what}: {type(exc).__name__}: {exc}") from None
        raise
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "huggingface_hub"):
            raise ConfigurationError(f"{what}: cannot reach the Hub at {_endpoint(None) or 'huggingface.co'} ({type(exc).__name__}: {exc})") from None
        raise


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    commit_message: str | None = None,
    repo_type: str = "model",
    endpoint: str | None = None,
    delete_patterns: list[str] | None = None,
) -> str:
    """Create the repository if needed and upload ``folder`` as one commit.

    Returns:
        The commit id (the new revision).

    Raises:
        ConfigurationError: the Hub refused or could not be reached.
    """
    hf = _hf()
    repo_id = strip_hub_prefix(repo_id)
    api = hf.HfApi(endpoint=_endpoint(endpoint), token=token)
    with _hub_errors(f"pushing to {repo_id}"):
        extra = {"space_sdk": "gradio"} if repo_type == "space" else {}
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type, **extra)
        info = api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), repo_type=repo_type,
            commit_message=commit_message or "Upload with smolkernel", delete_patterns=delete_patterns,
        )
    return info.oid


def push_agent(
    agent: MultiStepAgent,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    commit_message: str | None = None,
    repo_type: str = "model",
    endpoint: str | None = None,
) -> str:
    """``agent.push_to_hub``: save the agent to a temporary folder and push it.

    Tool files from an earlier version that this one no longer has are removed.

    Returns:
        The commit id of the new revision.
    """
    with tempfile.TemporaryDirectory(prefix="smolkernel-push-") as folder:
        agent.save(folder)
        message = commit_message or f"Upload agent {agent.name or ''}".strip()
        return push_folder(folder, repo_id, token=token, private=private, commit_message=message,
                           repo_type=repo_type, endpoint=endpoint, delete_patterns=["tools/*.py"])


def push_tool(
    item: Tool,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    commit_message: str | None = None,
    repo_type: str = "model",
    endpoint: str | None = None,
) -> str:
    """``tool.push_to_hub``: push ``tool.py`` and ``requirements.txt``; return the commit id."""
    from .tool_files import save_tool

    with tempfile.TemporaryDirectory(prefix="smolkernel-push-") as folder:
        save_tool(item, folder)
        return push_folder(folder, repo_id, token=token, private=private, commit_message=commit_message or f"Upload tool {item.name}",
                           repo_type=repo_type, endpoint=endpoint)


def _each_repo_type(repo_type: str | None) -> tuple[str, ...]:
    return (repo_type,) if repo_type else _REPO_TYPES


def download_agent(repo_id: str, *, revision: str | None = None, token: str | None = None, repo_type: str | None = None, endpoint: str | None = None) -> Path:
    """Download an agent repository at ``revision``; return the local folder.

    Raises:
        ConfigurationError: no such repository (as a model or a Space) or revision.
    """
    hf = _hf()
    repo_id = strip_hub_prefix(repo_id)
    what = f"loading {repo_id}" + (f" at revision {revision}" if revision else "")
    for index, kind in enumerate(candidates := _each_repo_type(repo_type)):
        try:
            with _hub_errors(what):
                path = hf.snapshot_download(repo_id, revision=revision, repo_type=kind, token=token, endpoint=_endpoint(endpoint), cache_dir=_cache_dir())
            return Path(path)
        except ConfigurationError as exc:
            if index + 1 == len(candidates) or "does not exist" not in str(exc):
                raise
    raise AssertionError("unreachable")


def download_file(repo_id: str, filename: str, *, revision: str | None = None, token: str | None = None, repo_type: str | None = None, endpoint: str | None = None) -> Path:
    """Download one file of a repository (a model repository, else a Space); return its local path.

    Raises:
        ConfigurationError: no such repository, revision or file.
    """
    hf = _hf()
    repo_id = strip_hub_prefix(repo_id)
    what = f"loading {filename} from {repo_id}" + (f" at revision {revision}" if revision else "")
    for index, kind in enumerate(candidates := _each_repo_type(repo_type)):
        try:
            with _hub_errors(what):
                path = hf.hf_hub_download(repo_id, filename, revision=revision, repo_type=kind, token=token, endpoint=_endpoint(endpoint), cache_dir=_cache_dir())
            return Path(path)
        except ConfigurationError as exc:
            if index + 1 == len(candidates) or "does not exist" not in str(exc):
                raise
    raise AssertionError("unreachable")
