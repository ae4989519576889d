"""Tools the agent can call: ``Tool`` subclasses and ``@tool`` functions."""

from .base import RESERVED_NAMES, Tool, check_unique_names, validate_tool
from .decorator import tool
from .final_answer import FinalAnswer, FinalAnswerTool

__all__ = ["Tool", "tool", "FinalAnswerTool", "FinalAnswer", "RESERVED_NAMES", "validate_tool", "check_unique_names"]
