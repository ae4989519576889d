"""Benchmark the SmolKernel: start-up next to a plain ipykernel, directive and task overhead.

Measured in one run, through jupyter_client, alternating the two kernels so
both see the same machine state:

* kernel start to ready (launch until ``kernel_info`` answers), SmolKernel vs
  ``ipykernel_launcher`` (medians; goal <= 1.5x); litellm must not be
  imported by the start (checked, fails the run otherwise);
* round trip of a directive cell (``%help``) next to ``pass`` in ipykernel;
* a task cell with a scripted model (``scripted:FILE``: one step that calls
  ``final_answer``; the code runs in the sibling kernel), and a ``%%python``
  cell (one sibling round trip) for reference.

Usage: ``python bench/bench_kernel_start.py [--starts 7] [--cells 30]``;
``main()`` returns the rows it printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "kernel"))

from harness import KernelDriver, start_kernel  # noqa: E402

GOAL_START_RATIO = 1.5


def _timed_start(module: str, extra_args: tuple[str, ...] = ()) -> tuple[float, KernelDriver]:
    began = time.perf_counter()
    driver = start_kernel(module, extra_args=extra_args)
    return time.perf_counter() - began, driver


def _cell_median(driver: KernelDriver, code: str, count: int) -> float:
    values = []
    for _ in range(count):
        began = time.perf_counter()
        run = driver.execute(code, timeout=120)
        values.append(time.perf_counter() - began)
        if run.status != "ok":
            raise RuntimeError(f"cell {code!r} failed: {run.text()}")
    return statistics.median(values)


def _litellm_imported(driver: KernelDriver) -> bool:
    run = driver.execute("%%tool\nimport sys\nprint('LITELLM', 'litellm' in sys.modules)", timeout=60)
    return "LITELLM True" in run.stdout


def measure_starts(starts: int) -> tuple[float, float]:
    """Median start-to-ready seconds of (SmolKernel, plain ipykernel); checks litellm stays out."""
    smol, plain = [], []
    for _ in range(starts):
        seconds, driver = _timed_start("smolkernel.kernel")
        smol.append(seconds)
        try:
            if _litellm_imported(driver):
                raise AssertionError("litellm was imported when the SmolKernel started")
        finally:
            driver.shutdown()
        seconds, driver = _timed_start("ipykernel_launcher")
        plain.append(seconds)
        driver.shutdown()
    return statistics.median(smol), statistics.median(plain)


def measure_cells(cells: int) -> dict[str, float]:
    """Median seconds of a directive, a scripted task and a %%python cell (and ipykernel's ``pass``)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "replies.json"
        script.write_text(json.dumps(["```python\nfinal_answer(1)\n```"] * (cells + 2)))
        _, smol = _timed_start("smolkernel.kernel", (f"--SmolKernel.model=scripted:{script}", "--SmolKernel.use_widgets=False"))
        _, plain = _timed_start("ipykernel_launcher")
        try:
            smol.execute("warm up the workspace", timeout=120)
            return {
                "ipykernel `pass`": _cell_median(plain, "pass", cells),
                "SmolKernel `%help`": _cell_median(smol, "%help", cells),
                "SmolKernel `%%python 1`": _cell_median(smol, "%%python\n1", cells),
                "SmolKernel scripted task": _cell_median(smol, "answer one", cells),
            }
        finally:
            smol.shutdown()
            plain.shutdown()


def main(argv: list[str] | None = None) -> list[tuple[str, float]]:
    """Run the benchmark, print a table, return its rows (name, seconds or ratio)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=7, help="kernel starts per kind (default 7)")
    parser.add_argument("--cells", type=int, default=30, help="cells per measured kind (default 30)")
    args = parser.parse_args(argv)
    smol, plain = measure_starts(args.starts)
    ratio = smol / plain
    rows = [("start to ready: ipykernel", plain), ("start to ready: SmolKernel", smol), ("start ratio", ratio)]
    rows += list(measure_cells(args.cells).items())
    print(f"SmolKernel benchmark (medians; {args.starts} starts, {args.cells} cells; litellm not imported at start: ok)")
    for name, value in rows:
        shown = f"{value:.2f}x (goal <= {GOAL_START_RATIO}x)" if name == "start ratio" else f"{value * 1000:8.1f} ms"
        print(f"  {name:<30} {shown}")
    if ratio > GOAL_START_RATIO:
        print(f"  WARNING: start ratio {ratio:.2f}x is above the goal of {GOAL_START_RATIO}x")
    return rows


if __name__ == "__main__":
    main()
