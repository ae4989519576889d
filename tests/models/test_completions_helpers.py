"""Stop cutting and stream assembly, shared by every backend."""

from __future__ import annotations

from smolkernel.models._completions import StopCutter, StreamAssembler
from smolkernel.models._retry import RetryPolicy


def feed_all(cutter: StopCutter, pieces: list[str]) -> str:
    return "".join(cutter.feed(p) for p in pieces) + cutter.flush()


def test_stop_cutter_across_pieces():
    assert feed_all(StopCutter(["Observation:"]), ["Thought: a\nObs", "erva", "tion: 5"]) == "Thought: a\n"


def test_stop_cutter_releases_false_alarms():
    assert feed_all(StopCutter(["<end>"]), ["a <", "e", "nd? no <en"]) == "a <end? no <en"


def test_stop_cutter_without_stop():
    assert feed_all(StopCutter(None), ["a", "b"]) == "ab"


def test_assembler_dict_chunks():
    assembler = StreamAssembler()
    chunks = [
        {"choices": [{"delta": {"content": "Hi"}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"x"'}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ]
    deltas = [assembler.feed(c) for c in chunks]
    last = assembler.finish()
    assert deltas[0].content == "Hi" and deltas[1:] == [None, None, None]
    assert last.tool_calls[0].arguments == {"x": 1} and last.token_usage.output_tokens == 4


def test_backoff_doubles_and_honours_retry_after():
    policy = RetryPolicy(max_retries=5, base_delay=0.5, max_delay=3)
    assert [policy.delay(n) for n in range(4)] == [0.5, 1.0, 2.0, 3]
    assert policy.delay(0, retry_after=2) == 2 and policy.delay(0, retry_after=60) == 3
