"""Helpers of the batch tests: a two-step reply script and spec dicts for it."""

from __future__ import annotations

from typing import Any

from smolkernel.testing import LoopbackLLMServer


def two_step_reply(body: dict) -> str:
    """Step 1 computes the task's length, step 2 answers it; tasks with 'sleep' hang, with 'fail' never answer."""
    steps_done = sum(1 for m in body["messages"] if m["role"] == "assistant")
    task = next(m["content"] for m in body["messages"] if m["role"] == "user" and m["content"].startswith("New task:"))
    text = task.split("\n", 1)[1]
    if "fail" in text:
        return "I cannot do that."
    if steps_done == 0:
        if "sleep" in text:
            return "```python\nimport time\ntime.sleep(30)\n```"
        return f"```python\nn = len({text!r})\nprint(n)\n```"
    return "```python\nfinal_answer(n)\n```"


def scripted_spec(**extra: Any) -> dict[str, Any]:
    """A spec whose model answers every task with two steps, offline."""
    responses = ["```python\nx = 6 * 7\nprint(x)\n```", "```python\nfinal_answer(x)\n```"]
    return {"kind": "code", "model": "scripted", "model_options": {"responses": responses}, "max_steps": 3, **extra}


def loopback_spec(server: LoopbackLLMServer, **extra: Any) -> dict[str, Any]:
    """A spec whose model is the loopback server (the fast OpenAI-compatible path)."""
    options = {"api_base": server.api_base, **extra.pop("model_options", {})}
    return {"kind": "code", "model": "openai-server:loopback", "model_options": options, "max_steps": 3, **extra}
