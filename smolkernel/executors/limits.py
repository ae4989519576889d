"""What a sibling kernel inherits from the host: resource limits and an allow-listed environment.

Both are applied when the sibling process is created:

* :class:`ResourceLimits` becomes ``setrlimit`` calls in a ``preexec_fn`` that
  runs in the forked child just before ``exec``. The same function asks the
  Linux kernel to send the child ``SIGKILL`` when its parent thread dies
  (``PR_SET_PDEATHSIG``), so a sibling never outlives a crashed host.
* :func:`sibling_environment` keeps only allow-listed variables (``PATH``,
  ``HOME``, locale...) and drops anything that looks like a secret even when a
  pattern allowed it, so API keys and tokens of the host never reach code the
  model wrote.

Linux does not enforce ``RLIMIT_NPROC`` for root. A host running as root
therefore also puts the sibling in a ``pids`` cgroup of its own
(:class:`PidsCgroup`) when the cgroup file system is writable: ``pids.max``
caps its tasks, and stopping the sibling kills every task left in the group,
daemonized ones included. Where no cgroup can be made, the per-execution
timeout (and, for ``sandbox``, the PID namespace that dies with the sandbox)
bounds process bombs.
"""

from __future__ import annotations

import ctypes
import fnmatch
import os
import resource
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["ResourceLimits", "DEFAULT_ENV_ALLOWLIST", "SECRET_PATTERNS", "sibling_environment", "make_preexec", "PidsCgroup"]

DEFAULT_ENV_ALLOWLIST: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "TMPDIR",
    "PYTHONPATH", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUTF8", "VIRTUAL_ENV", "CONDA_PREFIX",
    "LD_LIBRARY_PATH", "MPLBACKEND", "MPLCONFIGDIR", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS", "SSL_CERT_FILE", "SSL_CERT_DIR",
)
"""Environment variables (fnmatch patterns) that reach the sibling by default."""

SECRET_PATTERNS: tuple[str, ...] = (
    "*KEY*", "*TOKEN*", "*SECRET*", "*PASSWORD*", "*PASSWD*", "*CREDENTIAL*", "*AUTH*", "*COOKIE*", "*SESSION*",
)
"""Names that never pass the allow-list, whatever pattern matched them."""

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@dataclass(frozen=True)
class ResourceLimits:
    """Limits applied to the sibling process (``None`` leaves one as inherited)."""

    memory_mb: int | None = 8192
    """Address space (``RLIMIT_AS``) in MiB; a memory bomb gets ``MemoryError``."""
    cpu_seconds: int | None = 3600
    """CPU seconds over the kernel's life (``RLIMIT_CPU``); past it the kernel dies and is restarted."""
    open_files: int | None = 1024
    """Open file descriptors (``RLIMIT_NOFILE``)."""
    processes: int | None = 256
    """Processes and threads the sibling may add beyond what its user already runs (``RLIMIT_NPROC``)."""

    def rlimits(self) -> list[tuple[int, int, int]]:
        """The ``(resource, soft, hard)`` triples to apply, computed in the parent."""
        out: list[tuple[int, int, int]] = []
        if self.memory_mb is not None:
            size = int(self.memory_mb) * 1024 * 1024
            out.append((resource.RLIMIT_AS, size, size))
        if self.cpu_seconds is not None:
            # soft limit sends SIGXCPU (the kernel dies); the hard limit is the SIGKILL backstop
            out.append((resource.RLIMIT_CPU, int(self.cpu_seconds), int(self.cpu_seconds) + 5))
        if self.open_files is not None:
            out.append((resource.RLIMIT_NOFILE, int(self.open_files), int(self.open_files)))
        if self.processes is not None and hasattr(resource, "RLIMIT_NPROC"):
            total = _user_task_count() + int(self.processes)
            out.append((resource.RLIMIT_NPROC, total, total))
        return [_clamp(*limit) for limit in out]


def _clamp(which: int, soft: int, hard: int) -> tuple[int, int, int]:
    """Never ask for more than the current hard limit (raising it needs privileges)."""
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    return which, soft, hard


def _user_task_count() -> int:
    """How many tasks (threads count for RLIMIT_NPROC) this user runs now; 0 off Linux."""
    uid = os.getuid()
    count = 0
    try:
        entries = os.scandir("/proc")
    except OSError:
        return 0
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def sibling_environment(
    source: Mapping[str, str] | None = None,
    allowlist: Iterable[str] = DEFAULT_ENV_ALLOWLIST,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the environment for a sibling kernel.

    Variables of ``source`` (default ``os.environ``) pass when a pattern of
    ``allowlist`` matches their name and no :data:`SECRET_PATTERNS` does.
    ``extra`` is added last and unfiltered: the caller chose it explicitly.
    ``MPLBACKEND`` is set to the inline backend, so figures come back as displays.
    """
    source = os.environ if source is None else source
    patterns = tuple(allowlist)
    env = {
        name: value
        for name, value in source.items()
        if any(fnmatch.fnmatchcase(name, p) for p in patterns)
        and not any(fnmatch.fnmatchcase(name.upper(), s) for s in SECRET_PATTERNS)
    }
    env["MPLBACKEND"] = INLINE_BACKEND
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.setdefault("PATH", os.defpath)
    env.update(extra or {})
    return env


_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    """Resolve ``prctl`` in the parent: loading libraries after ``fork`` can deadlock."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


CGROUP_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")
"""Where a pids cgroup may be made: the cgroup-v1 ``pids`` hierarchy, else the v2 root."""


class PidsCgroup:
    """A ``pids`` cgroup holding one sibling: caps its tasks and finds them all at stop.

    Made only by root (who is exempt from ``RLIMIT_NPROC``) and only where the
    cgroup file system is writable; :meth:`create` returns None otherwise.
    """

    def __init__(self, path: str):
        self.path = path
        """The cgroup's folder."""
        self.procs_file = os.path.join(path, "cgroup.procs")
        """Writing a pid here moves that process into the group."""

    @classmethod
    def create(cls, max_tasks: int | None) -> PidsCgroup | None:
        """A new group allowing ``max_tasks`` tasks (threads count), or None if none can be made."""
        if max_tasks is None or not sys.platform.startswith("linux") or os.geteuid() != 0:
            return None
        for root in CGROUP_ROOTS:
            if not os.path.exists(os.path.join(root, "cgroup.procs")):  # not a mounted cgroup hierarchy
                continue
            _sweep_orphans(root)
            path = os.path.join(root, f"smolkernel-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                os.mkdir(path)
            except OSError:
                continue
            try:
                with open(os.path.join(path, "pids.max"), "w") as handle:
                    handle.write(str(int(max_tasks)))
                return cls(path)
            except OSError:  # no pids controller here
                _rmdir(path)
        return None

    def pids(self) -> list[int]:
        """The processes in the group now."""
        try:
            with open(self.procs_file) as handle:
                return [int(line) for line in handle if line.strip()]
        except OSError:
            return []

    def kill_and_remove(self, timeout: float = 2.0) -> None:
        """SIGKILL every process left in the group, then remove the group."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = self.pids()
            for pid in remaining:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if (not remaining and _rmdir(self.path)) or time.monotonic() > deadline:
                return
            time.sleep(0.02)


def _sweep_orphans(root: str) -> None:
    """Remove groups left by hosts that died (their sibling was killed with them)."""
    try:
        names = [n for n in os.listdir(root) if n.startswith("smolkernel-")]
    except OSError:
        return
    for name in names:
        owner = name.split("-")[1]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            PidsCgroup(os.path.join(root, name)).kill_and_remove(timeout=0.2)


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def make_preexec(limits: ResourceLimits, die_with_parent: bool = True, cgroup: PidsCgroup | None = None) -> Callable[[], None]:
    """Build the ``preexec_fn`` that applies ``limits`` in the child before ``exec``.

    Everything is computed here, in the parent, so that the child only makes
    system calls (no imports, no allocation-heavy work between fork and exec).
    With ``cgroup``, the child first moves itself into that group.
    """
    triples = limits.rlimits()
    parent = os.getpid()
    prctl = _PRCTL if die_with_parent else None
    procs_file = cgroup.procs_file if cgroup is not None else None

    def preexec() -> None:
        if procs_file is not None:
            try:
                fd = os.open(procs_file, os.O_WRONLY)
                try:
                    os.write(fd, str(os.getpid()).encode())
                finally:
                    os.close(fd)
            except OSError:
                pass
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
        for which, soft, hard in triples:
            try:
                resource.setrlimit(which, (soft, hard))
            except (ValueError, OSError):
                pass

    return preexec
