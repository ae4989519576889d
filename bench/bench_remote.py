"""Benchmark the remote executors against references measured in the same run.

* ``docker``: start to ready (median of 3), ``x=1`` and one tool call round
  trip, next to ``KernelExecutor`` on the host and to raw jupyter_client
  (``execute_interactive``) on the same container's kernel. Goals: start
  <= 1.5 s, round trip <= 1.5x ``kernel``.
* ``jupyter-server``: ``x=1`` round trip over the websocket, next to raw ZMQ
  to the same kernel of a local ``jupyter server``. Goal: <= 1.5x ZMQ.
* ``wasm``: start to ready, ``x=1`` and one tool call round trip.

Each part is skipped, with the reason, when its system part is missing.
Usage: ``python bench/bench_remote.py [--iterations 50]``; ``main()`` returns the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from smolkernel.executors.kernel import KernelExecutor
from smolkernel.tools import tool


@tool
def noop() -> None:
    """Do nothing (measures the bridge)."""
    return None


async def _median_ms(action: Any, iterations: int) -> float:
    for _ in range(min(10, iterations)):  # warm-up
        await action()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def _round_trips(name: str, executor: Any, iterations: int, raw_client: Any = None) -> list[dict[str, Any]]:
    await executor.send_tools({"noop": noop})
    rows = []
    ours = await _median_ms(lambda: executor.run("x=1"), iterations)
    row = {"executor": name, "measure": "run('x=1')", "ms": ours}
    if raw_client is not None:
        raw = await _median_ms(lambda: raw_client.execute_interactive("x=1", output_hook=lambda m: None, timeout=30), iterations)
        row.update(raw_ms=raw, ratio=ours / raw)
    rows.append(row)
    rows.append({"executor": name, "measure": "run('noop()') (one tool call)", "ms": await _median_ms(lambda: executor.run("noop()"), iterations)})
    return rows


async def _start_ms(factory: Any, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        executor = factory()
        started = time.perf_counter()
        await executor.start()
        samples.append(time.perf_counter() - started)
        await executor.close()
    return statistics.median(samples) * 1000


async def bench_kernel(iterations: int) -> list[dict[str, Any]]:
    """The reference: ``KernelExecutor`` on the host."""
    executor = KernelExecutor(timeout=60)
    started = time.perf_counter()
    await executor.start()
    rows = [{"executor": "kernel", "measure": "start to ready", "ms": (time.perf_counter() - started) * 1000}]
    try:
        rows += await _round_trips("kernel", executor, iterations, executor._process.client)
    finally:
        await executor.close()
    return rows


async def bench_docker(iterations: int) -> list[dict[str, Any]]:
    """``DockerExecutor`` next to raw jupyter_client on the same container's kernel."""
    from smolkernel.executors.docker import DockerExecutor
    from smolkernel.executors.docker_image import ensure_image

    image = await asyncio.to_thread(ensure_image)
    rows = [{"executor": "docker", "measure": "start to ready (median of 3)",
             "ms": await _start_ms(lambda: DockerExecutor(timeout=60, image=image), 3)}]
    executor = DockerExecutor(timeout=60, image=image)
    await executor.start()
    try:
        rows += await _round_trips("docker", executor, iterations, executor._process.client)
    finally:
        await executor.close()
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def bench_jupyter_server(iterations: int) -> list[dict[str, Any]]:
    """Websocket round trip next to raw ZMQ to the same kernel of a local ``jupyter server``."""
    from jupyter_client.asynchronous import AsyncKernelClient

    from smolkernel.executors.jupyter_server import JupyterServerExecutor

    root = Path(tempfile.mkdtemp(prefix="smolkernel-bench-js-"))
    token, port = secrets.token_hex(8), _free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / "runtime")}
    command = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_for(url, token)
        executor = JupyterServerExecutor(url, token=token, timeout=60)
        await executor.start()
        try:
            info = json.loads((root / "runtime" / f"kernel-{executor.kernel_id}.json").read_text())
            client = AsyncKernelClient()
            client.load_connection_info(info)
            client.start_channels()
            await client.wait_for_ready(timeout=30)
            rows = await _round_trips("websocket", executor, iterations, client)
            client.stop_channels()
        finally:
            await executor.close()
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    rows[0]["measure"] += " (raw: ZMQ, same kernel)"
    return rows


async def _wait_for(url: str, token: str) -> None:
    request = urllib.request.Request(url + "/api", headers={"Authorization": f"token {token}"})
    for _ in range(600):
        try:
            await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=2).close())
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def bench_wasm(iterations: int) -> list[dict[str, Any]]:
    """Start and round trips of ``WasmExecutor``."""
    from smolkernel.executors.wasm import WasmExecutor

    executor = WasmExecutor(timeout=60)
    started = time.perf_counter()
    await executor.start()
    rows = [{"executor": "wasm", "measure": "start to ready", "ms": (time.perf_counter() - started) * 1000}]
    try:
        rows += await _round_trips("wasm", executor, iterations)
    finally:
        await executor.close()
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table, with docker's ratios to ``kernel``."""
    reference = {r["measure"]: r["ms"] for r in rows if r["executor"] == "kernel"}
    lines = [f"{'executor':<10} {'measure':<44} {'median ms':>10} {'raw ms':>8} {'ratio':>6} {'vs kernel':>9}"]
    for row in rows:
        raw = f"{row['raw_ms']:.2f}" if "raw_ms" in row else ""
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
        base = reference.get(row["measure"])
        versus = f"{row['ms'] / base:.2f}" if base and row["executor"] != "kernel" else ""
        lines.append(f"{row['executor']:<10} {row['measure']:<44} {row['ms']:>10.2f} {raw:>8} {ratio:>6} {versus:>9}")
    return "\n".join(lines)


async def amain(iterations: int = 50) -> list[dict[str, Any]]:
    """Run every part whose system part is present; returns the rows."""
    rows = await bench_kernel(iterations)
    parts = [("docker", bench_docker), ("jupyter-server", bench_jupyter_server), ("wasm", bench_wasm)]
    for name, part in parts:
        try:
            rows += await part(iterations)
        except Exception as exc:  # a missing engine or runtime skips that part, saying why
            print(f"[{name} skipped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}]")
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Command-line entry point (also called by ``bench/run.py``): prints the table, returns the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args(argv)
    rows = asyncio.run(amain(args.iterations))
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
