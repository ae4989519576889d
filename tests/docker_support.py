"""The Docker engine and image the docker tests share: started and built once per test session.

``scripts/dockerd.sh`` starts ``dockerd --iptables=false --bridge=none`` when
no engine answers (as root); the image is built by the same code as
``smolkernel image build`` and cached by its recipe's hash, so only the first
session on a machine pays the few minutes it takes. When a session collects
tests that use the image, ``prepare_in_background`` starts that work as soon
as collection ends, so the build overlaps the tests that run before them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

from needs import command_path, missing, require_command

ROOT = Path(__file__).resolve().parent.parent
_RESULT: dict[str, object] = {}
_DONE = threading.Event()
_STARTED = threading.Lock()


def _engine() -> str | None:
    """Start an engine if none answers; None when one answers, else why not."""
    started = subprocess.run(["bash", str(ROOT / "scripts" / "dockerd.sh")], capture_output=True, text=True, timeout=120)
    check = subprocess.run(["docker", "info"], capture_output=True, text=True) if shutil.which("docker") else None
    if check is None or check.returncode != 0:
        return f"no Docker engine answers and none could be started: {started.stderr.strip()[-300:]}"
    return None


def _prepare() -> None:
    try:
        problem = _engine()
        if problem:
            _RESULT["missing"] = problem
            return
        from smolkernel.executors.docker_image import ensure_image

        _RESULT["tag"] = ensure_image(progress=lambda text: print(text, file=sys.__stderr__, flush=True))
    except Exception as exc:  # re-raised in the test that needs the image
        _RESULT["error"] = exc
    finally:
        _DONE.set()


def prepare_in_background() -> None:
    """Start the engine and the image build in a thread (once), if Docker and mmdebstrap are installed."""
    if command_path("dockerd") is None or command_path("mmdebstrap") is None:
        return
    if _STARTED.acquire(blocking=False):
        threading.Thread(target=_prepare, daemon=True, name="docker-image").start()


def docker_image() -> str:
    """The tag of the default image, built now if this engine lacks it; skip (fail in CI) without Docker."""
    require_command("dockerd", "docker.io")
    require_command("mmdebstrap", "mmdebstrap")
    prepare_in_background()
    _DONE.wait()
    if "missing" in _RESULT:
        missing(str(_RESULT["missing"]))
    if "error" in _RESULT:
        raise _RESULT["error"]  # type: ignore[misc]
    return str(_RESULT["tag"])
