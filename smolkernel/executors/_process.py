"""One sibling kernel process: private runtime folder, jupyter_client manager and client.

Layout of the runtime folder (``mkdtemp``, mode 0700, removed on stop)::

    smolkernel-XXXX/
        kernel.log        the sibling's stdout/stderr, written by the host (at most MAX_LOG_BYTES)
        host.pid          the host's pid: folders of dead hosts are swept at the next start
        k/                IPC sockets ``ipc-<n>`` and, until the kernel is ready, kernel.json

The connection file is deleted as soon as the kernel has answered, so code
running later cannot read the key that signs messages to it. The transport is
IPC (unix sockets): no TCP port is opened. A :class:`LaunchPlan` may put the
sockets elsewhere: the sandbox keeps them on its own small tmpfs and the host
reaches them through ``/proc/<pid>/root``, so sandboxed code can write
nothing into the host's runtime folder.

The sibling never holds a descriptor of a host file: its stdout and stderr
are a pipe that a host thread drains into ``kernel.log``, up to
:data:`MAX_LOG_BYTES` (the rest is counted, not written). Removing runtime
folders (on stop, and the sweep of folders left by dead hosts) never raises,
never recurses and gives up after a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

from ..exceptions import ExecutorError
from ._bounds import bounded_context
from ._cgroup import remove_empty_dir
from .limits import PidsCgroup

__all__ = ["KernelProcess", "LaunchPlan", "descendants", "describe_exit", "remove_tree", "still_busy"]

MAX_LOG_BYTES = 1024 * 1024
"""Bytes of the sibling's stdout/stderr kept in ``kernel.log``; the rest is counted and dropped."""


class LaunchPlan:
    """Where the kernel's sockets live, as seen by the kernel and by the host (default: the runtime folder)."""

    def kernel_ip(self, socket_dir: Path) -> str:
        """The ``ip`` (socket path prefix) written into the kernel's connection file."""
        return str(socket_dir / "ipc")

    async def host_ip(self, pid: int, kernel_ip: str) -> str:
        """The path prefix the host connects to, once the process ``pid`` was launched."""
        return kernel_ip

    def remove_kernel_ipc(self) -> bool:
        """Whether the host may remove the kernel's socket files itself (they are host paths)."""
        return True


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
        plan: LaunchPlan | None = None,
    ) -> None:
        self._command = command
        self._plan = plan or LaunchPlan()
        self._cgroup = cgroup
        self._env = env
        self._preexec = preexec
        self._interrupt_mode = interrupt_mode
        self._cwd = cwd
        self._startup_timeout = startup_timeout
        self.runtime_dir: Path | None = None
        self.manager: _Manager | None = None
        self.client: Any = None
        self._log: _LogPump | None = None
        self._context: Any = None
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

    def oom_kills(self) -> int:
        """Processes of this sibling killed for exceeding its memory cgroup (0 without one)."""
        return self._cgroup.oom_kills() if self._cgroup is not None else 0

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
        await asyncio.to_thread(_sweep_stale_runtime_dirs)
        self.runtime_dir = Path(tempfile.mkdtemp(prefix=_PREFIX))
        (self.runtime_dir / "host.pid").write_text(str(os.getpid()))
        socket_dir = self.runtime_dir / "k"
        socket_dir.mkdir(mode=0o700)
        connection_file = socket_dir / "kernel.json"
        kernel_ip = self._plan.kernel_ip(socket_dir)
        manager = _Manager(transport="ipc", ip=kernel_ip, connection_file=str(connection_file))
        manager.custom_spec = KernelSpec(
            argv=self._command("{connection_file}", socket_dir),
            display_name="smolkernel sibling",
            language="python",
            interrupt_mode=self._interrupt_mode,
        )
        self.manager = manager
        self._log = _LogPump(self.runtime_dir / "kernel.log")
        try:
            await manager.start_kernel(env=dict(self._env), stdout=self._log.write_fd, stderr=self._log.write_fd,
                                       preexec_fn=self._preexec, cwd=self._cwd)
            self._log.launched()
            self._finalizer = weakref.finalize(self, _emergency_cleanup, self.pid, str(self.runtime_dir))
            host_ip = await self._plan.host_ip(self.pid, kernel_ip)
            self._context = bounded_context()
            self.client = manager.client(ip=host_ip, context=self._context)
            self.client.start_channels(hb=False, control=self._interrupt_mode == "message")
            await self.client.wait_for_ready(timeout=self._startup_timeout)
        except Exception as exc:
            log = self.read_log()
            await self.stop()
            raise ExecutorError(f"the sibling kernel did not start: {exc}\n{log}".rstrip()) from None
        _remove(connection_file)

    def read_log(self, limit: int = 2000) -> str:
        """The tail of the kernel's log (for error messages)."""
        if self._log is not None and not self.is_alive():
            self._log.flush()
        path = self.log_path
        try:
            with open(path, "rb") as handle:  # type: ignore[arg-type]
                handle.seek(0, os.SEEK_END)
                handle.seek(max(handle.tell() - limit * 4, 0))
                return handle.read().decode(errors="replace")[-limit:]
        except (OSError, TypeError):
            return ""

    async def interrupt(self) -> None:
        """Interrupt the running execution (SIGINT, or an interrupt_request in message mode).

        In message mode the request goes through the host's own control channel
        (the manager's would connect to the kernel-side socket path).
        """
        if not self.is_alive():
            return
        if self._interrupt_mode == "message" and self.client is not None:
            self.client.session.send(self.client.control_channel.socket, "interrupt_request", {})
        else:
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
                if self._plan.remove_kernel_ipc():
                    await manager.shutdown_kernel(now=True)
                else:  # the socket paths are not host paths: kill and reap, remove nothing by name
                    await manager.provisioner.kill()
                    await manager.provisioner.wait()
            except Exception:  # the process may be gone already
                pass
            _kill_all(children)
        if self._cgroup is not None:  # also catches daemonized processes that left the tree
            await asyncio.to_thread(self._cgroup.kill_and_remove)
            self._cgroup = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._context is not None:
            self._context.destroy(linger=0)
            self._context = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.runtime_dir is not None:
            await asyncio.to_thread(remove_tree, self.runtime_dir)
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


def still_busy(pid: int | None, window: float = 0.5, share: float = 0.2) -> bool:
    """True when the sibling's processes used more than ``share`` of a CPU over ``window`` seconds while idle."""
    if pid is None:
        return False
    before = _cpu_ticks([pid, *descendants(pid)])
    time.sleep(window)
    used = (_cpu_ticks([pid, *descendants(pid)]) - before) / os.sysconf("SC_CLK_TCK")
    return used > window * share


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total


def describe_exit(code: int | None) -> str:
    """A readable exit status: the signal's name (with a hint for SIGKILL) or the code."""
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory or killed)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit status {code}"


def _kill_all(pids: Sequence[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


_PREFIX = "smolkernel-"
SWEEP_SECONDS = 2.0
"""The sweep of stale runtime folders gives up after this long (a start is never blocked by it)."""
REMOVE_SECONDS = 5.0
"""Removing one folder gives up after this long (what is left is swept at a later start)."""


def _sweep_stale_runtime_dirs() -> None:
    """Remove runtime folders left by hosts that were killed before they could clean up; never raises."""
    deadline = time.monotonic() + SWEEP_SECONDS
    try:
        folders = list(Path(tempfile.gettempdir()).glob(_PREFIX + "*"))
    except Exception:  # noqa: BLE001 - a sweep must never stop a start
        return
    for folder in folders:
        if time.monotonic() > deadline:
            return
        try:
            owner = int((folder / "host.pid").read_text()[:20])
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            remove_tree(folder, deadline=deadline)


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


def remove_tree(path: Path | str, *, deadline: float | None = None) -> bool:
    """Remove ``path`` and everything under it; True when it is gone. Never raises, never recurses.

    Sub-folders are moved up into ``path`` before they are emptied, so a tree
    of any depth needs two open descriptors and no long paths. Gives up (False)
    at ``deadline`` (default: :data:`REMOVE_SECONDS` from now).
    """
    deadline = time.monotonic() + REMOVE_SECONDS if deadline is None else deadline
    try:
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(path)
            return True
        root = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        _empty_flat(root, deadline)
    except Exception:  # noqa: BLE001 - cleanup must never raise
        pass
    finally:
        os.close(root)
    return remove_empty_dir(path)


def _empty_flat(root: int, deadline: float) -> None:
    """Empty the folder open as ``root``: files unlinked, each sub-folder's folders moved up into ``root``."""
    counter = 0
    while time.monotonic() < deadline:
        names = os.listdir(root)
        if not names:
            return
        progress = False
        for name in names:
            if time.monotonic() > deadline:
                return
            try:
                os.unlink(name, dir_fd=root)
                progress = True
                continue
            except IsADirectoryError:
                pass
            except OSError as exc:
                if exc.errno not in (21, 1):  # EISDIR, EPERM (unlink of a folder on Linux)
                    continue
            child = os.open(name, _DIR_FLAGS, dir_fd=root)
            try:
                for inner in os.listdir(child):
                    try:
                        os.unlink(inner, dir_fd=child)
                    except OSError:
                        counter += 1
                        os.rename(inner, f".rm-{counter}-{inner[:40]}", src_dir_fd=child, dst_dir_fd=root)
            except OSError:
                pass
            finally:
                os.close(child)
            try:
                os.rmdir(name, dir_fd=root)
                progress = True
            except OSError:
                pass
        if not progress:
            return


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _emergency_cleanup(pid: int | None, runtime_dir: str) -> None:
    """At interpreter exit or garbage collection of a never-stopped kernel: kill it and its folder."""
    if pid:
        _kill_all([*descendants(pid), pid])
    remove_tree(runtime_dir)


class _LogPump:
    """The sibling's stdout/stderr: a pipe a host thread drains into ``kernel.log``, up to ``MAX_LOG_BYTES``.

    The sibling never gets a descriptor of a host file, so it cannot grow one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_fd, self.write_fd = os.pipe()
        self.dropped = 0
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self._written = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="smolkernel-kernel-log", daemon=True)
        self._thread.start()

    def launched(self) -> None:
        """Close the host's copy of the write end (the child holds its own)."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:  # every writer is gone: the read end is ours to close
                os.close(self.read_fd)
                return
            with self._lock:
                room = MAX_LOG_BYTES - self._written
                if room > 0 and not self._file.closed:
                    self._file.write(chunk[:room])
                    self._written += min(room, len(chunk))
                self.dropped += max(len(chunk) - max(room, 0), 0)

    def flush(self, timeout: float = 0.5) -> None:
        """Wait (briefly) until the drain thread wrote what the ended process sent (e.g. bwrap's error)."""
        self._thread.join(timeout)

    def close(self) -> None:
        """Stop writing the file; the drain thread discards the rest and ends when the last writer is gone."""
        self.launched()
        with self._lock:
            if self.dropped and not self._file.closed:
                self._file.write(f"\n[{self.dropped} more bytes of kernel output dropped]\n".encode())
            self._file.close()
