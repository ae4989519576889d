"""What a test needs from the system, and what happens when it is missing.

On a developer's machine a test whose system part is missing (bubblewrap,
Chromium, Docker, Redis, ...) skips with the reason and the fix; under
``CI=true`` (``.ci/run``) it fails instead, because CI installs everything
(``scripts/sysdeps.sh``) and must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    """Skip the running test with ``reason``, or fail it under ``CI=true``."""
    if IN_CI:
        pytest.fail(f"{reason} (CI installs it and must run this test)", pytrace=False)
    pytest.skip(reason)


def command_path(command: str) -> str | None:
    """Where ``command`` is, also in sbin folders that a user's PATH may lack."""
    return shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin:/usr/local/sbin")


def require_command(command: str, package: str) -> str:
    """Return the path of ``command``; skip (fail in CI) when it is not installed."""
    path = command_path(command)
    if path is None:
        missing(f"{command} is not installed (Debian package {package}; `make sysdeps` installs it)")
    return path  # type: ignore[return-value]


def needs_command(command: str, package: str) -> pytest.MarkDecorator:
    """A mark: skip the test when ``command`` is missing, except under ``CI=true``."""
    return pytest.mark.skipif(
        command_path(command) is None and not IN_CI,
        reason=f"{command} is not installed (Debian package {package}; `make sysdeps` installs it)",
    )
