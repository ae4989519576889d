"""RunPool: a worker held for a run saved as running is not given to another run."""

from __future__ import annotations

import asyncio

import pytest

from smolkernel.exceptions import QueueFull
from smolkernel.serve.pool import RunPool


def test_held_workers_count_against_concurrency_and_the_queue():
    async def scenario() -> list[str]:
        started: list[str] = []
        release = asyncio.Event()

        async def execute(run_id: str) -> None:
            started.append(run_id)
            await release.wait()

        pool = RunPool(execute, concurrency=2, queue_size=1)
        pool.start()
        assert pool.reserve_worker() and pool.reserve_worker()
        assert not pool.reserve_worker()  # both workers are held
        pool.submit("a", reserved=True)
        pool.submit("queued")  # the one queue place
        with pytest.raises(QueueFull):
            pool.submit("refused")  # the held worker still counts
        pool.release_worker()  # its run was not saved after all
        await asyncio.sleep(0.05)
        assert not pool.reserve_worker()  # "queued" took the freed worker
        release.set()
        await pool.stop()
        return started

    assert asyncio.run(scenario()) == ["a", "queued"]
