"""A cgroup for one sibling (and everything it starts): caps its tasks and its memory, finds them all at stop.

Made only by root and only where a cgroup file system is writable;
:meth:`SiblingCgroup.create` returns None otherwise (the per-process
``RLIMIT_AS`` and ``RLIMIT_NPROC`` then remain the only caps). Both layouts
are handled:

* cgroup v1: one folder per controller (``/sys/fs/cgroup/memory/...`` with
  ``memory.limit_in_bytes``, ``/sys/fs/cgroup/pids/...`` with ``pids.max``);
* cgroup v2: one folder with ``memory.max``, ``memory.swap.max``, ``pids.max``.

The group is made below the host's own cgroup when possible (so the host's
own limits still apply), else at the hierarchy's root. The memory cap covers
every process of the sibling together, and the tmpfs pages they write
(``/tmp``, ``/dev/shm`` of a sandbox are charged to the writer's group). When
the kernel exceeds it, Linux's OOM killer kills a process of the group;
:meth:`oom_kills` counts those, so the host can say so.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid

__all__ = ["SiblingCgroup"]

CGROUP_ROOT = "/sys/fs/cgroup"


class SiblingCgroup:
    """One sibling's cgroup folders (one per v1 controller, or one v2 folder)."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = paths
        """Controller (``memory``, ``pids``, or ``unified`` for v2) -> the group's folder."""
        self.procs_files = [os.path.join(p, "cgroup.procs") for p in dict.fromkeys(paths.values())]
        """Writing a pid into each of these moves that process into the group."""

    @property
    def path(self) -> str:
        """One folder of the group (the pids one when there is one)."""
        return self.paths.get("pids") or next(iter(self.paths.values()))

    @property
    def procs_file(self) -> str:
        """The first ``cgroup.procs`` file (compatibility with the pids-only group)."""
        return self.procs_files[0]

    @classmethod
    def create(cls, max_tasks: int | None, memory_mb: int | None = None) -> SiblingCgroup | None:
        """A new group capping tasks (threads count) and memory; None when none can be made here."""
        if not sys.platform.startswith("linux") or os.geteuid() != 0 or (max_tasks is None and memory_mb is None):
            return None
        name = f"smolkernel-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
            return _create_v2(name, max_tasks, memory_mb)
        paths: dict[str, str] = {}
        for controller, file, value in (("pids", "pids.max", max_tasks), ("memory", "memory.limit_in_bytes", memory_mb)):
            if value is None:
                continue
            amount = int(value) * (1024 * 1024 if controller == "memory" else 1)
            path = _make_group(os.path.join(CGROUP_ROOT, controller), name, {file: amount})
            if path is not None:
                paths[controller] = path
        if "memory" in paths:  # swap is memory too (fails quietly where swap accounting is off)
            _write(os.path.join(paths["memory"], "memory.memsw.limit_in_bytes"), int(memory_mb) * 1024 * 1024)  # type: ignore[arg-type]
        return cls(paths) if paths else None

    def pids(self) -> list[int]:
        """The processes in the group now."""
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                with open(procs) as handle:
                    found.update(int(line) for line in handle if line.strip())
            except OSError:
                continue
        return sorted(found)

    def oom_kills(self) -> int:
        """How many processes of the group Linux killed for exceeding the memory cap so far."""
        path = self.paths.get("memory") or self.paths.get("unified")
        if path is None:
            return 0
        for file in ("memory.events", "memory.oom_control"):
            try:
                with open(os.path.join(path, file)) as handle:
                    for line in handle:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
            except (OSError, ValueError):
                continue
        return 0

    def memory_limit_mb(self) -> int | None:
        """The memory cap in MiB, or None when the group has none."""
        path = self.paths.get("memory") or self.paths.get("unified")
        for file in ("memory.max", "memory.limit_in_bytes"):
            try:
                with open(os.path.join(path, file)) as handle:  # type: ignore[arg-type]
                    return int(handle.read().strip()) // (1024 * 1024)
            except (OSError, ValueError, TypeError):
                continue
        return None

    def kill_and_remove(self, timeout: float = 2.0) -> None:
        """SIGKILL every process left in the group, then remove the group's folders."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = self.pids()
            for pid in remaining:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if not remaining and all(remove_empty_dir(p) for p in dict.fromkeys(self.paths.values())):
                return
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)


def _create_v2(name: str, max_tasks: int | None, memory_mb: int | None) -> SiblingCgroup | None:
    files: dict[str, int | str] = {}
    if max_tasks is not None:
        files["pids.max"] = int(max_tasks)
    if memory_mb is not None:
        files["memory.max"] = int(memory_mb) * 1024 * 1024
        files["memory.swap.max"] = 0
    for parent in (_own_group("unified"), CGROUP_ROOT):
        if parent is None:
            continue
        path = _make_group(parent, name, files, required=("pids.max", "memory.max"))
        if path is not None:
            return SiblingCgroup({"unified": path})
    return None


def _own_group(controller: str) -> str | None:
    """The host's own cgroup folder for ``controller`` (``unified``: the v2 line), from /proc/self/cgroup."""
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                _, names, relative = line.rstrip("\n").split(":", 2)
                if (controller == "unified" and names == "") or controller in names.split(","):
                    base = CGROUP_ROOT if controller == "unified" else os.path.join(CGROUP_ROOT, controller)
                    return os.path.join(base, relative.lstrip("/")) if relative != "/" else base
    except (OSError, ValueError):
        return None
    return None


def _make_group(hierarchy: str, name: str, files: dict[str, int | str], required: tuple[str, ...] = ()) -> str | None:
    """Make ``name`` below the host's own group of ``hierarchy`` (else its root) and write ``files`` there."""
    if not os.path.exists(os.path.join(hierarchy, "cgroup.procs")):
        return None
    controller = os.path.basename(hierarchy)
    parents = [p for p in (_own_group(controller), hierarchy) if p and os.path.isdir(p)]
    for parent in dict.fromkeys(parents):
        _sweep_orphans(parent)
        path = os.path.join(parent, name)
        try:
            os.mkdir(path)
        except OSError:
            continue
        written = {file: _write(os.path.join(path, file), value) for file, value in files.items()}
        if all(written.get(file, True) for file in required or tuple(files)):
            return path
        remove_empty_dir(path)
    return None


def _write(path: str, value: int | str) -> bool:
    try:
        with open(path, "w") as handle:
            handle.write(str(value))
        return True
    except OSError:
        return False


def _sweep_orphans(parent: str) -> None:
    """Remove groups left by hosts that died (their sibling was killed with them)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith("smolkernel-")]
    except OSError:
        return
    for name in names:
        owner = name.split("-")[1]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            SiblingCgroup({"orphan": os.path.join(parent, name)}).kill_and_remove(timeout=0.2)


def remove_empty_dir(path: str) -> bool:
    """Remove an empty folder; True when it is gone (already gone counts), never raises for OS errors."""
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False
