"""``smolkernel batch INPUTS.jsonl --agent agent.yaml -o RESULTS.jsonl``.

Each line of INPUTS is a JSON string (a task) or an object filled into
``--task``. The exit status is 0 when every input succeeded, 1 when any
failed, 2 for a wrong set-up; the last line of output is the summary.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["add_batch_command"]


def add_batch_command(subparsers: Any) -> None:
    """Register ``batch`` on an argparse subparsers object."""
    parser = subparsers.add_parser("batch", help="run an agent over every line of a JSON-lines file")
    parser.add_argument("inputs", help="JSON-lines file: one task string or object per line")
    parser.add_argument("--agent", required=True, help="the agent's spec (agent.yaml, or a folder holding one)")
    parser.add_argument("--task", help="a template filled from each object, e.g. 'Classify: {text}'")
    parser.add_argument("-o", "--output", required=True, help="the results file (JSON lines, one per input)")
    parser.add_argument("--concurrency", type=int, default=16, help="tasks at once (default 16)")
    parser.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster (scheduler address, e.g. tcp://host:8786)")
    parser.add_argument("--resume", action="store_true", help="keep the results already in OUTPUT and run only the rest")
    parser.add_argument("--timeout", type=float, help="seconds one task may take")
    parser.add_argument("--retries", type=int, default=0, help="attempts added after a model error (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from .engine import run_batch
    from .results import iter_jsonl

    try:
        inputs = list(iter_jsonl(args.inputs))
        result = run_batch(
            args.agent, inputs, task=args.task, results=args.output, resume=args.resume, concurrency=args.concurrency,
            backend=args.dask or "local", timeout=args.timeout, retries=args.retries, progress=not args.quiet,
        )
    except FileNotFoundError as exc:
        print(f"smolkernel batch: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except (ConfigurationError, ValueError) as exc:
        print(f"smolkernel batch: {exc}", file=sys.stderr)
        return 2
    for failure in result.failures[:5]:
        print(f"input {failure.index} failed: {failure.error}", file=sys.stderr)
    if result.failed > 5:
        print(f"... and {result.failed - 5} more failures (see {args.output})", file=sys.stderr)
    print(f"{result.summary()}; results in {args.output}")
    return 1 if result.failed else 0
