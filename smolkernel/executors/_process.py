"""One sibling kernel process: private runtime folder, jupyter_client manager and client.

Layout of the runtime folder (``mkdtemp``, mode 0700, removed on stop)::

    smolkernel-XXXX/
        kernel.log        the sibling's stdout/stderr (never shown in a cell)
        host.pid          the host's pid: folders of dead hosts are swept at the next start
        k/                IPC sockets ``ipc-<n>`` and, until the kernel is ready, kernel.json

The connection file is deleted as soon as the kernel has answered, so code
running later cannot read the key that signs messages to it. The transport is
IPC (unix sockets): no TCP port is opened, and a sandbox without network can
still reach its sockets through a bind-mounted folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

from ..exceptions import ExecutorError
from .limits import PidsCgroup

__all__ = ["KernelProcess", "descendants"]


class _Manager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel spec is given, not looked up by name."""

    custom_spec: KernelSpec | None = None

    @property
    def kernel_spec(self) -> KernelSpec | None:  # type: ignore[override]
        return self.custom_spec


class KernelProcess:
    """Start, watch, interrupt and stop one sibling kernel.

    ``command`` maps the connection-file path to the argv that starts the
    kernel (a plain ``python -m ipykernel_launcher -f FILE``, or the same
    wrapped in bubblewrap).
    """

    def __init__(
        self,
        command: Callable[[str, Path], list[str]],
        *,
        env: dict[str, str],
        preexec: Callable[[], None] | None,
        interrupt_mode: str = "signal",
        cwd: str | None = None,
        startup_timeout: float = 60.0,
        cgroup: PidsCgroup | None = None,
    ) -> None:
        self._command = command
        self._cgroup = cgroup
        self._env = env
        self._preexec = preexec
        self._interrupt_mode = interrupt_mode
        self._cwd = cwd
        self._startup_timeout = startup_timeout
        self.runtime_dir: Path | None = None
        self.manager: _Manager | None = None
        self.client: Any = None
        self._log: Any = None
        self._finalizer: weakref.finalize | None = None

    @property
    def pid(self) -> int | None:
        """The process id of the kernel (or of bubblewrap around it)."""
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        return process.pid if process is not None else None

    @property
    def log_path(self) -> Path | None:
        """Where the sibling's stdout and stderr go."""
        return self.runtime_dir / "kernel.log" if self.runtime_dir else None

    def returncode(self) -> int | None:
        """The exit status when the process has ended, else None (cheap: no system call but waitpid)."""
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        return None if process is None else process.poll()

    def is_alive(self) -> bool:
        """True while the kernel process runs.

        ``poll()`` answers None while another thread is inside ``wait()`` on
        the same process, even after it died; a zombie or vanished pid in
        ``/proc`` settles that case at once.
        """
        return self.manager is not None and self.returncode() is None and not _dead_in_proc(self.pid)

    async def start(self) -> None:
        """Launch the kernel and wait until it answers.

        Raises:
            ExecutorError: the kernel did not start; the message quotes its log.
        """
        _sweep_stale_runtime_dirs()
        self.runtime_dir = Path(tempfile.mkdtemp(prefix=_PREFIX))
        (self.runtime_dir / "host.pid").write_text(str(os.getpid()))
        socket_dir = self.runtime_dir / "k"
        socket_dir.mkdir(mode=0o700)
        connection_file = socket_dir / "kernel.json"
        manager = _Manager(transport="ipc", ip=str(socket_dir / "ipc"), connection_file=str(connection_file))
        manager.custom_spec = KernelSpec(
            argv=self._command("{connection_file}", socket_dir),
            display_name="smolkernel sibling",
            language="python",
            interrupt_mode=self._interrupt_mode,
        )
        self.manager = manager
        self._log = open(self.runtime_dir / "kernel.log", "ab", buffering=0)  # noqa: SIM115 - lives with the kernel
        try:
            await manager.start_kernel(env=dict(self._env), stdout=self._log, stderr=self._log, preexec_fn=self._preexec, cwd=self._cwd)
            self._finalizer = weakref.finalize(self, _emergency_cleanup, self.pid, str(self.runtime_dir))
            self.client = manager.client()
            self.client.start_channels(hb=False, control=False)
            await self.client.wait_for_ready(timeout=self._startup_timeout)
        except Exception as exc:
            log = self.read_log()
            await self.stop()
            raise ExecutorError(f"the sibling kernel did not start: {exc}\n{log}".rstrip()) from None
        _remove(connection_file)

    def read_log(self, limit: int = 2000) -> str:
        """The tail of the kernel's log (for error messages)."""
        path = self.log_path
        try:
            return path.read_text(errors="replace")[-limit:] if path else ""
        except OSError:
            return ""

    async def interrupt(self) -> None:
        """Interrupt the running execution (SIGINT, or an interrupt_request in message mode)."""
        if self.is_alive():
            await self.manager.interrupt_kernel()

    async def stop(self) -> None:
        """Kill the kernel and every process it started; remove the runtime folder."""
        manager, self.manager = self.manager, None
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        if manager is not None and manager.has_kernel:
            pid = getattr(getattr(manager.provisioner, "process", None), "pid", None)
            children = descendants(pid) if pid else []
            try:
                await manager.shutdown_kernel(now=True)
            except Exception:  # the process may be gone already
                pass
            _kill_all(children)
        if self._cgroup is not None:  # also catches daemonized processes that left the tree
            await asyncio.to_thread(self._cgroup.kill_and_remove)
            self._cgroup = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.runtime_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self.runtime_dir, True)
            self.runtime_dir = None


def _dead_in_proc(pid: int | None) -> bool:
    """True when /proc shows ``pid`` as a zombie or not at all (False where /proc says nothing)."""
    if pid is None or not os.path.isdir("/proc/self"):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from ``/proc`` (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kill_all(pids: Sequence[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


_PREFIX = "smolkernel-"


def _sweep_stale_runtime_dirs() -> None:
    """Remove runtime folders left by hosts that were killed before they could clean up."""
    root = Path(tempfile.gettempdir())
    for folder in root.glob(_PREFIX + "*"):
        try:
            owner = int((folder / "host.pid").read_text())
        except (OSError, ValueError):
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _emergency_cleanup(pid: int | None, runtime_dir: str) -> None:
    """At interpreter exit or garbage collection of a never-stopped kernel: kill it and its folder."""
    if pid:
        _kill_all([*descendants(pid), pid])
    shutil.rmtree(runtime_dir, ignore_errors=True)
