"""Cheap protections of the host against its ``kernel`` sibling (which is not a sandbox).

* :func:`make_host_undumpable` sets ``PR_SET_DUMPABLE`` to 0 on the host when
  it first starts a sibling. Effect: processes of the same user without
  ``CAP_SYS_PTRACE`` can no longer ``ptrace`` the host or read its
  ``/proc/<pid>/mem``, ``environ``, ``fd``...; the host writes no core dump;
  attaching a debugger or ``py-spy`` to the host then needs root. Set
  ``SMOLKERNEL_KEEP_DUMPABLE=1`` to keep the host dumpable.
* :func:`signal_guard` builds, in the host, a seccomp filter that the sibling
  installs just before ``exec``: it refuses (``EPERM``) ``kill``/``tgkill``/
  ``rt_sigqueueinfo``/``pidfd_open`` aimed at the host's pid or process group
  or at every process (``-1``), ``tkill``, ``pidfd_send_signal``, ``ptrace``
  and ``process_vm_readv/writev``, and every system call of another ABI (x32,
  i386). A root host also drops ``CAP_SYS_PTRACE`` from the sibling's bounding
  set, since root could otherwise still read a non-dumpable host's memory.
  The filter is inherited by everything the sibling starts. x86-64 and
  aarch64 only; elsewhere :func:`signal_guard` returns None.

Neither makes ``kernel`` a boundary: the sibling still runs as the host's
user, with its files. Use ``sandbox`` for code you do not trust.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
from collections.abc import Callable

__all__ = ["make_host_undumpable", "signal_guard"]

_PR_SET_DUMPABLE = 4
_PR_SET_SECCOMP = 22
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_MODE_FILTER = 2
_CAP_SYS_PTRACE = 19
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | 1
_X32_BIT = 0x40000000

_ARCHES = {
    "x86_64": (0xC000003E, {"kill": 62, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_open": 434},
               {"tkill": 200, "pidfd_send_signal": 424, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311}),
    "aarch64": (0xC00000B7, {"kill": 129, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "pidfd_open": 434},
                {"tkill": 130, "pidfd_send_signal": 424, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271}),
}
"""Audit arch, calls whose first argument is a pid (checked), calls refused outright."""


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()
_UNDUMPABLE_DONE = False


def make_host_undumpable() -> bool:
    """Make this process non-dumpable (once); True when it is now. See the module docstring for the effects."""
    global _UNDUMPABLE_DONE
    if _UNDUMPABLE_DONE:
        return True
    if _LIBC is None or os.environ.get("SMOLKERNEL_KEEP_DUMPABLE") == "1":
        return False
    _UNDUMPABLE_DONE = _LIBC.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    return _UNDUMPABLE_DONE


class _Program:
    """A tiny classic-BPF assembler with forward labels."""

    def __init__(self) -> None:
        self.ops: list[tuple[int, str | int, str | int, int]] = []

    def load(self, offset: int) -> None:
        self.ops.append((0x20, 0, 0, offset))  # BPF_LD | BPF_W | BPF_ABS

    def jump(self, cond: int, value: int, true: str | int, false: str | int) -> None:
        self.ops.append((cond, true, false, value & 0xFFFFFFFF))

    def ret(self, value: int, label: str | None = None) -> None:
        self.ops.append((0x06, label or "", "", value))  # BPF_RET | BPF_K; jt holds the label name

    def assemble(self) -> bytes:
        labels = {op[1]: i for i, op in enumerate(self.ops) if op[0] in (0x06, 0x20) and isinstance(op[1], str) and op[1]}
        out = b""
        for i, (code, jt, jf, k) in enumerate(self.ops):
            if code in (0x06, 0x20):  # returns and loads: the label slot is not a jump
                jt = jf = 0
            else:
                jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
                jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
            out += struct.pack("<HBBI", code, jt, jf, k)
        return out


_JEQ, _JGE = 0x15, 0x35


def _filter(arch: int, checked: dict[str, int], refused: dict[str, int], host: int, group: int) -> bytes:
    prog = _Program()
    prog.load(4)  # seccomp_data.arch
    prog.jump(_JEQ, arch, 0, "deny")
    prog.load(0)  # seccomp_data.nr
    if arch == _ARCHES["x86_64"][0]:
        prog.jump(_JGE, _X32_BIT, "deny", 0)
    for nr in refused.values():
        prog.jump(_JEQ, nr, "deny", 0)
    for nr in checked.values():
        prog.jump(_JEQ, nr, "check", 0)
    prog.ret(_RET_ALLOW, "allow")
    prog.ret(0x20, "check")  # placeholder, replaced by the load of the first argument below
    prog.ops[-1] = (0x20, "check", "", 16)  # BPF_LD of seccomp_data.args[0], low 32 bits (little endian)
    for target in {host, -host, -group, -1}:
        prog.jump(_JEQ, target, "deny", 0)
    prog.ret(_RET_ALLOW, "allow2")
    prog.ret(_RET_EPERM, "deny")
    return prog.assemble()


def signal_guard(host_pid: int | None = None) -> Callable[[], None] | None:
    """The function a sibling's ``preexec_fn`` calls last: install the seccomp filter (see module docstring).

    Everything is prepared here, in the host; the returned function only makes
    ``prctl`` calls. Returns None where the filter cannot be built (not Linux,
    another architecture, no libc).
    """
    arch = _ARCHES.get(platform.machine())
    if _LIBC is None or arch is None:
        return None
    host = host_pid or os.getpid()
    code = _filter(arch[0], arch[1], arch[2], host, os.getpgid(host))
    count = len(code) // 8
    buffer = ctypes.create_string_buffer(code, len(code))

    class _FProg(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = _FProg(count, ctypes.addressof(buffer))
    prctl = _LIBC.prctl
    root = os.geteuid() == 0

    def install() -> None:
        _keep = buffer  # noqa: F841 - the buffer must live as long as this function
        if root:
            prctl(_PR_CAPBSET_DROP, _CAP_SYS_PTRACE, 0, 0, 0)
        else:
            prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
            os._exit(126)  # refuse to run unguarded rather than silently

    return install
