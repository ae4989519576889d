"""complete() and inspect() always answer with a reply, never None."""

from __future__ import annotations

from smolkernel.executors import KernelExecutor


async def test_requests_to_a_stopped_workspace_say_why() -> None:
    executor = KernelExecutor()  # never started
    completed = await executor.complete("pri", 3)
    inspected = await executor.inspect("print", 3)
    assert completed["matches"] == [] and completed["status"] == "error" and "not running" in completed["evalue"]
    assert inspected["found"] is False and "not running" in inspected["evalue"]


async def test_first_completion_answers_within_the_default_timeout() -> None:
    """The first completion used to wait for jedi's import and index (22 s on a loaded machine)."""
    executor = KernelExecutor()
    await executor.start()
    try:
        await executor.run("workspace_only_name = 12")
        completed = await executor.complete("workspace_only_na", 17)
        assert completed["status"] == "ok", completed
        assert completed["matches"] == ["workspace_only_name"]
    finally:
        await executor.close()
