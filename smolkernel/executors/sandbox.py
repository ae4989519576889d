"""``SandboxExecutor``: the sibling kernel inside bubblewrap, for code you do not trust.

What the code inside can reach (the guarantees; tests in ``tests/security/``):

* **Files**: an empty root with, read-only, only the system folders (``/usr``,
  ``/etc`` minus root-only secrets, ``/bin``, ``/lib``...), the interpreter's
  installation and the folders named in ``ro_binds`` (see ``_sandbox_fs``).
  Never the home folder, the host's ``/tmp``, ``/run``, ``/dev/shm`` or the
  Jupyter runtime folder, nor any ``sys.path`` entry outside the installation.
  Unix sockets and FIFOs in ``ro_binds`` are covered.
* **Writable**: only its own tmpfs: ``/tmp`` (``tmp_mb``), ``/dev/shm``
  (``shm_mb``) and the folder of its sockets (1 MiB). The host reaches those
  sockets through ``/proc/<pid>/root``, so the host's runtime folder is not
  visible inside, and the kernel's output is a pipe the host drains with a cap.
* **Network**: none (its own loopback only); **processes**: its own PID
  namespace (host processes invisible and unsignalable); no capabilities, no
  nested user namespaces, its own session.
* **Resources**: the ``KernelExecutor`` rlimits per process, and, where the
  host is root with a writable cgroup file system, one cgroup for the whole
  sandbox: ``memory_limit_mb`` for all of its processes and tmpfs together
  (an OOM kill is reported in the step), ``max_processes`` tasks. Its user
  namespace allows ``max_inotify`` inotify instances (so it cannot exhaust the
  user's, which the host shares).
* **Lifetime**: it dies with the host (``--die-with-parent``); ``reset()``
  replaces the whole sandbox (fresh process, tmpfs, cgroup), so nothing a
  previous task did survives; ``close()`` leaves nothing behind.

Known limits: files under ``/etc`` and ``/usr`` that the host user can read
are readable (masked: shadow files, sudoers, ssh and TLS private keys);
``/proc`` shows the machine's CPU and memory figures; the memory cgroup and
the inotify cap need a root host (and ``nsenter``).

Interrupts are sent as ``interrupt_request`` messages (signals do not cross
into the PID namespace), and ``JPY_PARENT_PID`` is unset (inside, the parent
is PID 1 and ipykernel would quit).

Requires bubblewrap 0.8+ (Debian/Ubuntu package ``bubblewrap``) and
unprivileged user namespaces (or root).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, ExecutorError
from ._process import LaunchPlan, descendants
from ._sandbox_fs import check_user_binds, interpreter_roots, special_files, system_binds
from .kernel import KernelExecutor

__all__ = ["SandboxExecutor", "find_bwrap"]

SANDBOX_HOME = "/tmp/home"
SOCKET_DIR = "/run/.smolkernel"
"""Inside the sandbox: its sockets and (read-only) connection file, on a 1 MiB tmpfs."""
SOCKET_DIR_BYTES = 1024 * 1024


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
    """A ``KernelExecutor`` whose kernel runs inside bubblewrap: no network, nothing of the host's writable.

    Accepts every ``KernelExecutor`` option plus:

    Args:
        bwrap: path or name of the bubblewrap executable.
        hide: extra host paths to replace with empty tmpfs inside the sandbox.
        ro_binds: extra host folders to make visible read-only (e.g. a data
            folder); a folder that is or contains the home or a temp folder is refused.
        tmp_mb: size of the private ``/tmp`` (MiB).
        shm_mb: size of ``/dev/shm`` (MiB).
        max_inotify: inotify instances the code may create.
    """

    name = "sandbox"
    interrupt_mode = "message"
    fresh_on_reset = True
    """``reset()`` replaces the whole sandbox (fresh process, tmpfs, cgroup): safe to hand to another tenant."""

    def __init__(self, timeout: float | None = 60.0, *, bwrap: str | None = None, hide: tuple[str, ...] = (),
                 ro_binds: tuple[str, ...] = (), tmp_mb: int = 256, shm_mb: int = 64, max_inotify: int = 16,
                 **options: Any) -> None:
        super().__init__(timeout, **options)
        self.bwrap = bwrap
        self.hide = tuple(hide)
        self.ro_binds = tuple(ro_binds)
        self.tmp_mb = tmp_mb
        self.shm_mb = shm_mb
        self.max_inotify = max_inotify

    async def start(self) -> None:
        """Start the sandboxed kernel (idempotent).

        Raises:
            ConfigurationError: bubblewrap is missing, or the interpreter or a
                ``ro_binds`` folder cannot be shown without exposing a private folder.
            ExecutorError: the sandbox could not start (the message quotes bwrap's error).
        """
        find_bwrap(self.bwrap)
        interpreter_roots(self.python)
        check_user_binds(self.ro_binds)
        await super().start()

    def sibling_env(self) -> dict[str, str]:
        """The allow-listed environment, with HOME and TMPDIR inside the sandbox and no PYTHONPATH."""
        env = super().sibling_env()
        env.pop("PYTHONPATH", None)
        env.update(HOME=SANDBOX_HOME, TMPDIR="/tmp", MPLCONFIGDIR=f"{SANDBOX_HOME}/.config/matplotlib",
                   PYTHONNOUSERSITE="1")
        return env

    def launch_plan(self) -> LaunchPlan:
        """Sockets on the sandbox's own tmpfs, reached by the host through ``/proc/<pid>/root``."""
        return _SandboxPlan(self.startup_timeout, self.max_inotify)

    def kernel_command(self, connection_file: str, socket_dir: Path) -> list[str]:
        """bubblewrap arguments around the plain kernel command."""
        inner = super().kernel_command(f"{SOCKET_DIR}/kernel.json", socket_dir)
        args = [find_bwrap(self.bwrap), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--new-session", "--cap-drop", "ALL", *system_binds(), "--proc", "/proc", "--dev", "/dev",
                "--size", str(self.shm_mb * 1024 * 1024), "--tmpfs", "/dev/shm",
                "--size", str(self.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
                "--size", str(SOCKET_DIR_BYTES), "--tmpfs", SOCKET_DIR]
        for root in interpreter_roots(self.python):  # after the tmpfs mounts, so that they cannot cover these
            args += ["--ro-bind", root, root]
        for path in check_user_binds(self.ro_binds):
            args += ["--ro-bind", path, path, *_cover(special_files(path))]
        for path in self.hide:
            if os.path.isdir(path):
                args += ["--tmpfs", path]
        args += ["--ro-bind", str(socket_dir / "kernel.json"), f"{SOCKET_DIR}/kernel.json",
                 "--dir", SANDBOX_HOME, "--unsetenv", "JPY_PARENT_PID", "--chdir", SANDBOX_HOME, "--"]
        return args + inner


def _cover(paths: list[str]) -> list[str]:
    """bubblewrap arguments putting /dev/null over each socket or FIFO."""
    args: list[str] = []
    for path in paths:
        args += ["--ro-bind", "/dev/null", path]
    return args


class _SandboxPlan(LaunchPlan):
    """The kernel binds its sockets in ``SOCKET_DIR`` inside; the host finds them under ``/proc/<pid>/root``."""

    def __init__(self, timeout: float, max_inotify: int) -> None:
        self.timeout = timeout
        self.max_inotify = max_inotify

    def kernel_ip(self, socket_dir: Path) -> str:
        return f"{SOCKET_DIR}/ipc"

    def remove_kernel_ipc(self) -> bool:
        return False

    async def host_ip(self, pid: int, kernel_ip: str) -> str:
        """Wait until a process of the sandbox has its root set up; its ``/proc/<pid>/root`` leads inside."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for inner in descendants(pid):
                if os.path.isdir(f"/proc/{inner}/root{SOCKET_DIR}"):
                    await asyncio.to_thread(_limit_user_namespace, inner, self.max_inotify)
                    return f"/proc/{inner}/root{kernel_ip}"
            if not os.path.exists(f"/proc/{pid}") or _zombie(pid):
                raise ExecutorError("bubblewrap exited before the sandbox was set up")
            await asyncio.sleep(0.01)
        raise ExecutorError(f"the sandbox was not set up within {self.timeout:g} s")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


USER_NAMESPACE_LIMITS = {"max_inotify_instances": None, "max_inotify_watches": 8192}
"""``/proc/sys/user`` limits set in the sandbox's user namespace (None: the ``max_inotify`` option)."""


def _limit_user_namespace(pid: int, max_inotify: int) -> None:
    """Cap per-namespace counts (inotify) of the sandbox's user namespace, from the host, with ``nsenter``.

    Linux charges such counts to every enclosing user namespace, so the code
    can use at most these, whatever the host's own limits. Best effort: without
    ``nsenter`` (util-linux) or the right to enter, the host's limits apply.
    """
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        return
    writes = " && ".join(
        f"echo {max_inotify if value is None else value} > /proc/sys/user/{name}" for name, value in USER_NAMESPACE_LIMITS.items()
    )
    try:
        subprocess.run([nsenter, "-U", "-t", str(pid), "sh", "-c", writes], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        pass
