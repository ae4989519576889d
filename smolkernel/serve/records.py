"""Plain JSON records of the service: runs, events, sessions, cache keys.

Everything stored or sent is a JSON-safe dict made here, so both stores and
the API agree on one shape.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

from ..agents import events as ev
from ..memory import ActionStep, Interaction, PlanningStep, Step
from ..models.base import TokenUsage
from ._json import json_safe

__all__ = ["new_run", "new_run_id", "run_view", "step_record", "event_record", "cache_key", "json_safe", "remember", "restore_memory"]

VIEW_FIELDS = (
    "run_id", "status", "task", "session_id", "output", "success", "error", "steps", "token_usage", "cost",
    "duration", "created", "started", "finished", "cached", "cached_from", "attempts", "worker",
)
"""The fields of a run that the API shows; the rest (owner, instance, ...) stays inside."""


def new_run_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: its first 48 bits are the time in milliseconds.

    Ids that grow with time land at one end of the stores' indexes: the
    runs in flight share a few B-tree pages, where random (v4) ids put each
    write on a page of its own (a quarter less SQLite work per run).
    """
    random = int.from_bytes(os.urandom(10), "big")
    value = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80 | 0x7 << 76 | (random >> 62 & 0xFFF) << 64 | 0b10 << 62 | random & (1 << 62) - 1
    return f"{value:032x}"


def new_run(task: str, *, owner: str | None, session_id: str | None, variables: dict[str, Any] | None, cache: str | None, cache_ttl: float | None) -> dict[str, Any]:
    """The record of a run just accepted (status ``queued``)."""
    return {
        "run_id": new_run_id(),
        "status": "queued",
        "task": task,
        "session_id": session_id,
        "variables": variables or {},
        "owner": owner,
        "output": None,
        "success": None,
        "error": None,
        "steps": [],
        "token_usage": {"input_tokens": 0, "output_tokens": 0},
        "cost": None,
        "duration": None,
        "created": time.time(),
        "started": None,
        "finished": None,
        "cached": False,
        "cached_from": None,
        "cache_key": cache,
        "cache_ttl": cache_ttl,
        "attempts": 0,
        "instance": None,
        "worker": None,
    }


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    """What ``GET /v1/runs/{id}`` returns for ``run``."""
    return {name: run.get(name) for name in VIEW_FIELDS}


def _usage(usage: TokenUsage) -> dict[str, Any]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "cost": usage.cost}


def step_record(step: Step | dict[str, Any]) -> dict[str, Any]:
    """A JSON summary of one step (a dict is one already: made on a Dask worker)."""
    if isinstance(step, dict):
        return step
    if isinstance(step, PlanningStep):
        return {"type": "planning", "step_number": step.step_number, "plan": step.plan, "token_usage": _usage(step.token_usage), "duration": step.duration}
    assert isinstance(step, ActionStep)
    return {
        "type": "action",
        "step_number": step.step_number,
        "model_output": step.model_output,
        "code": step.code,
        "tool_calls": [{"name": c.name, "arguments": json_safe(c.arguments), "id": c.id} for c in step.tool_calls],
        "observations": step.observations,
        "error": step.error,
        "is_final_answer": step.is_final_answer,
        "output": json_safe(step.output) if step.is_final_answer else None,
        "token_usage": _usage(step.token_usage),
        "duration": step.duration,
    }


def event_record(event: ev.AgentEvent | tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """(type, data) of an agent event for the run's stream; None for events not streamed.

    A (type, data) tuple is a record already (made on a Dask worker).
    ``RunFinished`` is not streamed from here: the runner writes the
    ``run_finished`` event itself, with the stored run, once it is saved.
    """
    if isinstance(event, tuple):
        return event
    base = {"agent_name": event.agent_name, "depth": event.depth}
    if isinstance(event, ev.RunStarted):
        return "run_started", {**base, "task": event.task, "model_id": event.model_id, "max_steps": event.max_steps}
    if isinstance(event, ev.StepStarted):
        return "step_started", {**base, "step_number": event.step_number}
    if isinstance(event, ev.ModelOutput) and event.message is not None:
        return "model_output", {**base, "step_number": event.step_number, "content": event.message.content}
    if isinstance(event, ev.StepFinished) and event.step is not None:
        return "step_finished", {**base, "step": step_record(event.step)}
    if isinstance(event, ev.PlanCreated) and event.step is not None:
        return "plan_created", {**base, "step": step_record(event.step)}
    return None


def cache_key(agent_fingerprint: str, task: str, variables: dict[str, Any] | None) -> str:
    """Key of the result cache: the agent's spec, the task and its variables."""
    text = json.dumps({"agent": agent_fingerprint, "task": task, "variables": variables or {}}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def remember(session: dict[str, Any], run: dict[str, Any], summary: str, memory_size: int) -> None:
    """Add a finished run to the session's memory window and figures."""
    memory = session.setdefault("memory", {"interactions": [], "runs": 0, "steps": 0, "input_tokens": 0, "output_tokens": 0, "cost": None})
    memory["interactions"].append({"task": run["task"], "answer": run["output"], "success": bool(run["success"]), "summary": summary})
    if memory_size:
        memory["interactions"] = memory["interactions"][-memory_size:]
    memory["runs"] += 1
    memory["steps"] += sum(1 for s in run["steps"] if s.get("type") == "action")
    memory["input_tokens"] += run["token_usage"]["input_tokens"]
    memory["output_tokens"] += run["token_usage"]["output_tokens"]
    if run.get("cost") is not None:
        memory["cost"] = (memory.get("cost") or 0.0) + run["cost"]
    session.setdefault("runs", []).append(run["run_id"])


def restore_memory(agent: Any, session: dict[str, Any] | None) -> None:
    """Fill a fresh agent's memory window from the session's stored interactions."""
    if not session:
        return
    for item in session.get("memory", {}).get("interactions", []):
        agent.memory.interactions.append(
            Interaction(task=item["task"], answer=item["answer"], success=item["success"], steps=[], token_usage=TokenUsage(), duration=0.0, summary=item.get("summary", ""))
        )
