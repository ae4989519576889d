"""Benchmark the batch engine against its ideal, tasks x steps x latency / concurrency.

A LoopbackLLMServer in its own process answers every call after ``--latency``
seconds (two steps per task: compute, then ``final_answer``). Measured in one
run, each next to its reference:

* a bare HTTP client (the engine's own lean client, no agent) making the same
  calls at the same concurrency: what the server and machine allow;
* ``run_batch`` with ``local`` executors: wall time / ideal (goal <= 1.5, i.e.
  2.0 s ideal -> <= 3.0 s), CPU per model call, host RSS per in-flight agent;
* CPU per model call for each backend: OpenAIServerModel fast path, the same
  through the ``openai`` SDK, LiteLLMModel;
* ``kernel`` executors from a warm pool (pool start reported apart);
* a 2-worker ``distributed.LocalCluster``;
* sequential (one agent after another) vs batch, 1,000 tasks over 10 agents.

Usage: ``python bench/bench_batch.py [--tasks 1000] [--latency 0.1] [--concurrency 100] [--quick]``;
``main()`` returns the rows it printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).parent))

from loopback_process import LoopbackProcess  # noqa: E402


def reply(body: dict) -> str:
    """The loopback server's answer (in its own process): compute, then ``final_answer``."""
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return "Thought: compute.\n```python\nx = 21 * 2\n```"
    return "```python\nfinal_answer(x)\n```"


def Server(latency: float) -> LoopbackProcess:
    """The loopback server in a child process (so its CPU is not this process's)."""
    return LoopbackProcess("bench_batch:reply", latency, path=(str(Path(__file__).parent),))


class RSSPeak:
    """Samples this process's resident memory every 10 ms while running."""

    def __init__(self) -> None:
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RSSPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def spec_for(api_base: str, model: str = "openai-server:loopback", **extra):
    from smolkernel import AgentSpec

    return AgentSpec(model=model, model_options={"api_base": api_base, **extra.pop("model_options", {})}, max_steps=3, **extra)


async def bare_client(api_base: str, calls: int, concurrency: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for ``calls`` chat calls, ``concurrency`` at a time, with no agent."""
    from smolkernel.models._fast_http import FastJSONClient

    client = FastJSONClient(api_base)
    body = {"model": "loopback", "messages": [{"role": "user", "content": "New task:\nbare"}]}
    pending = iter(range(calls))

    async def worker() -> None:
        for _ in pending:
            await client.post_json("/chat/completions", body)

    cpu = time.process_time()
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    await client.aclose()
    return elapsed, cpu


async def timed_batch(spec, tasks: int, concurrency: int, **options) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, BatchResult)."""
    from smolkernel.batch import arun_batch

    cpu = time.process_time()
    began = time.perf_counter()
    result = await arun_batch(spec, [f"task {i}" for i in range(tasks)], concurrency=concurrency, progress=False, **options)
    wall = time.perf_counter() - began
    assert result.succeeded == tasks, result.failures[:1]
    return wall, time.process_time() - cpu, result


async def sequential(spec, tasks: int) -> float:
    """One fresh agent after another, same loop, same model path."""
    began = time.perf_counter()
    for i in range(tasks):
        agent = spec.build()
        run = await agent.arun(f"task {i}")
        assert run.success
    return time.perf_counter() - began


def row(rows: list, name: str, value: float, reference: float | None, unit: str, goal: str = "-") -> None:
    ratio = f"{value / reference:6.2f}" if reference else "     -"
    ref = f"{reference:10.3f}" if reference else "         -"
    rows.append((name, value, reference, goal))
    print(f"{name:58} {value:10.3f} {ref} {ratio}  {unit:8} {goal}", flush=True)


async def run(args: argparse.Namespace) -> list:
    rows: list = []
    steps = 2
    server = Server(args.latency)
    try:
        ideal = args.tasks * steps * args.latency / args.concurrency
        print(f"{'benchmark':58} {'value':>10} {'reference':>10} {'ratio':>6}  unit     goal")
        print(f"(loopback server in its own process, {args.latency * 1000:.0f} ms per call; {args.tasks} tasks x {steps} steps; concurrency {args.concurrency})")
        spec = spec_for(server.api_base)
        await timed_batch(spec, 20, 20)  # warm: imports, first connections
        calls = args.tasks * steps
        bare, bare_cpu = await bare_client(server.api_base, calls, args.concurrency)
        row(rows, "bare HTTP client, same calls (s) vs ideal", bare, ideal, "s")
        row(rows, "CPU per call, bare HTTP client (ms)", bare_cpu / calls * 1000, None, "ms")
        with RSSPeak() as rss:
            wall, cpu, _ = await timed_batch(spec, args.tasks, args.concurrency)
        row(rows, "run_batch, local executor (s) vs ideal", wall, ideal, "s", "<= 1.5x ideal")
        row(rows, "run_batch, local executor (s) vs bare client", wall, bare, "s")
        row(rows, "CPU per model call, whole framework, fast path (ms)", cpu / calls * 1000, bare_cpu / calls * 1000, "ms", "<= 2")
        row(rows, "host RSS per in-flight agent (KiB)", (rss.peak - rss.base) / args.concurrency / 1024, None, "KiB")
        few = max(args.tasks // 5, 40)
        _, cpu_sdk, _ = await timed_batch(spec_for(server.api_base, model_options={"transport": "sdk"}), few, args.concurrency)
        row(rows, "CPU per model call, OpenAIServerModel via openai SDK (ms)", cpu_sdk / (few * steps) * 1000, None, "ms")
        if not args.quick:
            os.environ.setdefault("OPENAI_API_KEY", "not-needed")
            lite = spec_for(server.api_base, model="openai/loopback")
            await timed_batch(lite, 10, 10)
            _, cpu_lite, _ = await timed_batch(lite, few, args.concurrency)
            row(rows, "CPU per model call, LiteLLMModel (ms)", cpu_lite / (few * steps) * 1000, None, "ms")
            await kernel_rows(rows, server.api_base, args, steps)
            await dask_rows(rows, server.api_base, args, steps, ideal)
            await sequential_rows(rows, args)
    finally:
        server.close()
    return rows


async def kernel_rows(rows: list, api_base: str, args: argparse.Namespace, steps: int) -> None:
    from smolkernel.batch import arun_batch

    pool = 8
    tasks = max(args.tasks // 5, 40)
    spec = spec_for(api_base, executor="kernel")
    began = time.perf_counter()
    await arun_batch(spec, ["warm"] * pool, concurrency=pool, pool_size=pool, progress=False)
    row(rows, f"kernel executors: pool of {pool} started + {pool} tasks (s)", time.perf_counter() - began, None, "s")
    ideal = tasks * steps * args.latency / pool
    wall, _, _ = await timed_batch(spec, tasks, args.concurrency, pool_size=pool)
    row(rows, f"run_batch, kernel executors, pool {pool}, {tasks} tasks (s) vs ideal", wall, ideal, "s")


async def dask_rows(rows: list, api_base: str, args: argparse.Namespace, steps: int, ideal: float) -> None:
    import distributed

    cluster = await distributed.LocalCluster(n_workers=2, threads_per_worker=args.concurrency, processes=True, dashboard_address=None,
                                             silence_logs=50, asynchronous=True)
    try:
        address = cluster.scheduler_address
        spec = spec_for(api_base)
        await timed_batch(spec, 40, 40, backend=address)
        wall, _, _ = await timed_batch(spec, args.tasks, args.concurrency, backend=address)
        row(rows, "run_batch on a 2-worker LocalCluster (s) vs ideal", wall, ideal, "s")
    finally:
        await cluster.close()


async def sequential_rows(rows: list, args: argparse.Namespace) -> None:
    """The seed's shape: 1,000 tasks, 10 agents; each call 16 ms, so 32 s one by one, 3.2 s ideal."""
    latency = 0.016
    server = Server(latency)
    try:
        spec = spec_for(server.api_base)
        seq_tasks = args.tasks // 5
        seq = await sequential(spec, seq_tasks) * (args.tasks / seq_tasks)
        wall, _, _ = await timed_batch(spec, args.tasks, 10)
        row(rows, f"sequential {args.tasks} tasks (s; {seq_tasks} measured, scaled)", seq, args.tasks * 2 * latency, "s")
        row(rows, f"batch, {args.tasks} tasks over 10 agents (s) vs ideal", wall, args.tasks * 2 * latency / 10, "s")
        row(rows, "speed-up of batch over sequential (x)", seq / wall, None, "x", "~10")
    finally:
        server.close()


def main(argv: list[str] | None = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="only the local-executor rows")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
