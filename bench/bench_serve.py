"""Benchmark ``smolkernel serve``: throughput and the time the service adds to a run.

500 runs from 100 concurrent clients (``POST /v1/runs`` with ``wait: true``),
each two steps against the loopback LLM server with 100 ms latency per call,
through a real server process, with the embedded store and with Redis. In the
same run, the reference: the same runs done by agents in this process with no
service in between (asyncio, same concurrency). The LLM server runs in a
process of its own (``loopback_process``), as a provider is elsewhere: in
this process its request threads would take the interpreter lock from the
clients being timed.

Figures:

* throughput in runs/s, and its ratio to the ideal (clients / model time per
  run = 100 / 0.2 s = 500 runs/s) and to the in-process reference;
* added latency p50/p99: what a client waits minus the run's ideal model time
  (2 x 100 ms), i.e. queueing, HTTP, the store, the agent loop and the model
  client's own CPU time;
* added over the server's time p50/p99: what a client waits minus the time
  the LLM server took to answer the run's calls, as it measured each (from
  reading the request to writing the answer; ``LoopbackProcess.server_times``).
  This is "run duration minus model time" with the model time as a provider
  reports it: the model's own latency and the stand-in server's waits are
  out; everything on the client's side of the socket (the service, the
  agent, the model client, the kernel's TCP work) is in;
* outside-steps latency p50/p99: what a client waits minus the durations of
  the run's steps as the agent measured them (model calls included, so the
  model client's CPU is not counted): the service's own share;
* result-cache hits: latency p50/p99 of a cached answer;
* server CPU per run: the serve process's user + system CPU time over the
  measured runs, divided by their number (Linux).

Three references explain the figures: the model calls alone (two in a row
per run, from the lean client straight to the LLM server: what this harness
adds with no agent and no service, the floor of the "added" column); the
in-process agents (what the agents cost without a service); and the same
HTTP clients against a trivial endpoint served by uvicorn + FastAPI in its
own process, which sleeps the model time and answers (what the clients and
the HTTP stack cost without agents or a store). One more row drives that
endpoint through one httpx pool of 100 connections, this benchmark's first
client, whose CPU per request (httpcore scans every pooled connection) made
it the bottleneck. All processes share this machine's cores.

Goals (issue 17): >= 80% of ideal throughput, p99 added latency <= 50 ms.
Each row is measured ``--repeat`` times (3) on the same server: its
throughput is the median pass, its latency percentiles pool every pass.

Usage: ``python bench/bench_serve.py [--runs 500] [--clients 100] [--latency 0.1] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serve"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

sys.path.insert(0, str(ROOT / "bench"))

from loopback_process import LoopbackProcess  # noqa: E402
from serve_process import RedisProcess, ServeProcess, free_port  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux; NaN elsewhere or without a pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


class _HttpxPool:
    """One httpx pool of ``clients`` connections shared by every client (this benchmark's first client), for a reference row."""

    def __init__(self, url: str, clients: int):
        import httpx

        self.http = httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients))

    async def post_json(self, path: str, payload: Any) -> Any:
        import httpx

        from smolkernel.models._fast_http import HTTPConnectError, HTTPStatusError

        try:
            response = await self.http.post(path, json=payload)
        except httpx.TransportError as exc:
            raise HTTPConnectError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise HTTPStatusError(response.status_code, response.content, dict(response.headers))
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()


Timed = dict[str, tuple[float, float]]
"""Per run, by task: (what the client waited, the sum of the run's step durations) in seconds."""

_passes = itertools.count(1)


def _task(number: int, index: int) -> str:
    """The task of run ``index`` of pass ``number``: unique in the benchmark, so the LLM server's times can be matched to it."""
    return f"bench {number}.{index}"


_TASK = re.compile(r"bench (\d+\.\d+)")


async def _clients(
    url: str, runs: int, clients: int, server_pid: int | None = None, *, httpx_pool: bool = False
) -> tuple[float, Timed, int, float]:
    """Drive ``runs`` runs from ``clients`` clients; also returns the server's CPU seconds per run (NaN without ``server_pid``).

    Each client has its own keep-alive connection and speaks HTTP/1.1 through
    smolkernel's lean JSON client (the one OpenAIServerModel uses): httpx costs
    several times more CPU per request, and on a small machine the clients share
    the cores with the server.
    """
    from smolkernel.models._fast_http import FastJSONClient, HTTPConnectError, HTTPReadTimeout, HTTPStatusError, MalformedReply

    timed: Timed = {}
    reasons: list[str] = []
    failures = 0
    todo = iter(range(runs))
    number = next(_passes)

    async def client(http: FastJSONClient) -> None:
        nonlocal failures
        for index in todo:
            task = _task(number, index)
            began = time.perf_counter()
            try:
                body = await http.post_json("/v1/runs", {"task": task, "wait": True})
            except (HTTPConnectError, HTTPReadTimeout, MalformedReply, HTTPStatusError) as exc:
                failures += 1
                reasons.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - began
            if body.get("status") != "succeeded":
                failures += 1
                reasons.append(f"{body.get('status')}: {body.get('error') or body.get('detail')}")
                continue
            timed[task] = (elapsed, sum(step["duration"] for step in body["steps"]))

    https: list[Any] = [_HttpxPool(url, clients)] * clients if httpx_pool else [FastJSONClient(url, timeout=120, max_idle=1) for _ in range(clients)]
    try:
        await asyncio.gather(*(http.post_json("/v1/runs", {"task": "warm up", "wait": True}) for http in https))
        cpu, began = _cpu_seconds(server_pid), time.perf_counter()
        await asyncio.gather(*(client(http) for http in https))
        wall, cpu = time.perf_counter() - began, _cpu_seconds(server_pid) - cpu
    finally:
        await asyncio.gather(*(http.aclose() for http in set(https)))
    for reason in sorted(set(reasons))[:5]:
        print(f"  failed run: {reason}", file=sys.stderr)
    return wall, timed, failures, cpu / runs


async def _cache_hits(url: str, count: int) -> list[float]:
    """Latencies of ``count`` cache hits in a row from one client (the same lean client as the runs)."""
    from smolkernel.models._fast_http import FastJSONClient

    http = FastJSONClient(url, timeout=60)
    try:
        await http.post_json("/v1/runs", {"task": "cached", "wait": True, "cache": True})
        times = []
        for _ in range(count):
            began = time.perf_counter()
            body = await http.post_json("/v1/runs", {"task": "cached", "cache": True})
            times.append(time.perf_counter() - began)
            assert body["cached"], body
    finally:
        await http.aclose()
    return times


async def _in_process(runs: int, clients: int) -> tuple[float, Timed, int, float]:
    from serve_agents import loopback_agent

    timed: Timed = {}
    todo = iter(range(runs))
    number = next(_passes)

    async def worker() -> None:
        for index in todo:
            task = _task(number, index)
            began = time.perf_counter()
            result = await loopback_agent().arun(task)
            assert result.success, result.error
            timed[task] = (time.perf_counter() - began, sum(step.duration for step in result.steps))

    await loopback_agent().arun("warm up")
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - began, timed, 0, float("nan")


async def _model_calls(url: str, runs: int, clients: int) -> tuple[float, Timed, int, float]:
    """The harness floor: per run, two chat calls in a row from the lean client straight to the LLM server (no agent, no service)."""
    from smolkernel.models._fast_http import FastJSONClient

    timed: Timed = {}
    todo = iter(range(runs))
    number = next(_passes)

    async def client(http: FastJSONClient) -> None:
        for index in todo:
            task = _task(number, index)
            messages = [{"role": "user", "content": task}]
            began = time.perf_counter()
            await http.post_json("/chat/completions", {"model": "gpt-4o-mini", "messages": messages})
            messages.append({"role": "tool", "tool_call_id": "call_0", "content": "waited"})
            await http.post_json("/chat/completions", {"model": "gpt-4o-mini", "messages": messages})
            elapsed = time.perf_counter() - began
            timed[task] = (elapsed, elapsed)  # no steps: all of it is model calls

    https = [FastJSONClient(url, timeout=120, max_idle=1) for _ in range(clients)]
    try:
        await asyncio.gather(*(http.post_json("/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "warm up"}]}) for http in https))
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for http in https))
        return time.perf_counter() - began, timed, 0, float("nan")
    finally:
        await asyncio.gather(*(http.aclose() for http in https))


def _repeat(times: int, measure: Any) -> tuple[float, Timed, int, float]:
    """Call ``measure()`` (one pass of all the runs) ``times`` times: the median wall time, runs pooled, failures summed, CPU averaged."""
    passes = [measure() for _ in range(times)]
    return (
        statistics.median(result[0] for result in passes),
        {task: value for result in passes for task, value in result[1].items()},
        sum(result[2] for result in passes),
        statistics.fmean(result[3] for result in passes),
    )


def _server_time(llm: LoopbackProcess) -> dict[str, float]:
    """The LLM server's answering time per run since the last call, summed over the run's calls (by task)."""
    spent: dict[str, float] = {}
    for text, seconds in llm.server_times():
        found = _TASK.search(text)
        if found:
            task = f"bench {found.group(1)}"
            spent[task] = spent.get(task, 0.0) + seconds
    return spent


def trivial_app() -> Any:
    """The HTTP reference: ``POST /v1/runs`` sleeps the model time and answers a run with two steps (no agent, no store)."""
    from fastapi import FastAPI

    latency = float(os.environ["BENCH_TRIVIAL_LATENCY"])
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/runs")
    async def run(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(2 * latency)
        return {"status": "succeeded", "task": body.get("task"), "steps": [{"duration": latency}, {"duration": latency}]}

    return app


def _trivial_server(port: int, latency: float, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench_serve:trivial_app", "--port", str(port),
               "--log-level", "warning", "--timeout-keep-alive", "75"]
    env = dict(os.environ, BENCH_TRIVIAL_LATENCY=str(latency), PYTHONPATH=os.pathsep.join([str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")]))
    with open(log, "a") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the trivial endpoint did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)


def _row(name: str, runs: int, measured: tuple[float, Timed, int, float], llm: LoopbackProcess, model_time: float, ideal: float) -> tuple:
    """One table row; reads the LLM server's times for the row's runs (so call it right after measuring them)."""
    wall, timed, failures, cpu = measured
    spent = _server_time(llm)
    throughput = runs / wall
    added = [elapsed - model_time for elapsed, _ in timed.values()]
    over_server = [elapsed - spent[task] for task, (elapsed, _) in timed.items() if task in spent]
    outside = [elapsed - steps for elapsed, steps in timed.values()]
    ms = [_pct(values, q) * 1000 if values else float("nan") for values in (added, over_server, outside) for q in (0.5, 0.99)]
    return (name, throughput, throughput / ideal, *ms, failures, cpu * 1000)


def main(argv: list[str] | None = None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cache-hits", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="passes of all the runs per row: throughput is the median pass, latencies are pooled")
    args = parser.parse_args(argv if argv is not None else [])
    model_time = 2 * args.latency
    ideal = args.clients / model_time
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    redis = None
    with LoopbackProcess("serve_agents:loopback_reply", args.latency, model_id="gpt-4o-mini", path=(str(ROOT / "tests" / "serve"),)) as llm:
        os.environ["SERVE_TEST_LLM"] = llm.api_base

        def row(name: str, measured: tuple[float, Timed, int, float]) -> None:
            rows.append(_row(name, args.runs, measured, llm, model_time, ideal))

        llm.server_times()  # the warm-up's
        row("model calls alone (harness floor)", _repeat(args.repeat, lambda: asyncio.run(_model_calls(llm.api_base, args.runs, args.clients))))
        row("in-process agents (reference, no service)", _repeat(args.repeat, lambda: asyncio.run(_in_process(args.runs, args.clients))))
        port = free_port()
        trivial = _trivial_server(port, args.latency, tmp / "trivial.log")
        try:
            url = f"http://127.0.0.1:{port}"
            row("HTTP clients -> trivial endpoint (reference)", _repeat(args.repeat, lambda: asyncio.run(_clients(url, args.runs, args.clients, trivial.pid))))
            row("same, one httpx pool as clients (reference)", asyncio.run(_clients(url, args.runs, args.clients, trivial.pid, httpx_pool=True)))
        finally:
            trivial.terminate()
            trivial.wait(timeout=20)
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
                    llm.server_times()  # the warm-up's
                    row(name, _repeat(args.repeat, lambda: asyncio.run(_clients(server.url, args.runs, args.clients, server.proc.pid))))
                    if redis_url is None:
                        cache_times = asyncio.run(_cache_hits(server.url, args.cache_hits))
                finally:
                    server.stop()
        finally:
            if redis is not None:
                redis.stop()
    print(f"\n{args.runs} runs, {args.clients} clients, 2 steps x {args.latency * 1000:.0f} ms model latency; ideal {ideal:.0f} runs/s")
    print(f"each row: the median of {args.repeat} passes of {args.runs} runs (latency percentiles over all passes)")
    print(f"{'':44} {'runs/s':>8} {'of ideal':>9} {'added p50':>10} {'p99':>7} {'over server p50':>16} {'p99':>7} {'outside steps p50':>18} {'p99':>7} {'failed':>7} {'server CPU/run':>15}")
    for name, throughput, ratio, p50, p99, s50, s99, o50, o99, failures, cpu in rows:
        cpu_text = "-" if math.isnan(cpu) else f"{cpu:.2f} ms"
        print(f"{name:44} {throughput:8.1f} {ratio:9.0%} {p50:10.1f} {p99:7.1f} {s50:16.1f} {s99:7.1f} {o50:18.1f} {o99:7.1f} {failures:7d} {cpu_text:>15}")
    print("added = client latency - 2 x model latency (ms); over server = client latency - the LLM server's time answering the run's calls (ms);")
    print("outside steps = client latency - the run's step durations (ms)")
    print("server CPU/run = CPU time of the serving process (serve or the trivial endpoint) per run")
    if cache_times:
        print(f"cache hit (embedded store): p50 {_pct(cache_times, 0.5) * 1000:.1f} ms, p99 {_pct(cache_times, 0.99) * 1000:.1f} ms over {len(cache_times)} requests")
    if not redis_command:
        print("(redis-server not installed: the Redis row was not measured)")
    print("goals: >= 80% of ideal throughput; p99 added latency <= 50 ms")
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
