"""Benchmark the sibling-kernel executors against raw jupyter_client, in the same run.

Measures, for ``kernel`` and (when bubblewrap is installed) ``sandbox``:

* start to ready (kernel launched, bridge installed);
* round trip of ``x=1`` and ``print(1)`` through ``Executor.run`` next to raw
  ``execute_interactive`` on the same kind of kernel (median; goal <= 1.2x);
* the extra cost of one tool call through the ToolBridge (median of
  ``noop()`` minus the median of ``None``; goal <= 2 ms).

Usage: ``python bench/bench_kernel.py [--iterations 200]``; ``main()`` returns the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
from typing import Any

from smolkernel.executors.kernel import KernelExecutor
from smolkernel.executors.sandbox import SandboxExecutor
from smolkernel.tools import tool


@tool
def noop() -> None:
    """Do nothing (measures the bridge)."""
    return None


async def _median_ms(action: Any, iterations: int) -> float:
    for _ in range(min(20, iterations)):  # warm-up
        await action()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def bench_executor(kind: str, iterations: int) -> list[dict[str, Any]]:
    """Rows for one executor kind."""
    cls = SandboxExecutor if kind == "sandbox" else KernelExecutor
    executor = cls(timeout=60)
    started = time.perf_counter()
    await executor.start()
    start_ms = (time.perf_counter() - started) * 1000
    await executor.send_tools({"noop": noop})
    rows = [{"executor": kind, "measure": "start to ready", "ms": start_ms}]
    try:
        client = executor._process.client  # the same kernel, driven raw
        for code in ("x=1", "print(1)"):
            ours = await _median_ms(lambda c=code: executor.run(c), iterations)
            raw = await _median_ms(lambda c=code: client.execute_interactive(c, output_hook=lambda m: None, timeout=30), iterations)
            rows.append({"executor": kind, "measure": f"run({code!r})", "ms": ours, "raw_ms": raw, "ratio": ours / raw})
        plain = await _median_ms(lambda: executor.run("None"), iterations)
        call = await _median_ms(lambda: executor.run("noop()"), iterations)
        rows.append({"executor": kind, "measure": "extra cost of one tool call", "ms": call - plain})
    finally:
        await executor.close()
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table."""
    lines = [f"{'executor':<9} {'measure':<30} {'median ms':>10} {'raw ms':>8} {'ratio':>6}"]
    for row in rows:
        raw = f"{row['raw_ms']:.2f}" if "raw_ms" in row else ""
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
        lines.append(f"{row['executor']:<9} {row['measure']:<30} {row['ms']:>10.2f} {raw:>8} {ratio:>6}")
    return "\n".join(lines)


async def amain(iterations: int = 200) -> list[dict[str, Any]]:
    """Run every benchmark; returns the rows."""
    rows = await bench_executor("kernel", iterations)
    if shutil.which("bwrap"):
        rows += await bench_executor("sandbox", iterations)
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Command-line entry point (also called by ``bench/run.py``): prints the table, returns the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args(argv)
    rows = asyncio.run(amain(args.iterations))
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
