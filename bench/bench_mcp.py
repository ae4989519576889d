"""Benchmark MCP tool calls: smolkernel's MCPClient next to the bare ``mcp`` SDK, same run.

Both call the ``add`` tool of the SDK-written test server
(``tests/tools/mcp_servers/edge_server.py``) over stdio, one call at a time:

* reference: ``ClientSession.call_tool`` awaited directly on an asyncio loop
  (what any SDK user pays);
* smolkernel: ``tool(a, b)`` on an ``MCPClient`` tool from plain Python (the
  argument check, the hop to the client's loop thread, the result conversion);
* smolkernel from a loop: ``await tool.acall(a, b)`` (how the ToolBridge calls it).

Usage: ``python bench/bench_mcp.py [--calls 200]``; ``main()`` returns the rows it printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "tests" / "tools" / "mcp_servers" / "edge_server.py"


async def _sdk_calls(calls: int) -> list[float]:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        await session.call_tool("add", {"a": 1, "b": 2})  # warm-up (lazy imports)
        times = []
        for i in range(calls):
            began = time.perf_counter()
            await session.call_tool("add", {"a": i, "b": 1})
            times.append(time.perf_counter() - began)
        return times


def _smolkernel_calls(calls: int) -> tuple[list[float], list[float]]:
    from smolkernel.tools.mcp import MCPClient

    with MCPClient([sys.executable, str(SERVER)], timeout=60) as client:
        add = {t.name: t for t in client.tools}["add"]
        add(1, 2)
        sync_times = []
        for i in range(calls):
            began = time.perf_counter()
            add(i, 1)
            sync_times.append(time.perf_counter() - began)

        async def from_loop() -> list[float]:
            out = []
            for i in range(calls):
                began = time.perf_counter()
                await add.acall(i, 1)
                out.append(time.perf_counter() - began)
            return out

        return sync_times, asyncio.run(from_loop())


def main(argv: list[str] | None = None) -> list[tuple[str, float, float]]:
    """Print and return ``(name, smolkernel ms, sdk ms)`` rows (medians)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv if argv is not None else [])
    reference = statistics.median(asyncio.run(_sdk_calls(args.calls))) * 1000
    sync_times, loop_times = _smolkernel_calls(args.calls)
    rows = [
        ("MCP call, tool(a, b) from Python (ms)", statistics.median(sync_times) * 1000, reference),
        ("MCP call, await tool.acall(a, b) (ms)", statistics.median(loop_times) * 1000, reference),
    ]
    print(f"{'benchmark':44} {'smolkernel':>11} {'mcp SDK':>11} {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:44} {ours:11.3f} {theirs:11.3f} {ours / theirs:7.2f}")
    print(f"(medians of {args.calls} calls each over stdio; reference: ClientSession.call_tool awaited directly)")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
