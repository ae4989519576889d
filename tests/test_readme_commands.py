"""Every shell command in the README runs as written.

Commands in ```bash blocks are checked: ``make`` targets exist in the
Makefile, programs are called as ``.venv/bin/NAME`` (the environment ``make``
sets up, never a bare name that needs an activated venv), and each
program/subcommand accepts every ``--option`` the README gives it (its
``--help`` names it). Commands that need a real model or run a server are
checked this way rather than run; ``make demo`` runs the quickstart report.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_shell_commands():
    assert any(c.startswith("make ") for c in COMMANDS) and any(c.startswith(".venv/bin/") for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_is_runnable_as_written(command):
    words = shlex.split(command)
    program = words[0]
    if program == "make":
        makefile = (ROOT / "Makefile").read_text()
        for target in words[1:]:
            if "=" not in target:
                assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), f"make {target}: no such target"
        return
    if program in ("docker", "docker-compose", "redis-server", "curl"):
        return  # system tools, documented for the reader's own machine
    assert program.startswith(".venv/bin/"), f"{command!r}: call programs as .venv/bin/NAME (the venv may not be active)"
    executable = VENV_BIN / program.removeprefix(".venv/bin/")
    assert executable.exists(), f"{command!r}: {executable} is not installed by make"
    subcommand = [w for w in words[1:2] if not w.startswith("-") and "/" not in w and "." not in w]
    help_text = subprocess.run([str(executable), *subcommand, "--help"], capture_output=True, text=True, timeout=120)
    assert help_text.returncode == 0, help_text.stderr
    for option in [w.split("=", 1)[0] for w in words if w.startswith("--")]:
        assert option in help_text.stdout, f"{command!r}: {option} is not an option of {' '.join([program, *subcommand])}"
