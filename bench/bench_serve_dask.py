"""Benchmark ``smolkernel serve --dask``: what sending runs to Dask workers costs.

The same agent spec (two steps against the loopback LLM server, 100 ms per
model call) served by a real server process twice, measured in the same run:
runs executing in the server's own pool (the reference), and runs sent to a
``distributed.LocalCluster`` with two worker processes (``--dask``). Clients
post ``wait: true`` runs concurrently.

Figures: throughput (runs/s) and its ratio to the ideal (clients / model time
per run), added latency p50/p99 (what a client waits minus 2 x the model
latency: queueing, HTTP, the store, scheduling, the agent loop), and the
ratio of the Dask row to the reference.

Usage: ``python bench/bench_serve_dask.py [--runs 300] [--clients 50] [--latency 0.1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serve"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

sys.path.insert(0, str(ROOT / "bench"))

from bench_serve import _clients  # noqa: E402  (one client loop for both serve benchmarks: a lean keep-alive connection per client)
from loopback_process import LoopbackProcess  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SPEC = """\
kind: toolcalling
name: bench
model: openai-server:gpt-4o-mini
model_options: {{api_base: "{api_base}", max_retries: 0}}
tools: [{{file: tools.py}}]
max_steps: 4
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> list[tuple]:
    """Measure both rows and print the table; returns the rows."""
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args(argv if argv is not None else [])
    model_time = 2 * args.latency
    ideal = args.clients / model_time
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-dask-"))
    rows = []
    with LoopbackProcess("serve_agents:loopback_reply", args.latency, model_id="gpt-4o-mini", path=(str(ROOT / "tests" / "serve"),)) as llm, \
            distributed.LocalCluster(n_workers=2, threads_per_worker=args.clients, processes=True, dashboard_address=None, silence_logs=50) as cluster:
        shutil.copy(ROOT / "tests" / "serve" / "wait_tool.py", tmp / "tools.py")  # the tool the serve tests use
        (tmp / "agent.yaml").write_text(SPEC.format(api_base=llm.api_base))
        common = ("--concurrency", str(args.clients), "--queue-size", str(args.runs))
        for name, extra in (("serve, runs in the server (reference)", ()), ("serve --dask, 2 worker processes", ("--dask", cluster.scheduler_address))):
            server = ServeProcess(tmp, agent=str(tmp / "agent.yaml"), args=(*common, *extra)).start()
            try:
                asyncio.run(_clients(server.url, args.clients * 2, args.clients))  # warm every worker's imports
                wall, timed, failures, _ = asyncio.run(_clients(server.url, args.runs, args.clients))
            finally:
                server.stop()
            throughput = args.runs / wall
            added = [elapsed - model_time for elapsed, _ in timed.values()]
            rows.append((name, throughput, throughput / ideal, _pct(added, 0.5) * 1000, _pct(added, 0.99) * 1000, failures))
    print(f"\n{args.runs} runs, {args.clients} clients, 2 steps x {args.latency * 1000:.0f} ms model latency; ideal {ideal:.0f} runs/s")
    print(f"{'':40} {'runs/s':>8} {'of ideal':>9} {'added p50':>10} {'p99':>8} {'failed':>7}")
    for name, throughput, ratio, p50, p99, failures in rows:
        print(f"{name:40} {throughput:8.1f} {ratio:9.0%} {p50:10.1f} {p99:8.1f} {failures:7d}")
    reference, dask = rows
    print(f"dask / reference: throughput {dask[1] / reference[1]:.2f}x, added p50 {dask[3] - reference[3]:+.1f} ms, p99 {dask[4] - reference[4]:+.1f} ms")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
