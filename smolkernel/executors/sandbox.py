"""``SandboxExecutor``: the sibling kernel inside bubblewrap, for code you do not trust.

The kernel runs in fresh namespaces (``--unshare-all``: user, PID, network,
IPC, UTS, cgroup) and sees:

* the host's root filesystem read-only (``--ro-bind / /``), minus the places
  where secrets and other kernels live: ``/tmp``, ``/var/tmp``, ``/run``, the
  host user's home and Jupyter runtime folder are replaced by empty tmpfs
  (the Python installation is bound back read-only when it lives in the home);
* a private writable ``/tmp`` with ``HOME=/tmp/home``;
* its own ``/proc`` (only sandbox processes) and a minimal ``/dev``;
* no network at all, only its own loopback: host ports are unreachable;
* one folder of the host, bind-mounted at the same path: the IPC sockets it
  talks through. Its connection file is deleted as soon as the kernel
  answered, so the code cannot read the key that signs messages.

It dies with the host (``--die-with-parent``), drops every capability, and
gets the same resource limits as ``KernelExecutor``. Interrupts are sent as
``interrupt_request`` messages (signals do not cross into the PID namespace),
and ``JPY_PARENT_PID`` is unset (inside, the parent is PID 1 and ipykernel
would quit).

Requires bubblewrap (Debian/Ubuntu package ``bubblewrap``) and unprivileged
user namespaces (or root).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from .kernel import KernelExecutor

__all__ = ["SandboxExecutor", "find_bwrap"]

SANDBOX_HOME = "/tmp/home"
HIDDEN_DIRS = ("/tmp", "/var/tmp", "/run", "/dev/shm")
"""Always replaced by empty tmpfs inside the sandbox."""
SECRET_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers", "/etc/ssh", "/root")
"""Host files that root could read even inside the user namespace; masked with /dev/null or tmpfs."""


def find_bwrap(path: str | None = None) -> str:
    """Return the bubblewrap executable.

    Raises:
        ConfigurationError: bubblewrap is not installed; names the package.
    """
    found = shutil.which(path or "bwrap")
    if found is None:
        raise ConfigurationError(
            "the 'sandbox' executor needs bubblewrap, which is not installed. "
            "Install the Debian/Ubuntu package: sudo apt-get install bubblewrap "
            "(Fedora: dnf install bubblewrap), or use executor='kernel' for trusted code"
        )
    return found


class SandboxExecutor(KernelExecutor):
    """A ``KernelExecutor`` whose kernel runs inside bubblewrap: no network, read-only host.

    Accepts every ``KernelExecutor`` option plus:

    Args:
        bwrap: path or name of the bubblewrap executable.
        hide: extra host paths to replace with empty tmpfs inside the sandbox.
        ro_binds: extra host paths to make visible read-only (e.g. a data folder).
    """

    name = "sandbox"
    interrupt_mode = "message"

    def __init__(self, timeout: float | None = 60.0, *, bwrap: str | None = None, hide: tuple[str, ...] = (),
                 ro_binds: tuple[str, ...] = (), **options: Any) -> None:
        super().__init__(timeout, **options)
        self.bwrap = bwrap
        self.hide = tuple(hide)
        self.ro_binds = tuple(ro_binds)

    async def start(self) -> None:
        """Start the sandboxed kernel (idempotent).

        Raises:
            ConfigurationError: bubblewrap is missing.
            ExecutorError: the sandbox could not start (the message quotes bwrap's error).
        """
        find_bwrap(self.bwrap)
        await super().start()

    def sibling_env(self) -> dict[str, str]:
        """The allow-listed environment, with HOME and TMPDIR inside the sandbox."""
        env = super().sibling_env()
        env.update(HOME=SANDBOX_HOME, TMPDIR="/tmp", MPLCONFIGDIR=f"{SANDBOX_HOME}/.config/matplotlib")
        return env

    def kernel_command(self, connection_file: str, socket_dir: Path) -> list[str]:
        """bubblewrap arguments around the plain kernel command."""
        inner = super().kernel_command(connection_file, socket_dir)
        args = [find_bwrap(self.bwrap), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        hidden = [*HIDDEN_DIRS, *_host_private_dirs(), *self.hide]
        for path in _existing(hidden):
            args += ["--tmpfs", path]
        for path in SECRET_FILES:
            if os.path.isfile(path):
                args += ["--ro-bind", "/dev/null", path]
            elif os.path.isdir(path) and not any(_under(path, h) for h in hidden):
                args += ["--tmpfs", path]
        for path in _existing(self._visible_paths()):
            if any(_under(path, h) for h in hidden):
                args += ["--ro-bind", path, path]
        args += ["--dir", SANDBOX_HOME, "--bind", str(socket_dir), str(socket_dir),
                 "--unsetenv", "JPY_PARENT_PID", "--chdir", SANDBOX_HOME, "--"]
        return args + inner

    def _visible_paths(self) -> list[str]:
        """Host paths the kernel needs (the Python installation) or the user asked for."""
        python = os.path.realpath(self.python)
        paths = {os.path.dirname(os.path.dirname(python))}
        if os.path.realpath(self.python) == os.path.realpath(sys.executable):
            paths.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
            paths.update(p for p in sys.path if p and os.path.isdir(p))
        paths.update(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
        paths.update(self.ro_binds)
        return sorted(os.path.realpath(p) for p in paths)


def _host_private_dirs() -> list[str]:
    """The host user's home and every Jupyter runtime folder we can name."""
    dirs = [os.path.expanduser("~")]
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        dirs.append(jupyter_runtime_dir())
    except Exception:  # jupyter_core missing or misconfigured: the home covers the default
        pass
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        dirs.append(os.environ["JUPYTER_RUNTIME_DIR"])
    return [os.path.realpath(d) for d in dirs if d and d != "/"]


def _existing(paths: list[str]) -> list[str]:
    """The existing directories among ``paths``, without those inside another one."""
    found = sorted({p for p in paths if os.path.isdir(p)}, key=len)
    kept: list[str] = []
    for path in found:
        if not any(_under(path, k) for k in kept):
            kept.append(path)
    return kept


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
