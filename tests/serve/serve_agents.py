"""Agent factories that the test servers load with ``--agent serve_agents:NAME``.

The model is a ScriptedModel whose function reads the task:
``wait N ...`` first calls the ``wait`` tool for N seconds; any other task is
answered at once. The answer says how many earlier tasks the agent's memory
held, so session tests can see memory being shared. With
``SERVE_TEST_LLM`` set (the loopback LLM server's URL) ``loopback_agent``
uses an OpenAIServerModel against it instead.
"""

from __future__ import annotations

import os

from smolkernel import ToolCallingAgent
from smolkernel.models import ChatMessage, ScriptedModel, TokenUsage

from wait_tool import wait  # in a file of its own: bench_serve_dask ships it to Dask workers


def _task(messages) -> str:
    for message in reversed(messages):
        if message.role == "user" and (message.content or "").startswith("New task:\n"):
            return message.content[len("New task:\n"):]
    return ""


def _reply(messages) -> ChatMessage:
    task = _task(messages)
    earlier = sum(1 for m in messages if m.role == "user" and (m.content or "").startswith("Earlier task:"))
    waited = any(m.role == "tool" for m in messages)
    if task.startswith("wait ") and not waited:
        call = {"name": "wait", "arguments": {"seconds": float(task.split()[1])}, "id": "call_wait"}
        return ChatMessage(role="assistant", content=None, tool_calls=_calls([call]), token_usage=TokenUsage(1000, 20))
    if task.startswith("fail"):
        raise RuntimeError("the model broke on purpose")
    answer = f"{task.upper()} (remembered {earlier})"
    call = {"name": "final_answer", "arguments": {"answer": answer}, "id": "call_final"}
    return ChatMessage(role="assistant", content=None, tool_calls=_calls([call]), token_usage=TokenUsage(1000, 20))


def _calls(calls):
    from smolkernel.models import ToolCall

    return [ToolCall(name=c["name"], arguments=c["arguments"], id=c["id"]) for c in calls]


def echo_agent() -> ToolCallingAgent:
    """Answers at once (or after ``wait N``); priced as gpt-4o-mini so runs have a cost."""
    return ToolCallingAgent([wait], ScriptedModel(_reply, model_id="gpt-4o-mini"), name="echo", max_steps=4, memory_size=3)


_LOOPBACK_MODEL = None


def loopback_agent() -> ToolCallingAgent:
    """Two steps on the loopback LLM server (``SERVE_TEST_LLM``): a tool call, then the answer.

    The model (and so its HTTP connection pool) is made once and shared by
    every run's fresh agent, as a deployment would share one client.
    """
    global _LOOPBACK_MODEL
    from smolkernel import OpenAIServerModel

    if _LOOPBACK_MODEL is None:
        _LOOPBACK_MODEL = OpenAIServerModel("gpt-4o-mini", api_base=os.environ["SERVE_TEST_LLM"], api_key="x", max_retries=0)
    return ToolCallingAgent([wait], _LOOPBACK_MODEL, name="bench", max_steps=4)


def loopback_reply(request: dict) -> dict:
    """The loopback server's answer: ``wait 0`` first, then the final answer."""
    if any(m.get("role") == "tool" for m in request["messages"]):
        return {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "done"}}]}
    return {"tool_calls": [{"name": "wait", "arguments": {"seconds": 0}}]}
