"""``%%agent --over VAR --out RESULTS``: one cell, a task per item, a DataFrame of results."""

from __future__ import annotations

import pandas as pd
from magic_helpers import run


def measure_reply(body: dict) -> str:
    """Step 1 stores the task's last word's length; step 2 answers it."""
    task = next(m["content"] for m in body["messages"] if m["role"] == "user" and m["content"].startswith("New task:"))
    word = task.split()[-1]
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return f"```python\nn = len({word!r})\n```"
    return "```python\nfinal_answer(n)\n```"


def test_over_a_list_gives_a_dataframe(shell, loopback):
    server = loopback(measure_reply)
    assert run(shell, f"%agent config model=openai-server:loopback api_base={server.api_base}").success
    shell.user_ns["words"] = ["ab", "abcd", "abcdefg"]
    result = run(shell, "%%agent --over words --out res --concurrency 2\nMeasure the word {item}")
    assert result.success, result.error_in_exec
    frame = shell.user_ns["res"]
    assert isinstance(frame, pd.DataFrame) and result.result is frame
    assert list(frame["output"]) == [2, 4, 7] and frame["success"].all()
    assert list(frame["input"]) == ["ab", "abcd", "abcdefg"]


def test_over_a_dataframe_fills_columns(shell, loopback):
    server = loopback(measure_reply)
    assert run(shell, f"%agent config model=openai-server:loopback api_base={server.api_base}").success
    shell.user_ns["tickets"] = pd.DataFrame({"id": [1, 2], "text": ["xyz", "hello"]})
    result = run(shell, "%%agent --over tickets --out res\nTicket {id}: measure {text}")
    assert result.success, result.error_in_exec
    assert list(shell.user_ns["res"]["output"]) == [3, 5]
    assert shell.user_ns["res"]["input"][0] == {"id": 1, "text": "xyz"}


def test_over_an_unknown_variable_or_field_is_a_usage_error(shell, loopback):
    server = loopback(measure_reply)
    assert run(shell, f"%agent config model=openai-server:loopback api_base={server.api_base}").success
    missing = run(shell, "%%agent --over nothing_here\nMeasure {item}")
    assert not missing.success and "no variable 'nothing_here'" in str(missing.error_in_exec)
    shell.user_ns["rows"] = [{"a": 1}]
    bad = run(shell, "%%agent --over rows\nMeasure {b}")
    assert not bad.success and "'b'" in str(bad.error_in_exec)
    assert server.chat_requests == []
