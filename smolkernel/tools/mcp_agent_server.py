"""``smolkernel mcp --agent agent.yaml [--http PORT]``: an agent served as an MCP tool.

Any MCP client (Claude Desktop, an IDE, another agent's ``MCPClient``) can
then hand the agent a task::

    smolkernel mcp --agent agent.yaml               # stdio: the client starts this command
    smolkernel mcp --agent agent.yaml --http 8765   # streamable HTTP at http://127.0.0.1:8765/mcp

The server has one tool, named after the spec's ``name`` (default
``run_agent``), described by its ``description``, taking ``task: str`` and
answering with the agent's final answer as text. Calls run one at a time on
one agent built from the spec; each call is a fresh task (the memory of
earlier calls is cleared). A run that fails (no answer within ``max_steps``,
a model error) is a tool error the client sees, with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError, MissingExtraError

if TYPE_CHECKING:
    from ..agents.base import MultiStepAgent

__all__ = ["agent_mcp_server", "add_mcp_command"]


def agent_mcp_server(agent: MultiStepAgent, *, name: str | None = None, description: str | None = None) -> Any:
    """An ``mcp`` ``MCPServer`` whose one tool runs ``agent`` on a task.

    Raises:
        MissingExtraError: the ``mcp`` package is not installed.
    """
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        raise MissingExtraError("mcp", "mcp", "smolkernel mcp") from None

    tool_name = name or agent.name or "run_agent"
    about = description or agent.description or "Give a task to a smolkernel agent; it works on it with its tools and answers when done."
    server = MCPServer(f"smolkernel-{tool_name}", instructions=about)
    lock = asyncio.Lock()

    async def run_agent(task: str) -> str:
        async with lock:
            agent.memory.clear()
            result = await agent.arun(task)
        if not result.success:
            raise ToolError(f"the agent did not finish: {result.error or 'no final answer'}")
        output = result.output
        return output if isinstance(output, str) else json.dumps(output, default=repr, ensure_ascii=False)

    run_agent.__doc__ = about
    server.add_tool(run_agent, name=tool_name, description=about)
    return server


def add_mcp_command(subparsers: Any) -> None:
    """Register ``smolkernel mcp`` on an argparse subparsers object."""
    parser = subparsers.add_parser("mcp", help="serve an agent (from its spec) as an MCP tool, over stdio or HTTP")
    parser.add_argument("--agent", required=True, help="the agent's spec: agent.yaml / agent.json, or a folder holding one")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on this port (default: stdio)")
    parser.add_argument("--host", default="127.0.0.1", help="address for --http (default 127.0.0.1)")
    parser.add_argument("--name", help="the tool's name (default: the spec's name, or run_agent)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from ..spec import AgentSpec

    try:
        agent = AgentSpec.from_file(args.agent).build()
        server = agent_mcp_server(agent, name=args.name)
    except ConfigurationError as exc:
        print(f"smolkernel mcp: {exc}", file=sys.stderr)
        return 2
    try:
        if args.http is not None:
            print(f"smolkernel mcp: serving at http://{args.host}:{args.http}/mcp", file=sys.stderr, flush=True)
            server.run("streamable-http", host=args.host, port=args.http)
        else:
            server.run("stdio")
    except KeyboardInterrupt:
        pass
    finally:
        close = getattr(agent, "close", None)
        if close is not None:
            close()
    return 0
