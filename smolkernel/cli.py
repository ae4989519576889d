"""The ``smolkernel`` command: one argparse subcommand per module.

Each command module offers ``add_<name>_command(subparsers)`` (or a function
registering several), which adds its parser and sets ``handler`` to a
function ``(args) -> exit code``. Adding a command is one entry in
``COMMANDS``; modules are imported only when the command line is parsed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS: tuple[tuple[str, str], ...] = (
    ("smolkernel.kernel.install", "add_install_commands"),
    ("smolkernel.report", "add_report_command"),
    ("smolkernel.serve.cli", "add_serve_command"),
    ("smolkernel.executors.docker_image", "add_image_command"),
    ("smolkernel.tools.mcp_agent_server", "add_mcp_command"),
    ("smolkernel.batch.cli", "add_batch_command"),
)
"""(module, registering function) for every subcommand group."""


def build_parser() -> argparse.ArgumentParser:
    """The ``smolkernel`` parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="smolkernel", description="Agents that think in code, Jupyter-first.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, function in COMMANDS:
        try:
            register = getattr(import_module(module_name), function)
        except (ImportError, AttributeError):  # a command whose module is not there yet
            continue
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``smolkernel`` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
