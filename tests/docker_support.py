"""The Docker engine and image the docker tests share: started and built once per test session.

``scripts/dockerd.sh`` starts ``dockerd --iptables=false --bridge=none`` when
no engine answers (as root); the image is built by the same code as
``smolkernel image build`` and cached by its recipe's hash, so only the first
session on a machine pays the few minutes it takes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from needs import missing, require_command

ROOT = Path(__file__).resolve().parent.parent


def docker_engine() -> None:
    """Make sure an engine answers (starting one if we may); skip, or fail under CI, when impossible."""
    require_command("dockerd", "docker.io")
    started = subprocess.run(["bash", str(ROOT / "scripts" / "dockerd.sh")], capture_output=True, text=True, timeout=120)
    check = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if check.returncode != 0:
        missing(f"no Docker engine answers and none could be started: {started.stderr.strip()[-300:]}")


def docker_image() -> str:
    """The tag of the default image, built now if this engine lacks it (a progress line says so)."""
    docker_engine()
    require_command("mmdebstrap", "mmdebstrap")
    from smolkernel.executors.docker_image import ensure_image

    return ensure_image()
