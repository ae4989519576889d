"""Agents: CodeAgent (acts in code) and ToolCallingAgent (acts in JSON tool calls)."""

from . import events
from .base import MultiStepAgent
from .code_agent import CodeAgent
from .result import RunResult
from .tool_calling_agent import ToolCallingAgent

__all__ = ["MultiStepAgent", "CodeAgent", "ToolCallingAgent", "RunResult", "events"]
