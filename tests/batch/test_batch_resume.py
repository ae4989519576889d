"""A batch killed with SIGKILL half-way resumes: every input appears exactly once in the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from batch_helpers import loopback_spec, two_step_reply

from smolkernel.batch import read_results, run_batch
from smolkernel.testing import LoopbackLLMServer

DRIVER = textwrap.dedent("""
    import json, sys
    from smolkernel.batch import run_batch
    spec, out, n = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    run_batch(spec, [f"task {i}" for i in range(n)], concurrency=2, results=out, progress=False)
""")


def test_kill_9_then_resume_runs_each_input_once(tmp_path):
    out = tmp_path / "results.jsonl"
    total = 30
    with LoopbackLLMServer(two_step_reply, latency=0.1) as server:
        spec = loopback_spec(server)
        child = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(spec), str(out), str(total)])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 4):
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        before = read_results(out)
        assert 4 <= len(before) < total
        with open(out, "ab") as handle:  # what a kill in the middle of a write leaves
            handle.write(b'{"index": 29, "input": "task 29", "outp')
        requests_before = len(server.chat_requests)
        result = run_batch(spec, [f"task {i}" for i in range(total)], concurrency=4, results=out, progress=False)
        rerun = len(server.chat_requests) - requests_before
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(total))
    assert len(result) == total and result.succeeded == total
    assert rerun == 2 * (total - len(before))  # the finished ones were not run again
    assert result.outputs == [len(f"task {i}") for i in range(total)]
