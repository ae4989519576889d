"""Fixtures for the tools from outside: real MCP servers (Node and Python) and their paths."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_helpers import wait_for_port
from needs import missing, require_command

SERVERS = Path(__file__).parent / "mcp_servers"
EVERYTHING_JS = SERVERS / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
EDGE_SERVER = SERVERS / "edge_server.py"


@pytest.fixture(scope="session")
def everything_command() -> list[str]:
    """The stdio command of npm's @modelcontextprotocol/server-everything (installed by `make node-deps`)."""
    node = require_command("node", "nodejs")
    if not EVERYTHING_JS.exists():
        missing(f"{EVERYTHING_JS.relative_to(SERVERS.parents[2])} is missing; `make node-deps` installs it (npm ci)")
    return [node, str(EVERYTHING_JS), "stdio"]


@pytest.fixture(scope="session")
def everything_url(everything_command) -> Iterator[str]:
    """server-everything over streamable HTTP on a loopback port, for the whole session."""
    from mcp_helpers import free_port

    port = free_port()
    process = subprocess.Popen(
        [everything_command[0], str(EVERYTHING_JS), "streamableHttp"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, 60)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def edge_command() -> list[str]:
    """Our own SDK-written server (tests/tools/mcp_servers/edge_server.py) over stdio."""
    return [sys.executable, str(EDGE_SERVER)]


GRADIO_APP = Path(__file__).parent / "gradio_apps" / "demo_app.py"


@pytest.fixture(scope="session")
def gradio_url() -> Iterator[str]:
    """tests/tools/gradio_apps/demo_app.py served on loopback by a real Gradio, once per session."""
    import os
    import select

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, str(GRADIO_APP)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 240  # importing gradio takes long on a busy machine
        seen = []
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1.0)
            if ready:
                line = process.stdout.readline()
                if not line and process.poll() is not None:
                    break
                seen.append(line)
                if line.startswith("URL "):
                    break
        else:
            raise RuntimeError("the Gradio app did not start within 240 s")
        if not seen or not seen[-1].startswith("URL "):
            raise RuntimeError(f"the Gradio app failed to start: {''.join(seen)[-2000:]}")
        yield seen[-1].split(None, 1)[1].strip()
    finally:
        process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
