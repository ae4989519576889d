"""``%tools mcp``: an MCP server's tools in a running SmolKernel, called by the agent's code
in the sibling kernel (the default executor) through the ToolBridge."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from harness import code_reply

EDGE_SERVER = Path(__file__).resolve().parents[1] / "tools" / "mcp_servers" / "edge_server.py"

pytestmark = pytest.mark.slow


def test_tools_mcp_adds_a_servers_tools_for_the_agent(kernel, llm):
    command = shlex.join([sys.executable, str(EDGE_SERVER)])
    run = kernel.execute(f"%tools mcp --timeout 20 {command}", timeout=90)
    assert run.status == "ok", run.text()
    assert "tools added from MCP: add" in run.stdout and "greet_person" in run.stdout
    assert kernel.execute(f"%tools mcp --timeout 20 {command}", timeout=90).status == "ok"  # run again: replaces the server
    listing = kernel.execute("%tools").stdout
    assert "add(a: int, b: int)" in listing and "MCP servers:" in listing and listing.count("edge_server.py") == 1
    llm.add_replies(code_reply("print(greet_person('Ada', title='Dr.'))\nimage = picture()"), code_reply("final_answer(add(40, 2))"))
    run = kernel.execute("Greet Ada and add 40 and 2", timeout=90)
    assert run.status == "ok", run.text()
    assert run.result["data"]["text/plain"] == "42"
    assert any("image/png" in shown["data"] for shown in run.displays), "the server's image is shown in the cell"


def test_tools_mcp_errors_are_clear(kernel):
    run = kernel.execute("%tools mcp", timeout=30)
    assert run.status == "error" and "needs a server" in run.reply["evalue"]
    run = kernel.execute("%tools mcp no-such-mcp-server-xyz", timeout=60)
    assert run.status == "error" and "could not connect" in run.reply["evalue"] and "no-such-mcp-server-xyz" in run.reply["evalue"]
    assert kernel.execute("%help").status == "ok"  # the kernel goes on
