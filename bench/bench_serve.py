"""Benchmark ``smolkernel serve``: throughput and the time the service adds to a run.

500 runs from 100 concurrent clients (``POST /v1/runs`` with ``wait: true``),
each two steps against the loopback LLM server with 100 ms latency per call,
through a real server process, with the embedded store and with Redis. In the
same run, the reference: the same runs done by agents in this process with no
service in between (asyncio, same concurrency).

Figures:

* throughput in runs/s, and its ratio to the ideal (clients / model time per
  run = 100 / 0.2 s = 500 runs/s) and to the in-process reference;
* added latency p50/p99: what a client waits minus the run's ideal model time
  (2 x 100 ms), i.e. queueing, HTTP, the store, the agent loop and the model
  client's own CPU time;
* outside-steps latency p50/p99: what a client waits minus the durations of
  the run's steps as the agent measured them (model calls included, so the
  model client's CPU is not counted): the service's own share;
* result-cache hits: latency p50/p99 of a cached answer.

Goals (issue 17): >= 80% of ideal throughput, p99 added latency <= 50 ms.
Usage: ``python bench/bench_serve.py [--runs 500] [--clients 100] [--latency 0.1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serve"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from serve_process import RedisProcess, ServeProcess  # noqa: E402
from serve_agents import loopback_reply  # noqa: E402

from smolkernel.testing import LoopbackLLMServer  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _clients(url: str, runs: int, clients: int, model_time: float) -> tuple[float, list[float], list[float], int]:
    import httpx

    latencies: list[float] = []
    outside: list[float] = []
    reasons: list[str] = []
    failures = 0
    todo = iter(range(runs))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal failures
        for index in todo:
            began = time.perf_counter()
            try:
                response = await http.post("/v1/runs", json={"task": f"bench {index}", "wait": True})
            except httpx.TransportError as exc:
                failures += 1
                reasons.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - began
            body = response.json()
            if response.status_code != 200 or body["status"] != "succeeded":
                failures += 1
                reasons.append(f"{response.status_code} {body.get('status')}: {body.get('error') or body.get('detail')}")
                continue
            latencies.append(elapsed - model_time)
            outside.append(elapsed - sum(step["duration"] for step in body["steps"]))

    # one connection per client, as 100 real clients would have (one shared pool of
    # 100 connections costs httpcore O(connections) of CPU per request)
    tls = ssl.create_default_context()  # unused on http://, but each client would load the CA file again
    https = [httpx.AsyncClient(base_url=url, timeout=120, verify=tls, limits=httpx.Limits(max_connections=1)) for _ in range(clients)]
    try:
        await asyncio.gather(*(http.post("/v1/runs", json={"task": "warm up", "wait": True}) for http in https))
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for http in https))
        wall = time.perf_counter() - began
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    for reason in sorted(set(reasons))[:5]:
        print(f"  failed run: {reason}", file=sys.stderr)
    return wall, latencies, outside, failures


async def _cache_hits(url: str, count: int) -> list[float]:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await http.post("/v1/runs", json={"task": "cached", "wait": True, "cache": True})
        times = []
        for _ in range(count):
            began = time.perf_counter()
            body = (await http.post("/v1/runs", json={"task": "cached", "cache": True})).json()
            times.append(time.perf_counter() - began)
            assert body["cached"], body
    return times


async def _in_process(runs: int, clients: int, model_time: float) -> tuple[float, list[float], list[float]]:
    from serve_agents import loopback_agent

    latencies: list[float] = []
    outside: list[float] = []
    todo = iter(range(runs))

    async def worker() -> None:
        for index in todo:
            began = time.perf_counter()
            result = await loopback_agent().arun(f"bench {index}")
            assert result.success, result.error
            elapsed = time.perf_counter() - began
            latencies.append(elapsed - model_time)
            outside.append(elapsed - sum(step.duration for step in result.steps))

    await loopback_agent().arun("warm up")
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - began, latencies, outside


def _row(name: str, runs: int, wall: float, added: list[float], outside: list[float], ideal: float, failures: int = 0) -> tuple:
    throughput = runs / wall
    ms = [_pct(values, q) * 1000 for values in (added, outside) for q in (0.5, 0.99)]
    return (name, throughput, throughput / ideal, *ms, failures)


def main(argv: list[str] | None = None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cache-hits", type=int, default=200)
    args = parser.parse_args(argv if argv is not None else [])
    model_time = 2 * args.latency
    ideal = args.clients / model_time
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    redis = None
    with LoopbackLLMServer(loopback_reply, latency=args.latency, model_id="gpt-4o-mini") as llm:
        os.environ["SERVE_TEST_LLM"] = llm.api_base
        wall, added, outside = asyncio.run(_in_process(args.runs, args.clients, model_time))
        rows.append(_row("in-process agents (reference, no service)", args.runs, wall, added, outside, ideal))
        stores: list[tuple[str, str | None]] = [("serve, embedded store", None)]
        redis_command = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin:/usr/bin")
        if redis_command:
            redis = RedisProcess(redis_command, tmp / "redis").start()
            stores.append(("serve, Redis store", redis.url))
        cache_times: list[float] = []
        try:
            for name, redis_url in stores:
                server = ServeProcess(
                    tmp, agent="serve_agents:loopback_agent", redis_url=redis_url, env={"SERVE_TEST_LLM": llm.api_base},
                    args=("--concurrency", str(args.clients), "--queue-size", str(args.runs)),
                ).start()
                try:
                    wall, added, outside, failures = asyncio.run(_clients(server.url, args.runs, args.clients, model_time))
                    rows.append(_row(name, args.runs, wall, added, outside, ideal, failures))
                    if redis_url is None:
                        cache_times = asyncio.run(_cache_hits(server.url, args.cache_hits))
                finally:
                    server.stop()
        finally:
            if redis is not None:
                redis.stop()
    print(f"\n{args.runs} runs, {args.clients} clients, 2 steps x {args.latency * 1000:.0f} ms model latency; ideal {ideal:.0f} runs/s")
    print(f"{'':44} {'runs/s':>8} {'of ideal':>9} {'added p50':>10} {'p99':>8} {'outside steps p50':>18} {'p99':>8} {'failed':>7}")
    for name, throughput, ratio, p50, p99, o50, o99, failures in rows:
        print(f"{name:44} {throughput:8.1f} {ratio:9.0%} {p50:10.1f} {p99:8.1f} {o50:18.1f} {o99:8.1f} {failures:7d}")
    print("added = client latency - 2 x model latency (ms); outside steps = client latency - the run's step durations (ms)")
    if cache_times:
        print(f"cache hit (embedded store): p50 {_pct(cache_times, 0.5) * 1000:.1f} ms, p99 {_pct(cache_times, 0.99) * 1000:.1f} ms over {len(cache_times)} requests")
    if not redis_command:
        print("(redis-server not installed: the Redis row was not measured)")
    print("goals: >= 80% of ideal throughput; p99 added latency <= 50 ms")
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
