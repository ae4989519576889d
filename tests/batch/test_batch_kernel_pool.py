"""``kernel`` executors come from a warm pool: a few sibling kernels serve many inputs."""

from __future__ import annotations

import os

import pytest
from batch_helpers import loopback_spec

from smolkernel.batch import run_batch
from smolkernel.testing import LoopbackLLMServer

pytestmark = pytest.mark.slow


def pid_reply(body: dict) -> str:
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return "```python\nimport os\nleft_over = globals().get('mine')\nmine = os.getpid()\nprint(left_over)\n```"
    return "```python\nfinal_answer([mine, left_over])\n```"


def test_six_inputs_share_two_clean_kernels():
    with LoopbackLLMServer(pid_reply) as server:
        result = run_batch(loopback_spec(server, executor="kernel"), [f"t{i}" for i in range(6)], concurrency=6, pool_size=2, progress=False)
    assert result.succeeded == 6, result.failures
    pids = {r.output[0] for r in result}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids  # the code ran in sibling kernels, at most two
    assert all(r.output[1] is None for r in result)  # each input found the workspace reset
