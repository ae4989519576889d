"""ModelLimiter's per-minute caps (the window shortened to 0.3 s so the test is quick)."""

from __future__ import annotations

import asyncio
import time

import pytest

from smolkernel.batch import ModelLimiter
from smolkernel.batch import limiter as limiter_module


@pytest.fixture(autouse=True)
def short_window(monkeypatch):
    monkeypatch.setattr(limiter_module, "WINDOW", 0.3)


async def _starts(limiter: ModelLimiter, calls: int, tokens: int = 0) -> list[float]:
    began = time.monotonic()
    starts = []

    async def call() -> None:
        async with limiter.slot("m"):
            starts.append(time.monotonic() - began)
        limiter.record("m", tokens, 0)

    await asyncio.gather(*(call() for _ in range(calls)))
    return sorted(starts)


async def test_requests_per_minute_holds_back_the_third_call_for_a_window():
    starts = await _starts(ModelLimiter(requests_per_minute=2), 4)
    assert starts[1] < 0.2 and starts[2] >= 0.29 and starts[3] >= 0.29


async def test_tokens_per_minute_waits_once_the_window_is_spent():
    limiter = ModelLimiter(tokens_per_minute=100, max_concurrent=1)
    starts = await _starts(limiter, 3, tokens=100)
    assert starts[0] < 0.2 and starts[1] >= 0.29


async def test_a_pause_delays_every_call_of_that_model_only():
    limiter = ModelLimiter()
    limiter.pause("m", 0.3)
    began = time.monotonic()
    async with limiter.slot("other"):
        assert time.monotonic() - began < 0.2
    async with limiter.slot("m"):
        assert time.monotonic() - began >= 0.29
    assert limiter.pauses == 1


def test_bad_caps_are_refused():
    with pytest.raises(ValueError, match="requests_per_minute"):
        ModelLimiter(requests_per_minute=0)
