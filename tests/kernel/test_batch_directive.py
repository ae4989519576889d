"""``%%batch --over VAR`` in a running SmolKernel: items from the workspace or the host, a DataFrame back."""

from __future__ import annotations

import pytest
from harness import start_kernel

from smolkernel.testing import LoopbackLLMServer


def measure_reply(body: dict) -> str:
    task = next(m["content"] for m in body["messages"] if m["role"] == "user" and m["content"].startswith("New task:"))
    word = task.split()[-1]
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return f"```python\nn = len({word!r})\n```"
    return "```python\nfinal_answer(n)\n```"


@pytest.fixture(scope="module")
def batch_kernel():
    with LoopbackLLMServer(measure_reply) as server:
        driver = start_kernel()
        try:
            for cell in (f"%model openai-server:loopback --api-base {server.api_base}", "%executor local"):
                run = driver.execute(cell, timeout=90)
                assert run.status == "ok", run.text()
            yield driver, server
        finally:
            driver.shutdown()


def test_batch_over_a_workspace_list(batch_kernel):
    kernel, _ = batch_kernel
    assert kernel.execute('%%python\nwords = ["ab", "abcd", "abcdefg"]').status == "ok"
    run = kernel.execute("%%batch --over words --out res --concurrency 2\nMeasure the word {item}", timeout=120)
    assert run.status == "ok", run.text()
    assert "3 tasks: 3 succeeded, 0 failed" in run.stdout
    table = run.result["data"]
    assert "<table" in table["text/html"]
    assert [line.split()[1] for line in table["text/plain"].splitlines()[2:5]] == ["ab", "abcd", "abcdefg"]
    views = [c["data"].get("text/plain", "") for t, c in run.outputs if t in ("display_data", "update_display_data")]
    assert "3/3 (3 done, 0 failed)" in views[-1]  # the BatchView's final snapshot


def test_batch_over_a_host_dataframe_fills_columns(batch_kernel):
    kernel, _ = batch_kernel
    kernel.execute('%%tool\nimport pandas as pd\ntickets = pd.DataFrame({"id": [1, 2], "text": ["xyz", "hello"]})')
    run = kernel.execute("%%batch --over tickets\nTicket {id}: measure {text}", timeout=120)
    assert run.status == "ok", run.text()
    assert "2 tasks: 2 succeeded" in run.stdout
    check = kernel.execute('%%tool\nprint("host has res:", "res" in globals())')
    assert "host has res: True" in check.stdout  # from the previous test's --out


def test_batch_errors_are_short_and_run_nothing(batch_kernel):
    kernel, server = batch_kernel
    before = len(server.chat_requests)
    missing = kernel.execute("%%batch --over nothing_here\nMeasure {item}")
    assert missing.status == "error" and "no variable 'nothing_here'" in missing.reply["evalue"]
    no_over = kernel.execute("%%batch\nMeasure {item}")
    assert no_over.status == "error" and "--over" in no_over.reply["evalue"]
    bad_field = kernel.execute("%%batch --over words\nMeasure {nope}")
    assert bad_field.status == "error" and "'nope'" in bad_field.reply["evalue"]
    assert len(server.chat_requests) == before
