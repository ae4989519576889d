"""Host memory under output floods: how much the host's RSS grows, whatever the sandboxed code sends.

For each scenario the host's peak RSS is reset (``/proc/self/clear_refs``),
the scenario runs through one ``SandboxExecutor`` (``KernelExecutor`` where
bubblewrap is missing), and the growth of the peak (``VmHWM``) and of the
resident size after the run (``VmRSS``) over the start is recorded. The
reference, measured in the same run, is a quiet execution (``x = 1``).
Goal: every scenario within a few tens of MB of the reference. For contrast,
the last row sends the raw 100 MB message to a host whose ZMQ context has no
caps (what the host did before the caps).

Usage: ``python bench/bench_host_memory.py [--repeats 3]``; ``main()`` returns the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import time
from typing import Any

import zmq.asyncio

from smolkernel.executors.kernel import KernelExecutor
from smolkernel.executors.sandbox import SandboxExecutor

RAW_DISPLAYS = ("k = get_ipython().kernel\nfor i in range(50):\n"
                "    k.session.send(k.iopub_socket, 'display_data', {'data': {'text/html': 'd' * 9_800_000}, 'metadata': {}},"
                " parent=k.get_parent('shell'))")
RAW_PRINT = ("k = get_ipython().kernel\n"
             "k.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'x' * 100_000_000}, parent=k.get_parent('shell'))")
IDLE_FLOOD = ("import threading, sys\n"
              "def flood():\n    for _ in range(100):\n        sys.__stdout__.write('z' * 5_000_000); sys.stdout.write('z' * 5_000_000)\n"
              "threading.Thread(target=flood, daemon=True).start()")

SCENARIOS: list[tuple[str, str, float]] = [
    ("reference: x = 1", "x = 1", 0.0),
    ("one 100 MB print", "print('x' * 100_000_000)", 0.0),
    ("one 100 MB stream message, sent raw", RAW_PRINT, 0.0),
    ("50 displays of 9.8 M chars, sent raw", RAW_DISPLAYS, 0.0),
    ("output flood while the host is idle (3 s)", IDLE_FLOOD, 3.0),
    ("20 M-char error", "raise ValueError('e' * 20_000_000)", 0.0),
    ("20 M-char last value", "'v' * 20_000_000", 0.0),
    ("20 M-char final answer", "final_answer('a' * 20_000_000)", 0.0),
]


def _status(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    gc.collect()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


async def _measure(executor: Any, code: str, idle: float) -> tuple[float, float]:
    _reset_peak()
    base = _status("VmRSS")
    result = await asyncio.wait_for(executor.run(code), 120)
    if idle:
        time.sleep(idle)  # the host does not read while idle
        result = await asyncio.wait_for(executor.run("'drained'"), 120)
    del result
    gc.collect()
    return _status("VmHWM") - base, max(_status("VmRSS") - base, 0.0)


def _executor() -> KernelExecutor:
    return SandboxExecutor(timeout=60) if shutil.which("bwrap") else KernelExecutor(timeout=60)


async def _scenarios(executor: KernelExecutor, scenarios: list[tuple[str, str, float]], repeats: int) -> list[tuple[str, float, float]]:
    rows = []
    try:
        await executor.start()
        for name, code, idle in scenarios:
            samples = [await _measure(executor, code, idle) for _ in range(repeats)]
            rows.append((name, statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)))
    finally:
        await executor.close()
    return rows


async def _run(repeats: int) -> list[tuple[str, float, float]]:
    executor = _executor()
    rows = await _scenarios(executor, SCENARIOS, repeats)
    print(f"executor: {executor.name}")
    from smolkernel.executors import _process

    capped = _process.bounded_context
    _process.bounded_context = zmq.asyncio.Context  # the host without caps, for contrast
    try:
        rows += await _scenarios(_executor(), [("contrast: 100 MB raw message, uncapped host", RAW_PRINT, 0.0)], repeats)
    finally:
        _process.bounded_context = capped
    return rows


def main(repeats: int = 3) -> list[tuple[str, float, float]]:
    """Measure every scenario; print and return ``(name, peak growth MB, growth after MB)`` rows."""
    rows = asyncio.run(_run(repeats))
    reference = rows[0][1]
    print(f"{'scenario':46} {'peak +MB':>9} {'after +MB':>10} {'peak - ref':>11}  goal")
    for name, peak, after in rows:
        print(f"{name:46} {peak:9.1f} {after:10.1f} {peak - reference:11.1f}  <= 50 MB over the reference")
    print(f"(medians of {repeats} runs; host peak RSS reset before each run)")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
