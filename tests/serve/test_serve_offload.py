"""QuickCalls: a blocking call moves into the event loop only after it has proven quick."""

from __future__ import annotations

import asyncio
import threading
import time

from smolkernel.serve.offload import QuickCalls


def test_a_quick_function_runs_inline_after_its_proof_and_a_slow_one_goes_back_to_threads():
    async def scenario() -> list[bool]:
        calls = QuickCalls(limit=0.01, proof=3)
        loop_thread = threading.get_ident()
        delay = 0.0

        def work() -> bool:
            time.sleep(delay)
            return threading.get_ident() == loop_thread

        seen = [await calls("build", work) for _ in range(5)]
        delay = 0.05  # turns slow: this call still runs inline, the next ones in threads again
        seen += [await calls("build", work) for _ in range(2)]
        return seen

    assert asyncio.run(scenario()) == [False, False, False, True, True, True, False]


def test_a_slow_function_never_runs_inline_and_errors_reach_the_caller():
    async def scenario() -> tuple[list[bool], str]:
        calls = QuickCalls(limit=0.001, proof=2)
        loop_thread = threading.get_ident()

        def slow() -> bool:
            time.sleep(0.01)
            return threading.get_ident() == loop_thread

        def broken() -> None:
            raise ValueError("no agent today")

        seen = [await calls("build", slow) for _ in range(4)]
        try:
            await calls("close", broken)
        except ValueError as exc:
            return seen, str(exc)
        return seen, ""

    assert asyncio.run(scenario()) == ([False] * 4, "no agent today")
