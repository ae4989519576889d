"""Sharing agents and tools: describe (to_spec), save/load folders, the Hub."""

from .loaders import load_agent
from .tool_files import load_tool

__all__ = ["load_agent", "load_tool"]
