"""Installing the SmolKernel kernelspec: ``smolkernel install`` / ``smolkernel uninstall``.

The kernelspec (``kernel.json`` and the logos) ships in the package as
``smolkernel.kernelspec``. Its argv starts with ``"python"``, which
jupyter_client replaces with the interpreter of the Jupyter server, so the
spec keeps working when the environment moves.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["KERNEL_NAME", "DISPLAY_NAME", "install_kernelspec", "uninstall_kernelspec", "add_install_commands"]

KERNEL_NAME = "smolkernel"
"""The kernel name Jupyter knows the SmolKernel by."""
DISPLAY_NAME = "SmolKernel (agent)"
"""The name shown in launchers and kernel pickers."""
_SPEC_FILES = (".json", ".png", ".svg")


def _write_spec(folder: Path, display_name: str | None) -> None:
    """Copy the packaged kernelspec into ``folder``, with another display name if asked."""
    source = resources.files("smolkernel.kernelspec")
    for entry in source.iterdir():
        if entry.name.endswith(_SPEC_FILES):
            (folder / entry.name).write_bytes(entry.read_bytes())
    if display_name:
        spec_path = folder / "kernel.json"
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        spec["display_name"] = display_name
        spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


def install_kernelspec(
    *, user: bool = False, prefix: str | None = None, name: str = KERNEL_NAME, display_name: str | None = None
) -> str:
    """Install the kernelspec; returns the folder it was installed in.

    Args:
        user: install for the current user (``~/.local/share/jupyter``).
        prefix: install under ``PREFIX/share/jupyter/kernels`` (e.g. ``sys.prefix``).
        name: the kernel name.
        display_name: the name shown in launchers (default ``"SmolKernel (agent)"``).

    With neither ``user`` nor ``prefix`` the spec goes to the system-wide
    Jupyter folder, as ``jupyter kernelspec install`` does.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        _write_spec(folder, display_name)
        return KernelSpecManager().install_kernel_spec(str(folder), name, user=user, prefix=prefix)


def uninstall_kernelspec(*, name: str = KERNEL_NAME, prefix: str | None = None, user: bool = False) -> str:
    """Remove an installed kernelspec; returns the folder removed.

    With ``prefix`` (or ``user``) only that location is looked at; otherwise
    every folder Jupyter searches.

    Raises:
        FileNotFoundError: no such kernelspec is installed there.
    """
    if prefix or user:
        if prefix:
            folder = Path(prefix) / "share" / "jupyter" / "kernels" / name
        else:
            from jupyter_core.paths import jupyter_data_dir

            folder = Path(jupyter_data_dir()) / "kernels" / name
        if not (folder / "kernel.json").is_file():
            raise FileNotFoundError(f"no kernelspec {name!r} in {folder.parent}")
        shutil.rmtree(folder)
        return str(folder)
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        return KernelSpecManager().remove_kernel_spec(name)
    except KeyError:
        raise FileNotFoundError(f"no kernelspec {name!r} is installed") from None


def _location_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="the current user's Jupyter folder")
    where.add_argument("--sys-prefix", action="store_true", help="this Python environment (sys.prefix)")
    where.add_argument("--prefix", metavar="P", help="PREFIX/share/jupyter/kernels")
    parser.add_argument("--name", default=KERNEL_NAME, help=f"kernel name (default {KERNEL_NAME})")


def _prefix(args: argparse.Namespace) -> str | None:
    return sys.prefix if args.sys_prefix else args.prefix


def _install(args: argparse.Namespace) -> int:
    try:
        folder = install_kernelspec(user=args.user, prefix=_prefix(args), name=args.name, display_name=args.display_name)
    except PermissionError as exc:
        print(f"smolkernel install: {exc}; try --user or --sys-prefix", file=sys.stderr)
        return 1
    print(f"installed kernelspec {args.name!r} in {folder}")
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    try:
        folder = uninstall_kernelspec(name=args.name, prefix=_prefix(args), user=args.user)
    except (FileNotFoundError, PermissionError) as exc:
        print(f"smolkernel uninstall: {exc}", file=sys.stderr)
        return 1
    print(f"removed kernelspec {args.name!r} from {folder}")
    return 0


def add_install_commands(subparsers: Any) -> None:
    """Register ``install`` and ``uninstall`` on an argparse subparsers object."""
    install = subparsers.add_parser("install", help="install the SmolKernel kernelspec")
    _location_arguments(install)
    install.add_argument("--display-name", help=f"name shown in launchers (default {DISPLAY_NAME!r})")
    install.set_defaults(handler=_install)
    uninstall = subparsers.add_parser("uninstall", help="remove the SmolKernel kernelspec")
    _location_arguments(uninstall)
    uninstall.set_defaults(handler=_uninstall)
