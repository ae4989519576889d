"""EmbeddedStore group commits: concurrent writers share transactions, each sees its write once its call returns."""

from __future__ import annotations

import asyncio
import sqlite3

from smolkernel.serve.records import new_run
from smolkernel.serve.store_sqlite import EmbeddedStore


def test_concurrent_writes_are_committed_when_their_calls_return(tmp_path):
    async def scenario() -> tuple[list[bool], int, int]:
        store = EmbeddedStore(tmp_path)
        await store.start()
        runs = [new_run(f"task {i}", owner=None, session_id=None, variables=None, cache=None, cache_ttl=None) for i in range(200)]

        async def write(run: dict) -> bool:
            await store.put_run(run, new=True)
            await store.add_events(run["run_id"], [(1, "run_started", {"n": 1}), (2, "step_started", {"n": 2})])
            # visible to the loop's own reader connection, and to any other process, at once
            return (await store.get_run(run["run_id"]))["task"] == run["task"] and await store.last_event_id(run["run_id"]) == 2

        seen = await asyncio.gather(*(write(run) for run in runs))
        pending_close = [asyncio.ensure_future(store.put_run({**runs[0], "status": "succeeded"}))]
        await asyncio.sleep(0)
        await store.close()  # waits for the commit under way
        await asyncio.gather(*pending_close)
        db = sqlite3.connect(tmp_path / "smolkernel-serve.sqlite3")
        counts = db.execute("select count(*) from runs").fetchone()[0], db.execute("select count(*) from runs where status = 'succeeded'").fetchone()[0]
        db.close()
        return seen, *counts

    seen, stored, succeeded = asyncio.run(scenario())
    assert all(seen) and stored == 200 and succeeded == 1


def test_run_ids_are_uuid7_and_grow_with_time():
    import time
    import uuid

    from smolkernel.serve.records import new_run_id

    first = new_run_id()
    time.sleep(0.002)
    later = [new_run_id() for _ in range(1000)]
    parsed = uuid.UUID(first)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and len(first) == 32
    assert abs((parsed.int >> 80) - time.time() * 1000) < 5_000  # its first 48 bits are the time in ms
    assert all(first < other for other in later) and len(set(later)) == 1000


def test_the_wal_starts_over_under_a_steady_stream_of_writes(tmp_path):
    """Checkpoints complete between the loop's writes, so the WAL file is reused instead of growing with every write."""

    async def scenario() -> int:
        store = EmbeddedStore(tmp_path)
        await store.start()
        try:
            for _ in range(60):  # 60 loop passes of 100 runs' writes, as a busy server makes (about 35 MiB of WAL frames)
                runs = [new_run("x" * 800, owner=None, session_id=None, variables=None, cache=None, cache_ttl=None) for _ in range(100)]
                await asyncio.gather(*(store.put_run(run, new=True, events=[(1, "run_started", {"task": run["task"]})]) for run in runs))
                for run in runs:
                    run["status"] = "succeeded"
                await asyncio.gather(*(store.put_run(run, events=[(2, "run_finished", {"output": "y" * 800})]) for run in runs))
            return (tmp_path / "smolkernel-serve.sqlite3-wal").stat().st_size
        finally:
            await store.close()

    wal = asyncio.run(scenario())
    assert wal < 8 * 2**20, f"the WAL grew to {wal / 2**20:.1f} MiB"  # a checkpoint every 1000 pages (4 MiB) lets it start over
