"""Tools the agent can call: ``Tool`` subclasses, ``@tool`` functions, an MCP server's tools
(``MCPClient``) and Gradio apps (``Tool.from_space``)."""

from .base import RESERVED_NAMES, Tool, check_unique_names, validate_tool
from .decorator import tool
from .final_answer import FinalAnswer, FinalAnswerTool
from .mcp import MCPClient
from .media import Media

__all__ = ["Tool", "tool", "FinalAnswerTool", "FinalAnswer", "RESERVED_NAMES", "validate_tool", "check_unique_names", "MCPClient", "Media"]
