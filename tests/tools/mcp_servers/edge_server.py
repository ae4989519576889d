"""An MCP server written with the SDK (``MCPServer``) for the cases real servers rarely show.

Run: ``python edge_server.py`` (stdio) or ``python edge_server.py http PORT``
(streamable HTTP on 127.0.0.1). Its tools fail, hang, kill the server, return
structured data and images, and carry names that are not Python identifiers.
"""

from __future__ import annotations

import base64
import os
import sys

import anyio
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

# A 1x1 red PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)

server = MCPServer("edge", instructions="Edge cases for smolkernel's MCPClient tests.")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def weather(city: str) -> dict[str, object]:
    """The weather in a city, as structured data."""
    return {"city": city, "temperature": 21, "sky": "clear"}


@server.tool()
def fail(message: str) -> str:
    """Always fails with the given message."""
    raise ToolError(message)


@server.tool()
async def hang(seconds: float = 3600.0) -> str:
    """Sleeps for a long time before answering."""
    await anyio.sleep(seconds)
    return "woke up"


@server.tool()
def die(code: int = 3) -> str:
    """Ends the server process at once."""
    sys.stdout.flush()
    os._exit(code)


@server.tool()
def picture() -> Image:
    """A one-pixel red image."""
    return Image(data=PNG, format="png")


@server.tool()
def env_value(name: str) -> str:
    """The value of an environment variable in the server's process."""
    return os.environ.get(name, "<unset>")


@server.tool(name="greet-person")
def greet(name: str, title: str | None = None) -> str:
    """Greets a person, with an optional title."""
    return f"Hello, {title + ' ' if title else ''}{name}!"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
