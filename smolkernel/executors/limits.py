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

Linux does not enforce ``RLIMIT_NPROC`` for root, and ``RLIMIT_AS`` caps one
process, not the sibling with its children and tmpfs files. A host running
as root therefore also puts the sibling in a cgroup of its own
(:class:`SiblingCgroup`, in ``_cgroup.py``) when the cgroup file system is
writable: ``pids.max`` caps its tasks, the memory controller caps all of its
memory together, and stopping the sibling kills every task left in the group,
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ._cgroup import SiblingCgroup

__all__ = ["ResourceLimits", "DEFAULT_ENV_ALLOWLIST", "SECRET_PATTERNS", "sibling_environment", "make_preexec", "PidsCgroup", "SiblingCgroup"]

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


PidsCgroup = SiblingCgroup
"""The former name of :class:`SiblingCgroup` (it now caps memory too)."""


def make_preexec(limits: ResourceLimits, die_with_parent: bool = True, cgroup: SiblingCgroup | None = None,
                 protect_host: Callable[[], None] | None = None) -> Callable[[], None]:
    """Build the ``preexec_fn`` that applies ``limits`` in the child before ``exec``.

    Everything is computed here, in the parent, so that the child only makes
    system calls (no imports, no allocation-heavy work between fork and exec).
    With ``cgroup``, the child first moves itself into that group. ``protect_host``
    (made in the parent too, see ``_host_guard``) runs last, just before ``exec``.
    """
    triples = limits.rlimits()
    parent = os.getpid()
    prctl = _PRCTL if die_with_parent else None
    procs_files = list(cgroup.procs_files) if cgroup is not None else []

    def preexec() -> None:
        for procs_file in procs_files:
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
        if protect_host is not None:
            protect_host()

    return preexec
