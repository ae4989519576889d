"""The Dask backend on a real LocalCluster with worker processes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from batch_helpers import loopback_spec, two_step_reply

from smolkernel.batch import run_batch
from smolkernel.testing import LoopbackLLMServer

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=8, processes=True, dashboard_address=None, silence_logs=50) as running:
        with distributed.Client(running) as client:
            yield running, client


def test_tasks_run_on_the_workers_and_stream_to_the_file(cluster, tmp_path):
    """Concurrency 20 sends the inputs in pairs (chunk_size), each pair run concurrently on a worker."""
    _, client = cluster
    out = tmp_path / "r.jsonl"
    with LoopbackLLMServer(two_step_reply, latency=0.05) as server:
        result = run_batch(loopback_spec(server), [f"task {i}" for i in range(16)], backend=client, concurrency=20, results=out, progress=False)
    assert result.succeeded == 16
    assert result.outputs == [len(f"task {i}") for i in range(16)]
    assert sorted(json.loads(line)["index"] for line in out.read_text().splitlines()) == list(range(16))


def test_a_scheduler_address_works_too(cluster):
    running, _ = cluster
    with LoopbackLLMServer(two_step_reply) as server:
        result = run_batch(loopback_spec(server), ["ab", "abc"], backend=running.scheduler_address, progress=False)
    assert result.outputs == [2, 3]


def test_a_killed_worker_loses_no_input(cluster, tmp_path):
    """SIGKILL one worker process while tasks are in flight: the scheduler reruns its
    tasks on the other worker and every input ends in the file exactly once."""
    _, client = cluster
    out = tmp_path / "r.jsonl"
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))

    def kill_when_started() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists() and len(out.read_bytes().splitlines()) >= 3:
                os.kill(victim, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_started, daemon=True)
    with LoopbackLLMServer(two_step_reply, latency=0.2) as server:
        killer.start()
        result = run_batch(loopback_spec(server), [f"task {i}" for i in range(24)], backend=client, concurrency=8, results=out, progress=False)
    killer.join(5)
    assert victim not in client.run(os.getpid).values()  # it really died (the nanny started a new one)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(24))
    assert result.succeeded == 24
