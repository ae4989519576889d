"""Back-pressure and crash safety: a full queue answers 429; kill -9 loses no accepted run."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from serve_process import ServeProcess, read_sse, wait_status

pytestmark = pytest.mark.slow

SMALL = ("--concurrency", "1", "--queue-size", "1")


def _stored_run(server: ServeProcess, run_id: str) -> dict:
    """Read a run straight from the embedded store's file (the server is stopped)."""
    with sqlite3.connect(server.data_dir / "smolkernel-serve.sqlite3") as db:
        return json.loads(db.execute("select data from runs where run_id = ?", (run_id,)).fetchone()[0])


def test_queue_bound_cancel_kill_9_restart_and_graceful_stop(tmp_path):
    server = ServeProcess(tmp_path, args=SMALL).start()
    try:
        with server.client() as http:
            first = http.post("/v1/runs", json={"task": "wait 60"}).json()
            assert first["status"] == "running" and first["started"] is not None  # a worker was free: saved as running when accepted
            running = first["run_id"]
            wait_status(http, running, ("running",))
            dropped = http.post("/v1/runs", json={"task": "never runs"}).json()["run_id"]
            refused = http.post("/v1/runs", json={"task": "one too many"})
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1 and "queue is full" in refused.json()["detail"]
            cancelled = http.post(f"/v1/runs/{dropped}/cancel").json()
            assert cancelled["status"] == "cancelled" and cancelled["steps"] == []
            queued = http.post("/v1/runs", json={"task": "after the crash"}).json()["run_id"]
            assert http.get(f"/v1/runs/{queued}").json()["status"] == "queued"
        server.kill()
    finally:
        server.stop()
    restarted = ServeProcess(tmp_path, args=SMALL, data_dir=server.data_dir).start()
    try:
        with restarted.client() as http:
            lost = http.get(f"/v1/runs/{running}").json()
            assert lost["status"] == "failed" and "stopped" in lost["error"] and "not run again" in lost["error"]
            assert read_sse(http, f"/v1/runs/{running}/events")[-1]["event"] == "run_finished"
            rerun = wait_status(http, queued, ("succeeded", "failed", "cancelled"))
            assert rerun["status"] == "succeeded" and rerun["output"] == "AFTER THE CRASH (remembered 0)"
            assert http.get(f"/v1/runs/{dropped}").json()["status"] == "cancelled"
            statuses = {r["status"] for r in http.get("/v1/status").json()["recent"]}
            assert not statuses & {"queued", "running"}
            interrupted = http.post("/v1/runs", json={"task": "wait 60"}).json()["run_id"]
            wait_status(http, interrupted, ("running",))
        began = time.monotonic()
        restarted.stop()  # SIGTERM: a graceful stop (uvicorn re-raises the signal once it is done)
        assert restarted.proc.returncode == -15 and time.monotonic() - began < 15
    finally:
        restarted.stop()
    stopped = _stored_run(restarted, interrupted)
    assert stopped["status"] == "failed" and "shut down" in stopped["error"]


def test_a_missing_agent_file_stops_the_command_with_the_reason(tmp_path):
    server = ServeProcess(tmp_path, agent=str(tmp_path / "nowhere.yaml"))
    with pytest.raises(RuntimeError, match="did not start"):
        server.start(timeout=30)
    assert "does not exist" in server.log() and "nowhere.yaml" in server.log()
    assert server.proc.returncode == 2


SPEC = """\
kind: toolcalling
name: from_yaml
model: scripted
model_options:
  responses:
    - {tool_calls: [{name: final_answer, arguments: {answer: answered from the spec}}]}
tools: [serve_agents:wait]
max_steps: 2
"""


def test_serve_an_agent_spec_file(tmp_path):
    spec = tmp_path / "agent.yaml"
    spec.write_text(SPEC)
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("max_steps: 2", "max_stepz: 2"))
    broken = ServeProcess(tmp_path, agent=str(bad))
    with pytest.raises(RuntimeError, match="did not start"):
        broken.start(timeout=30)
    assert "max_stepz" in broken.log() and "line 8" in broken.log()
    server = ServeProcess(tmp_path, agent=str(spec)).start()
    try:
        with server.client() as http:
            first = http.post("/v1/runs", json={"task": "anything", "wait": True}).json()
            second = http.post("/v1/runs", json={"task": "again", "wait": True}).json()
            assert first["output"] == second["output"] == "answered from the spec"  # a fresh agent per run
            assert first["cost"] is None  # a model without a known price has no cost, not 0
            assert http.get("/v1/status").json()["agent"] == "from_yaml"
    finally:
        server.stop()
