"""``%agent tools mcp``: an MCP server's tools for the magics' agents (local executor: the
agent's code runs in the notebook's namespace and calls the tools there)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from magic_helpers import code_reply, configure, run

EDGE_SERVER = Path(__file__).resolve().parents[1] / "tools" / "mcp_servers" / "edge_server.py"


def test_agent_tools_mcp_gives_every_agent_the_servers_tools(shell, loopback, capsys):
    server = loopback([code_reply("final_answer(add(40, 2))"), code_reply("final_answer(weather('Oslo')['sky'])")])
    configure(shell, server)
    command = shlex.join([sys.executable, str(EDGE_SERVER)])
    result = run(shell, f"%agent tools mcp --timeout 20 {command}")
    assert result.success, result.error_in_exec
    assert "MCP tools added" in capsys.readouterr().out
    assert run(shell, f"%agent tools mcp --timeout 20 {command}").success  # the cell again: one server, not two
    capsys.readouterr()
    run(shell, "%agent tools")
    assert capsys.readouterr().out.count("MCP server ") == 1
    assert run(shell, "%agent Add 40 and 2 with the server").result == 42
    assert run(shell, "%%agent --memory-size 1\nWeather in Oslo?").result == "clear"  # a second agent gets them too
    assert "add(a: int, b: int)" in server.chat_requests[0].messages[0]["content"]


def test_agent_tools_mcp_bad_server_is_a_usage_error(shell, capsys):
    result = run(shell, "%agent tools mcp no-such-mcp-server-xyz")
    assert not result.success
    assert "could not connect" in str(result.error_in_exec) and "no-such-mcp-server-xyz" in str(result.error_in_exec)
    result = run(shell, "%agent tools mcp")
    assert "needs a server" in str(result.error_in_exec)
