"""``smolkernel serve --dask``: runs execute on the workers of a real LocalCluster (worker processes).

The server is a real process started with ``--dask ADDRESS``; requests are
real HTTP. The agent is a spec file (a code agent on the loopback LLM server,
with a ``whoami`` tool that reports the process it runs in), so the outputs
show that the runs happened in the workers, not in the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from serve_process import ServeProcess, free_port, read_sse, wait_status

from smolkernel.testing import LoopbackLLMServer

pytestmark = pytest.mark.slow

TOOLS = '''\
import os
import socket
import time

from smolkernel.tools import tool


@tool
def whoami(seconds: float) -> dict:
    """Wait a while (in short naps, so a stop request ends it), then say which process ran this.

    Args:
        seconds: how long to wait first
    """
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
    return {"pid": os.getpid(), "host": socket.gethostname()}
'''

SPEC = """\
kind: code
name: on_dask
model: openai-server:loopback
model_options: {{api_base: "{api_base}"}}
tools: [{{file: tools.py}}]
max_steps: 3
"""


def reply(body: dict) -> str:
    """``wait N`` waits N seconds in the tool; the answer says how many earlier tasks the agent remembered."""
    task = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user" and m["content"].startswith("New task:"))
    text = task.split("\n", 1)[1]
    remembered = sum(1 for m in body["messages"] if m["role"] == "user" and m["content"].startswith("Earlier task:"))
    seconds = float(text.split()[1]) if text.startswith("wait ") else 0
    return f"```python\nfinal_answer({{**whoami({seconds}), 'remembered': {remembered}}})\n```"


def first_event(http, run_id: str) -> str:
    """The type of a run's first server-sent event, read as soon as it arrives."""
    with http.stream("GET", f"/v1/runs/{run_id}/events", headers={"Accept": "text/event-stream"}, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                return line.partition(":")[2].strip()
    raise AssertionError("the stream ended without an event")


def running_keys(dask_worker=None) -> list[str]:
    """Run on each worker: the served runs its agents are running now."""
    from smolkernel.serve import dask_worker as module

    return list(module._RUNNING)


def busy_worker(client, timeout: float = 30) -> str:
    """The address of a worker running a served agent (waits for one)."""
    deadline = time.monotonic() + timeout
    while not (busy := [address for address, keys in client.run(running_keys).items() if keys]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return busy[0]


def wait_idle_workers(client, timeout: float = 15) -> None:
    """Wait until no worker runs a served agent any more."""
    deadline = time.monotonic() + timeout
    while any(client.run(running_keys).values()):
        assert time.monotonic() < deadline, client.run(running_keys)
        time.sleep(0.1)


@pytest.fixture(scope="module")
def dask_server(dask_cluster, tmp_path_factory):
    cluster, client = dask_cluster
    folder = tmp_path_factory.mktemp("dask-agent")
    with LoopbackLLMServer(reply) as llm:
        (folder / "tools.py").write_text(TOOLS)
        (folder / "agent.yaml").write_text(SPEC.format(api_base=llm.api_base))
        server = ServeProcess(folder, agent=str(folder / "agent.yaml"),
                              args=("--dask", cluster.scheduler_address, "--concurrency", "2", "--queue-size", "1")).start()
        try:
            yield server, client
        finally:
            server.stop()


def test_runs_execute_on_the_workers_and_stream_their_steps(dask_server):
    server, client = dask_server
    worker_pids = set(client.run(os.getpid).values())
    with server.client() as http:
        run = http.post("/v1/runs", json={"task": "who are you", "session_id": "s1", "wait": True}).json()
        assert run["status"] == "succeeded", run
        assert run["output"]["pid"] in worker_pids and run["output"]["pid"] != server.proc.pid
        assert run["worker"]["pid"] == run["output"]["pid"] and run["worker"]["address"] in client.run(os.getpid)
        assert run["steps"][0]["type"] == "action" and "whoami" in run["steps"][0]["code"]
        assert run["token_usage"]["input_tokens"] > 0
        events = read_sse(http, f"/v1/runs/{run['run_id']}/events")
        kinds = [e["event"] for e in events]
        assert kinds[0] == "run_started" and "step_finished" in kinds and kinds[-1] == "run_finished"
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        again = http.post("/v1/runs", json={"task": "and now", "session_id": "s1", "wait": True}).json()
        assert again["status"] == "succeeded" and again["output"]["remembered"] == 1  # the session's memory went to the worker
        assert http.get("/v1/sessions/s1").json()["memory"]["runs"] == 2
        metrics = http.get("/metrics").text  # the server's own figures of runs done on the workers
        assert "smolkernel_runs_total{status=\"succeeded\"}" in metrics
        assert 'gen_ai_client_token_usage_count{gen_ai_operation_name="chat",gen_ai_request_model="loopback",gen_ai_token_type="input"}' in metrics
        # the model and tool calls happened on the workers: their figures came back with the runs
        samples = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
        assert float(samples['gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat",gen_ai_request_model="loopback"}']) >= 2
        assert float(samples['smolkernel_tool_calls_total{status="ok",tool="whoami"}']) >= 2
        health = http.get("/healthz").json()
        assert health["dask"] == client.scheduler.address and health["dask_workers"] == 2


@pytest.mark.browser
def test_status_page_names_the_scheduler_and_its_workers(chromium, dask_server):
    server, client = dask_server
    page = chromium.new_page()
    try:
        page.goto(f"{server.url}/", timeout=30_000)
        page.wait_for_selector("[data-total='dask']", timeout=15_000)
        assert page.locator("[data-total='dask']").inner_text() == f"dask: {client.scheduler.address} (2 workers)"
    finally:
        page.close()


def test_queue_bound_and_cancel_stop_the_run_on_its_worker(dask_server):
    server, client = dask_server
    with server.client() as http:
        first = http.post("/v1/runs", json={"task": "wait 60"}).json()["run_id"]
        second = http.post("/v1/runs", json={"task": "wait 60"}).json()["run_id"]
        wait_status(http, first, ("running",))
        wait_status(http, second, ("running",))
        queued = http.post("/v1/runs", json={"task": "wait 0"}).json()["run_id"]
        refused = http.post("/v1/runs", json={"task": "one too many"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        deadline = time.monotonic() + 30
        while sum(len(keys) for keys in client.run(running_keys).values()) < 2:  # both agents started on workers
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert first_event(http, first) == "run_started"  # streamed live from the worker, mid-run
        assert http.get(f"/v1/runs/{first}").json()["status"] == "running"
        began = time.monotonic()
        assert http.post(f"/v1/runs/{first}/cancel").status_code == 200
        cancelled = wait_status(http, first, ("cancelled", "failed", "succeeded"), timeout=15)
        assert cancelled["status"] == "cancelled" and time.monotonic() - began < 10
        done = wait_status(http, queued, ("succeeded", "failed"), timeout=30)  # the freed slot took the queued run
        assert done["status"] == "succeeded"
        http.post(f"/v1/runs/{second}/cancel")
        assert wait_status(http, second, ("cancelled", "failed", "succeeded"), timeout=15)["status"] == "cancelled"
        wait_idle_workers(client)  # the agents stopped on the workers, not just their futures


def test_a_worker_killed_mid_run_fails_the_run_with_the_reason(dask_server):
    server, client = dask_server
    with server.client() as http:
        run_id = http.post("/v1/runs", json={"task": "wait 60"}).json()["run_id"]
        busy = busy_worker(client)
        victim = client.run(os.getpid, workers=[busy])[busy]
        os.kill(victim, signal.SIGKILL)
        lost = wait_status(http, run_id, ("failed", "succeeded", "cancelled"), timeout=30)
        assert lost["status"] == "failed", lost
        assert busy in lost["error"] and "died" in lost["error"] and "not run again" in lost["error"]
        assert read_sse(http, f"/v1/runs/{run_id}/events")[-1]["event"] == "run_finished"
        after = http.post("/v1/runs", json={"task": "still there", "wait": True}).json()
        assert after["status"] == "succeeded"


def test_rerun_interrupted_reruns_a_killed_workers_run_elsewhere_and_run_timeout_stops_it(dask_cluster, dask_server, tmp_path):
    cluster, client = dask_cluster
    client.wait_for_workers(2, timeout=120)  # one to kill, one to run it again (the nanny restarts the worker killed before)
    spec = dask_server[0].command[dask_server[0].command.index("--agent") + 1]
    args = ("--dask", cluster.scheduler_address, "--rerun-interrupted", "--run-timeout", "20")  # room for a rerun on a cold worker under load
    server = ServeProcess(tmp_path, agent=spec, args=args).start()
    try:
        with server.client() as http:
            run_id = http.post("/v1/runs", json={"task": "wait 5"}).json()["run_id"]  # still running when its worker is killed
            victim_address = busy_worker(client)
            victim = client.run(os.getpid, workers=[victim_address])[victim_address]
            os.kill(victim, signal.SIGKILL)
            rerun = wait_status(http, run_id, ("failed", "succeeded", "cancelled"), timeout=60)
            assert rerun["status"] == "succeeded" and rerun["attempts"] == 2, rerun
            assert rerun["output"]["pid"] != victim and rerun["worker"]["address"] != victim_address
            too_long = http.post("/v1/runs", json={"task": "wait 60"}).json()["run_id"]
            stopped = wait_status(http, too_long, ("failed", "succeeded", "cancelled"), timeout=30)
            assert stopped["status"] == "failed" and "longer than 20" in stopped["error"], stopped
            wait_idle_workers(client)  # the timeout stopped the agent on its worker too
    finally:
        server.stop()


def test_a_killed_server_leaves_no_run_behind_on_the_workers(dask_server):
    """kill -9 the server mid-run: Dask releases its task, the worker stops the orphaned agent,
    and the restarted server reports the run failed (not run twice). It restarts the shared server."""
    server, client = dask_server
    with server.client() as http:
        run_id = http.post("/v1/runs", json={"task": "wait 60"}).json()["run_id"]
        deadline = time.monotonic() + 30
        while not any(client.run(running_keys).values()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    server.kill()
    wait_idle_workers(client)
    server.start()
    with server.client() as http:
        lost = wait_status(http, run_id, ("failed", "succeeded", "cancelled"), timeout=15)
        assert lost["status"] == "failed" and "not run again" in lost["error"]


def test_dask_needs_a_spec_and_a_reachable_scheduler(tmp_path):
    env = dict(ServeProcess(tmp_path).env, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="1s")
    factory = subprocess.run([sys.executable, "-m", "smolkernel.cli", "serve", "--agent", "serve_agents:echo_agent", "--dask", "tcp://127.0.0.1:1"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert factory.returncode == 2 and "--dask needs an agent spec file" in factory.stderr
    (tmp_path / "agent.yaml").write_text("kind: toolcalling\nmodel: scripted\nmodel_options: {responses: [hi]}\n")
    nobody = subprocess.run([sys.executable, "-m", "smolkernel.cli", "serve", "--agent", str(tmp_path / "agent.yaml"),
                             "--dask", f"tcp://127.0.0.1:{free_port()}"], capture_output=True, text=True, env=env, timeout=60)
    assert nobody.returncode == 2 and "cannot reach the Dask scheduler" in nobody.stderr
