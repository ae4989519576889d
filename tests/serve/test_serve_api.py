"""The HTTP API of ``smolkernel serve`` over real HTTP, against a real uvicorn process (embedded store)."""

from __future__ import annotations

import json
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from serve_process import read_sse, wait_status


def test_run_in_background_is_polled_to_its_result(client):
    started = client.post("/v1/runs", json={"task": "wait 0.3"})
    assert started.status_code == 202
    run_id = started.json()["run_id"]
    assert started.json()["status"] in ("queued", "running")
    assert started.headers["location"] == f"/v1/runs/{run_id}"
    run = wait_status(client, run_id, ("succeeded", "failed"))
    assert run["status"] == "succeeded" and run["success"] is True
    assert run["output"] == "WAIT 0.3 (remembered 0)"
    assert [s["tool_calls"][0]["name"] for s in run["steps"]] == ["wait", "final_answer"]
    assert run["token_usage"] == {"input_tokens": 2000, "output_tokens": 40}
    assert run["cost"] > 0 and run["duration"] >= 0.3


def test_wait_answers_with_the_finished_run(client):
    response = client.post("/v1/runs", json={"task": "hello", "wait": True})
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded" and response.json()["output"] == "HELLO (remembered 0)"


def test_events_stream_to_run_finished_and_resume_after_last_event_id(client):
    run_id = client.post("/v1/runs", json={"task": "wait 0.2"}).json()["run_id"]
    events = read_sse(client, f"/v1/runs/{run_id}/events")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("step_finished") == 2
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["data"]["status"] == "succeeded" and events[-1]["data"]["output"] == "WAIT 0.2 (remembered 0)"
    resumed = read_sse(client, f"/v1/runs/{run_id}/events", last_event_id=3)
    assert [e["id"] for e in resumed] == [e["id"] for e in events[3:]]
    assert resumed == events[3:]


def test_cancel_a_running_run(client):
    run_id = client.post("/v1/runs", json={"task": "wait 30"}).json()["run_id"]
    wait_status(client, run_id, ("running",))
    time.sleep(0.2)
    began = time.monotonic()
    cancelled = client.post(f"/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and time.monotonic() - began < 5
    events = read_sse(client, f"/v1/runs/{run_id}/events")
    assert events[-1]["event"] == "run_finished" and events[-1]["data"]["status"] == "cancelled"
    # cancelling a finished run changes nothing
    assert client.post(f"/v1/runs/{run_id}/cancel").json()["status"] == "cancelled"


def test_runs_of_one_session_share_memory(client):
    first = client.post("/v1/runs", json={"task": "first", "session_id": "s-memory", "wait": True}).json()
    second = client.post("/v1/runs", json={"task": "second", "session_id": "s-memory", "wait": True}).json()
    alone = client.post("/v1/runs", json={"task": "alone", "wait": True}).json()
    assert first["output"] == "FIRST (remembered 0)"
    assert second["output"] == "SECOND (remembered 1)"
    assert alone["output"] == "ALONE (remembered 0)"
    session = client.get("/v1/sessions/s-memory").json()
    assert session["runs"] == [first["run_id"], second["run_id"]]
    assert [i["task"] for i in session["memory"]["interactions"]] == ["first", "second"]
    assert session["memory"]["runs"] == 2 and session["memory"]["input_tokens"] == 2000
    assert client.get("/v1/sessions/never-made").status_code == 404


def test_result_cache_is_opt_in_and_marked(client):
    task = f"cache me {time.time()}"
    fresh = client.post("/v1/runs", json={"task": task, "wait": True, "cache": True}).json()
    assert fresh["cached"] is False and fresh["cost"] > 0
    hit = client.post("/v1/runs", json={"task": task, "cache": True})
    assert hit.status_code == 200
    body = hit.json()
    assert body["cached"] is True and body["cached_from"] == fresh["run_id"]
    assert body["output"] == fresh["output"] and body["cost"] == 0.0 and body["run_id"] != fresh["run_id"]
    assert read_sse(client, f"/v1/runs/{body['run_id']}/events")[-1]["event"] == "run_finished"
    not_opted = client.post("/v1/runs", json={"task": task, "wait": True}).json()
    assert not_opted["cached"] is False


def test_a_short_ttl_expires(client):
    task = f"expire {time.time()}"
    client.post("/v1/runs", json={"task": task, "wait": True, "cache": True, "cache_ttl": 0.5})
    time.sleep(0.8)
    assert client.post("/v1/runs", json={"task": task, "wait": True, "cache": True}).json()["cached"] is False


def test_bad_input_gets_clear_errors(client):
    malformed = client.post("/v1/runs", content=b'{"task": "x"', headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and "json" in malformed.text.lower()
    assert client.post("/v1/runs", json={}).status_code == 422
    assert client.post("/v1/runs", json={"task": ""}).status_code == 422
    unknown_field = client.post("/v1/runs", json={"task": "x", "bogus": 1})
    assert unknown_field.status_code == 422 and "bogus" in unknown_field.text
    too_long = client.post("/v1/runs", json={"task": "x" * 100_001})
    assert too_long.status_code == 413 and "100001 characters" in too_long.json()["detail"]
    too_big = client.post("/v1/runs", json={"task": "x", "variables": {"blob": "y" * 1_100_000}})
    assert too_big.status_code == 413
    assert client.get("/v1/runs/no-such-run").status_code == 404
    assert client.post("/v1/runs/no-such-run/cancel").status_code == 404
    assert client.get("/v1/runs/no-such-run/events").status_code == 404
    run_id = client.post("/v1/runs", json={"task": "ok", "wait": True}).json()["run_id"]
    bad_resume = client.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "abc"})
    assert bad_resume.status_code == 400


def test_a_failing_model_fails_the_run_with_the_reason(client):
    run = client.post("/v1/runs", json={"task": "fail now", "wait": True}).json()
    assert run["status"] == "failed" and "broke on purpose" in run["error"]


def test_variables_reach_the_run(client):
    response = client.post("/v1/runs", json={"task": "hello", "variables": {"x": [1, 2]}, "wait": True})
    assert response.status_code == 200 and response.json()["status"] == "succeeded"


def _samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_metrics_healthz_and_docs(client, embedded_server):
    client.post("/v1/runs", json={"task": "count me", "wait": True})
    health = httpx.get(f"{embedded_server.url}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["store"] == "embedded"
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = _samples(metrics.text)
    assert samples[("smolkernel_runs_total", (("status", "succeeded"),))] >= 1
    assert samples[("smolkernel_cost_usd_total", (("model", "gpt-4o-mini"),))] > 0
    assert samples[("smolkernel_tool_calls_total", (("status", "ok"), ("tool", "final_answer")))] >= 1
    assert ("smolkernel_runs_in_progress", ()) in samples
    assert any(name == "gen_ai_client_token_usage_count" for name, _ in samples)
    assert any(name == "gen_ai_client_operation_duration_seconds_bucket" for name, _ in samples)
    assert "swagger" in client.get("/docs").text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/runs", "/v1/runs/{run_id}", "/v1/runs/{run_id}/events", "/v1/runs/{run_id}/cancel", "/v1/sessions/{session_id}"} <= set(paths)
    body = paths["/v1/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["task"] and {"task", "session_id", "variables", "wait", "cache", "cache_ttl"} == set(body["properties"])


def test_status_json_lists_recent_runs_with_totals(client):
    run = client.post("/v1/runs", json={"task": "for the status", "wait": True}).json()
    status = client.get("/v1/status").json()
    assert run["run_id"] in [r["run_id"] for r in status["recent"]]
    assert status["totals"]["runs"] >= 1 and status["totals"]["cost"] > 0
    assert json.dumps(status)
