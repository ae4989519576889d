"""Redis: two server processes share runs, events and sessions; keys keep runs apart; Redis going away."""

from __future__ import annotations

import time

import httpx
import needs
import pytest
from serve_process import RedisProcess, ServeProcess, read_sse, wait_status

pytestmark = pytest.mark.slow

KEYS = "key-alice,key-bob"


@pytest.fixture(scope="module")
def replicas(redis_server, tmp_path_factory):
    """Two servers on one Redis, both needing a key."""
    tmp = tmp_path_factory.mktemp("replicas")
    beat = ("--heartbeat", "0.5")  # gone after 2.5 s without a beat, so the take-over test is quick
    first = ServeProcess(tmp, redis_url=redis_server.url, keys=KEYS, args=beat)
    second = ServeProcess(tmp, redis_url=redis_server.url, keys=KEYS, args=beat)
    first.launch(), second.launch()
    first.wait_ready(), second.wait_ready()
    yield first, second
    first.stop()
    second.stop()


def test_a_run_started_on_one_replica_is_read_streamed_and_cancelled_through_the_other(replicas):
    one, two = replicas
    with one.client("key-alice") as a1, two.client("key-alice") as a2:
        done = a1.post("/v1/runs", json={"task": "wait 0.2"}).json()["run_id"]
        events = read_sse(a2, f"/v1/runs/{done}/events")
        assert events[-1]["event"] == "run_finished" and events[-1]["data"]["output"] == "WAIT 0.2 (remembered 0)"
        assert a2.get(f"/v1/runs/{done}").json()["status"] == "succeeded"
        resumed = read_sse(a1, f"/v1/runs/{done}/events", last_event_id=2)
        assert resumed == events[2:]

        long = a1.post("/v1/runs", json={"task": "wait 30"}).json()["run_id"]
        wait_status(a2, long, ("running",))
        began = time.monotonic()
        cancelled = a2.post(f"/v1/runs/{long}/cancel").json()
        assert cancelled["status"] == "cancelled" and time.monotonic() - began < 15  # well before the 30 s run could end
        assert a1.get(f"/v1/runs/{long}").json()["status"] == "cancelled"


def test_sessions_span_replicas(replicas):
    one, two = replicas
    with one.client("key-alice") as a1, two.client("key-alice") as a2:
        a1.post("/v1/runs", json={"task": "here", "session_id": "shared", "wait": True})
        there = a2.post("/v1/runs", json={"task": "there", "session_id": "shared", "wait": True}).json()
        assert there["output"] == "THERE (remembered 1)"
        assert len(a1.get("/v1/sessions/shared").json()["runs"]) == 2


def test_result_cache_is_shared(replicas):
    one, two = replicas
    task = f"cached across {time.time()}"
    with one.client("key-alice") as a1, two.client("key-bob") as b2:
        first = a1.post("/v1/runs", json={"task": task, "cache": True, "wait": True}).json()
        hit = b2.post("/v1/runs", json={"task": task, "cache": True}).json()
        assert hit["cached"] is True and hit["output"] == first["output"]


def test_keys_are_required_and_runs_are_private(replicas):
    one, two = replicas
    assert httpx.post(f"{one.url}/v1/runs", json={"task": "x"}).status_code == 401
    wrong = httpx.get(f"{one.url}/v1/status", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{one.url}/metrics").status_code == 401
    assert httpx.get(f"{one.url}/healthz").json()["store"] == "redis"
    with one.client("key-alice") as alice, two.client("key-bob") as bob:
        run_id = alice.post("/v1/runs", json={"task": "mine", "session_id": "alice-only", "wait": True}).json()["run_id"]
        assert bob.get(f"/v1/runs/{run_id}").status_code == 404
        assert bob.post(f"/v1/runs/{run_id}/cancel").status_code == 404
        assert bob.get(f"/v1/runs/{run_id}/events").status_code == 404
        assert bob.get("/v1/sessions/alice-only").status_code == 404
        assert bob.post("/v1/runs", json={"task": "x", "session_id": "alice-only"}).status_code == 404
        assert run_id not in [r["run_id"] for r in bob.get("/v1/status").json()["recent"]]
        assert run_id in [r["run_id"] for r in alice.get("/v1/status").json()["recent"]]
        # EventSource cannot send headers: the key may come as ?access_token=
        assert httpx.get(f"{one.url}/v1/runs/{run_id}/events?access_token=key-alice", timeout=10).status_code == 200


def test_a_killed_replicas_running_run_is_failed_by_the_survivor(replicas):
    """kill -9 of one replica: the other sees its heartbeat stop and ends its run with the reason (runs last: it kills one)."""
    one, two = replicas
    with one.client("key-alice") as a1, two.client("key-alice") as a2:
        run_id = a1.post("/v1/runs", json={"task": "wait 60"}).json()["run_id"]
        wait_status(a2, run_id, ("running",))
        one.kill()
        run = wait_status(a2, run_id, ("failed", "succeeded", "cancelled"), timeout=30)
        assert run["status"] == "failed" and "stopped" in run["error"]
        assert read_sse(a2, f"/v1/runs/{run_id}/events")[-1]["event"] == "run_finished"


def test_redis_going_away_answers_503_and_the_run_survives(tmp_path):
    """Redis stops while a run is in flight: requests get 503; once Redis is back the run finishes, nothing lost."""
    redis = RedisProcess(needs.require_command("redis-server", "redis-server"), tmp_path / "redis").start()
    server = ServeProcess(tmp_path, redis_url=redis.url).start()
    try:
        with server.client() as http:
            run_id = http.post("/v1/runs", json={"task": "wait 2"}).json()["run_id"]
            wait_status(http, run_id, ("running",))
            redis.stop()
            refused = http.post("/v1/runs", json={"task": "while down"})
            assert refused.status_code == 503 and "cannot be reached" in refused.json()["detail"]
            assert refused.headers["retry-after"]
            assert http.get(f"/v1/runs/{run_id}").status_code == 503
            assert http.get("/healthz").status_code == 503
            time.sleep(2.5)  # the run finishes while Redis is away
            redis = RedisProcess(redis.command, redis.folder, redis.port).start()  # same port, same data
            run = wait_status(http, run_id, ("succeeded", "failed"), timeout=30)
            assert run["status"] == "succeeded" and run["output"] == "WAIT 2 (remembered 0)"
            events = read_sse(http, f"/v1/runs/{run_id}/events")
            assert [e["id"] for e in events] == list(range(1, len(events) + 1)) and events[-1]["event"] == "run_finished"
            assert http.post("/v1/runs", json={"task": "after", "wait": True}).json()["status"] == "succeeded"
            assert http.get("/healthz").status_code == 200
    finally:
        server.stop()
        redis.stop()


def test_writes_sent_again_after_a_lost_reply_change_nothing(redis_server):
    """Redis writes are pipelined without MULTI/EXEC, so a retried write must be harmless: its events are not added twice."""
    import asyncio

    from smolkernel.serve.records import new_run
    from smolkernel.serve.store_redis import RedisStore

    async def scenario():
        store = RedisStore(redis_server.url, prefix=f"retry-{time.time_ns()}:")
        await store.start()
        try:
            run = new_run("twice", owner="o", session_id=None, variables=None, cache=None, cache_ttl=None)
            events = [(1, "run_started", {"n": 1}), (2, "step_started", {"n": 2})]
            for _ in range(2):  # the first try's reply "lost": the same write again
                await store.put_run(run, new=True)
                await store.add_events(run["run_id"], events)
            run["status"] = "succeeded"
            for _ in range(2):
                await store.put_run(run, events=[(3, "run_finished", {"n": 3})])
            return await store.read_events(run["run_id"], 0, 0), await store.recent_runs("o"), await store.active_runs()
        finally:
            await store.close()

    stream, recent, active = asyncio.run(scenario())
    assert [(number, kind) for number, kind, _ in stream] == [(1, "run_started"), (2, "step_started"), (3, "run_finished")]
    assert [r["task"] for r in recent] == ["twice"] and recent[0]["status"] == "succeeded"
    assert active == []


def test_commands_are_packed_by_hiredis_into_the_same_bytes():
    """The store's connections pack commands with hiredis (C); the bytes must be those redis-py's Python packer makes."""
    import asyncio

    import redis.asyncio as aioredis

    from smolkernel.serve.store_redis import SAVE_RUN, RedisStore, _hiredis_packing

    fast, plain = _hiredis_packing(aioredis.Connection)(), aioredis.Connection()
    commands = [
        ("SET", "run:1", '{"task": "caf\u00e9"}', "EX", 604800),
        ("EVAL", SAVE_RUN, 4, "a", "b", "c", "d", "1", "x" * 7000, 0),  # an argument past redis-py's buffer cutoff
        ("CLIENT SETNAME", "smolkernel"),  # a command name of two words
        ("XADD", b"events:1", b"3-1", "type", "run_finished", "data", b"\x00\xff"),
    ]
    for command in commands:
        assert b"".join(fast.pack_command(*command)) == b"".join(plain.pack_command(*command))
    assert type(fast).__name__ == "HiredisPackingConnection"

    async def pool_class():
        store = RedisStore("redis://127.0.0.1:1/0")  # nothing listens there: start() does not connect
        await store.start()
        try:
            return store.r.connection_pool.connection_class
        finally:
            await store.close()

    used = asyncio.run(pool_class())
    assert issubclass(used, aioredis.Connection) and used.__name__ == "HiredisPackingConnection"
