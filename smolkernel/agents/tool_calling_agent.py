"""ToolCallingAgent: the model calls tools with JSON (native tool calls or JSON text)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from ..exceptions import AgentParsingError, AgentToolCallError
from ..memory import ActionStep, compact
from ..models.base import ChatMessage, ToolCall
from ..tools import FinalAnswer, FinalAnswerTool, Tool
from .base import MultiStepAgent, RunContext
from .managed import ManagedAgentTool
from ._near_json import Undecodable, decode_value
from .parsing import parse_tool_calls

__all__ = ["ToolCallingAgent"]


class ToolCallingAgent(MultiStepAgent):
    """An agent that acts through tool calls.

    Several calls in one step run concurrently (each in a worker thread). A
    model without native tool calling may write the call as JSON in its reply.
    """

    prompt_file = "toolcalling_agent.txt"

    def _tools_text(self) -> str:
        return "\n".join(f"- {t.usage()}: {t.description.splitlines()[0]}" for t in self.tools.values() if not isinstance(t, ManagedAgentTool))

    def _offered_tools(self) -> Sequence[Tool]:
        return list(self.tools.values())

    async def _act(self, message: ChatMessage, step: ActionStep, ctx: RunContext) -> None:
        calls = message.tool_calls or parse_tool_calls(message.content or "")
        unreadable = [c for c in calls if not c.name]
        if unreadable:  # nothing to name in the history's tool call: the whole reply is corrected
            problem = getattr(unreadable[0], "problem", None) or "a tool call has no name"
            raise AgentParsingError(f"{problem}. Nothing was run; write each call as {{\"name\": ..., \"arguments\": {{...}}}}.")
        for index, call in enumerate(calls):
            if not call.id:
                call.id = f"call_{step.step_number}_{index}"
        step.tool_calls = calls
        for managed in self.tools.values():
            if isinstance(managed, ManagedAgentTool):
                managed.context = ctx
        finals = [c for c in calls if c.name == "final_answer"]
        others = [c for c in calls if c.name != "final_answer"]
        outcomes = await asyncio.gather(*(self._call_tool(c) for c in others))
        failed = [call for call, (ok, _) in zip(others, outcomes) if not ok]
        for call, (ok, value) in zip(others, outcomes):
            step.tool_results[call.id] = _as_text(value) if ok else f"Error: {value}"
            if ok:
                step.displays.extend(_media_bundles(value))
        if finals and not failed:
            ok, value = await self._call_tool(finals[0])
            if ok:
                step.is_final_answer, step.output = True, value
                step.tool_results[finals[0].id] = _as_text(value)
            else:
                failed.append(finals[0])
                step.tool_results[finals[0].id] = f"Error: {value}"
        for call in finals:
            step.tool_results.setdefault(call.id, "Not run: another call in this step failed.")
        step.observations = "\n".join(f"{c.name}: {step.tool_results[c.id]}" for c in calls if c not in failed)
        if failed:
            step.error = "\n".join(f"{c.name}: {step.tool_results[c.id]}" for c in failed)

    async def _call_tool(self, call: ToolCall) -> tuple[bool, Any]:
        """Run one call; return (True, result) or (False, error text for the model)."""
        tool = self.tools.get(call.name)
        if tool is None:
            return False, f"there is no tool named {call.name!r}; the tools are: {', '.join(self.tools)}"
        arguments, problem = _arguments_of(call, tool)
        if problem:
            return False, f"{problem}. Nothing was run; call {tool.usage()} again with its arguments as a JSON object."
        try:
            if type(tool) is FinalAnswerTool:  # the built-in one only raises FinalAnswer: no thread hop needed
                return True, tool(**arguments)
            return True, await asyncio.to_thread(tool, **arguments)
        except FinalAnswer as answer:
            return True, answer.value
        except AgentToolCallError as exc:
            return False, str(exc)
        except Exception as exc:  # a tool's own failure is an observation for the model
            return False, f"the tool raised {type(exc).__name__}: {exc}"

    def _step_messages(self, step: ActionStep, limit: int | None) -> list[ChatMessage]:
        if not step.tool_calls:
            reply = ChatMessage(role="assistant", content=step.model_output or "")
            note = step.error or "No tool was called."
            return [reply, ChatMessage(role="user", content=f"Error: {note}\nCall a tool.")]
        messages = [ChatMessage(role="assistant", content=step.model_output or None, tool_calls=step.tool_calls)]
        for call in step.tool_calls:
            text = step.tool_results.get(call.id, "")
            messages.append(ChatMessage(role="tool", content=text if limit is None else compact(text, limit), tool_call_id=call.id))
        return messages


def _arguments_of(call: ToolCall, tool: Tool) -> tuple[dict[str, Any], str | None]:
    """The call's arguments as a dict, or a problem for the model (missing arguments are never ``{}``)."""
    problem = getattr(call, "problem", None)
    if problem:
        return {}, problem
    if getattr(call, "arguments_missing", False) or (isinstance(call.arguments, str) and not call.arguments.strip()):
        if tool.inputs:
            return {}, f"the call to {call.name} gave no arguments, but it takes {', '.join(tool.inputs)}"
        return {}, None
    if isinstance(call.arguments, dict):
        return call.arguments, None
    try:
        value = decode_value(call.arguments)  # a native call whose argument text is near-JSON
    except Undecodable as exc:
        return {}, f"the arguments are {exc}"
    if not isinstance(value, dict):
        return {}, f"the arguments must be a JSON object mapping argument names to values: {compact(call.arguments, 200)!r}"
    return value, None


def _media_bundles(value: Any) -> list[dict[str, Any]]:
    """Displays for the images and files (``Media``) in a tool's result."""
    from ..tools.media import Media

    items = value if isinstance(value, (list, tuple)) else [value]
    return [{"data": item._repr_mimebundle_(), "metadata": {}} for item in items if isinstance(item, Media)]


def _as_text(value: Any) -> str:
    """How a tool's result reads in the prompt."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)
