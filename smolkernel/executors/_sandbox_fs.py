"""What the sandbox's file system holds: exactly the interpreter and the system, nothing of the user's.

The sandbox starts from an empty root and binds read-only only:

* the system folders ``/usr`` and ``/etc`` (and ``/bin``, ``/lib``... as the
  symlinks or folders they are on the host), with root-only secrets masked;
* the interpreter's installation(s): the virtual environment and the Python
  it was made from, found from the interpreter itself (never ``sys.path``
  entries such as ``PYTHONPATH`` or the script's folder);
* folders the user names (``ro_binds``).

Never bound: the home folder, ``/tmp``, ``/var/tmp``, ``/run``, ``/dev/shm``,
the Jupyter runtime folder. An installation that *is* or *contains* one of
those cannot be made visible without exposing it, and is refused with a
clear error. Unix sockets and FIFOs found in the ``ro_binds`` folders are
covered by ``/dev/null`` (a read-only bind still lets a process connect to a
socket or write to a FIFO); the scan takes at most ``SCAN_SECONDS`` per
folder. The system folders and the interpreter's installation are not scanned
(scanning a large installation costs seconds, and no socket lives in
``/usr``, ``/etc`` or a Python installation on a normal system).
"""

from __future__ import annotations

import os
import stat
import sys
import time

from ..exceptions import ConfigurationError

__all__ = ["SYSTEM_DIRS", "SECRET_PATHS", "check_user_binds", "interpreter_roots", "private_dirs", "special_files", "system_binds"]

SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Bound read-only when present (symlinks are recreated as symlinks)."""
SECRET_PATHS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d",
                "/etc/ssh", "/etc/ssl/private")
"""Host files under the system folders that root could read even inside the user namespace; masked."""
TEMP_DIRS = ("/tmp", "/var/tmp", "/run", "/dev/shm", "/var/run")
SCAN_SECONDS = 3.0
"""A scan for sockets and FIFOs in one folder stops after this long (the rest is not masked: documented)."""


def system_binds() -> list[str]:
    """bubblewrap arguments for the system folders, with secrets masked."""
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in SECRET_PATHS:
        if os.path.isdir(path) and not os.path.islink(path):
            args += ["--tmpfs", path]
        elif os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    return args


def private_dirs() -> list[str]:
    """Folders never bound into the sandbox: home, temp folders, Jupyter runtime folders."""
    dirs = [os.path.expanduser("~"), *TEMP_DIRS, "/root"]
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        dirs.append(jupyter_runtime_dir())
    except Exception:  # noqa: BLE001 - jupyter_core missing or misconfigured: the home covers the default
        pass
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        dirs.append(os.environ["JUPYTER_RUNTIME_DIR"])
    return sorted({os.path.realpath(d) for d in dirs if d})


def interpreter_roots(python: str) -> list[str]:
    """The installation folders ``python`` needs, outside the system folders.

    Raises:
        ConfigurationError: the interpreter is missing, or one of its
            installations is (or contains) a private folder, or is ``/``.
    """
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise ConfigurationError(f"the sandbox's interpreter {python!r} does not exist or is not executable; "
                                 "pass python= the path of a Python that has ipykernel installed")
    candidates = {_install_root(os.path.abspath(python)), _install_root(os.path.realpath(python))}
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        candidates.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    roots = sorted({os.path.realpath(c) for c in candidates if c}, key=len)
    kept: list[str] = []
    for root in roots:
        if _is_system(root) or any(_under(root, k) for k in kept):
            continue
        _refuse_exposing(root, python)
        kept.append(root)
    return kept


def _install_root(path: str) -> str:
    """``/x/bin/python3`` -> ``/x`` (the prefix holding bin/ and lib/)."""
    return os.path.dirname(os.path.dirname(path))


def _is_system(path: str) -> bool:
    return any(_under(path, d) for d in SYSTEM_DIRS if not os.path.islink(d))


def _refuse_exposing(root: str, python: str) -> None:
    if root == "/":
        raise ConfigurationError(f"the interpreter {python!r} is installed at / ; the sandbox cannot show it alone")
    for private in private_dirs():
        if _under(private, root):
            raise ConfigurationError(
                f"the interpreter {python!r} is installed in {root}, which contains the private folder {private}; "
                "the sandbox would expose it. Use a Python installed elsewhere (e.g. a virtual environment in a "
                "project folder) and pass it as python="
            )


def check_user_binds(paths: tuple[str, ...]) -> list[str]:
    """The user's ``ro_binds``, resolved; refuses the private folders and anything containing one.

    Raises:
        ConfigurationError: a path is missing or exposes a private folder.
    """
    out = []
    for path in paths:
        real = os.path.realpath(path)
        if not os.path.exists(real):
            raise ConfigurationError(f"ro_binds: {path!r} does not exist")
        for private in private_dirs():
            if _under(private, real):
                raise ConfigurationError(f"ro_binds: {path!r} is or contains the private folder {private}; "
                                         "bind a folder that holds only what the code may read")
        out.append(real)
    return out


def special_files(root: str) -> list[str]:
    """Unix sockets and FIFOs under ``root`` (to be covered): an iterative walk, bounded in time, symlinks not followed."""
    found: list[str] = []
    deadline = time.monotonic() + SCAN_SECONDS
    stack = [root]
    while stack and time.monotonic() < deadline:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        mode = entry.stat(follow_symlinks=False).st_mode
                    except OSError:
                        continue
                    if stat.S_ISDIR(mode):
                        stack.append(entry.path)
                    elif stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
                        found.append(entry.path)
        except OSError:
            continue
    return found


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
