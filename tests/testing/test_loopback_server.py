"""LoopbackLLMServer over raw HTTP (urllib), the way any client sees it."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from smolkernel.testing import LoopbackLLMServer, ScriptedModel

MESSAGES = [{"role": "user", "content": "hello there"}]


def post(server: LoopbackLLMServer, body: dict, timeout: float = 5) -> tuple[int, dict, str]:
    request = urllib.request.Request(
        server.api_base + "/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json", "X-Test": "yes"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def events(text: str) -> list:
    lines = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


def test_exports():
    import smolkernel.testing as testing

    assert set(testing.__all__) == {"ScriptedModel", "LoopbackLLMServer", "HubStandIn"}
    assert testing.ScriptedModel is ScriptedModel and testing.LoopbackLLMServer is LoopbackLLMServer


def test_scripted_replies_in_order_with_usage():
    with LoopbackLLMServer(["first", {"content": "second", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}]) as server:
        _, _, one = post(server, {"messages": MESSAGES})
        _, _, two = post(server, {"messages": MESSAGES})
    first, second = json.loads(one), json.loads(two)
    assert first["choices"][0]["message"] == {"role": "assistant", "content": "first"}
    assert first["usage"]["prompt_tokens"] == len("hello there") // 4
    assert second["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def test_records_body_and_headers():
    with LoopbackLLMServer(["ok"]) as server:
        post(server, {"messages": MESSAGES, "temperature": 0.5})
    (recorded,) = server.chat_requests
    assert recorded.json["temperature"] == 0.5
    assert recorded.messages == MESSAGES
    assert recorded.headers["x-test"] == "yes"


def test_echo_without_replies_and_function_replies():
    with LoopbackLLMServer() as server:
        _, _, text = post(server, {"messages": MESSAGES})
    assert json.loads(text)["choices"][0]["message"]["content"] == "echo: hello there"
    with LoopbackLLMServer(lambda body: f"{len(body['messages'])} messages") as server:
        _, _, text = post(server, {"messages": MESSAGES * 3})
    assert json.loads(text)["choices"][0]["message"]["content"] == "3 messages"


def test_stop_sequences_are_honoured():
    with LoopbackLLMServer(["Thought: x\nObservation: y"]) as server:
        _, _, text = post(server, {"messages": MESSAGES, "stop": ["Observation:"]})
    assert json.loads(text)["choices"][0]["message"]["content"] == "Thought: x\n"


def test_tool_calls_plain_and_streamed():
    reply = {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}, "id": "c1"}]}
    with LoopbackLLMServer([reply, reply], chunk_size=3) as server:
        _, _, plain = post(server, {"messages": MESSAGES})
        _, _, streamed = post(server, {"messages": MESSAGES, "stream": True})
    choice = json.loads(plain)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}]
    chunks = events(streamed)
    fragments = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[:-1] if c["choices"][0]["delta"].get("tool_calls")]
    assert fragments[0]["function"]["name"] == "add" and fragments[0]["id"] == "c1"
    assert "".join(f["function"]["arguments"] for f in fragments) == '{"a": 1, "b": 2}'


def test_stream_chunks_usage_and_done():
    with LoopbackLLMServer(["abcdefghij"], chunk_size=4) as server:
        status, headers, text = post(server, {"messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}})
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    chunks = events(text)
    assert chunks[-1] == "[DONE]"
    assert chunks[-2]["choices"] == [] and chunks[-2]["usage"]["completion_tokens"] == 2
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-2]) == "abcdefghij"


def test_models_endpoint():
    with LoopbackLLMServer(model_id="tiny") as server:
        with urllib.request.urlopen(server.api_base + "/models", timeout=5) as response:
            data = json.loads(response.read())
    assert data["data"][0]["id"] == "tiny"
    assert server.requests[0].method == "GET"


def test_faults_in_order():
    with LoopbackLLMServer(["ok"], faults=["429", 500, None], retry_after=2) as server:
        status_429, headers, body = post(server, {"messages": MESSAGES})
        status_500, _, _ = post(server, {"messages": MESSAGES})
        status_ok, _, _ = post(server, {"messages": MESSAGES})
    assert (status_429, status_500, status_ok) == (429, 500, 200)
    assert headers["Retry-After"] == "2"
    assert "Rate limit" in json.loads(body)["error"]["message"]
    assert [r.fault for r in server.requests] == ["429", 500, None]


def test_malformed_fault_is_not_json():
    with LoopbackLLMServer(["ok"], faults=["malformed"]) as server:
        status, _, text = post(server, {"messages": MESSAGES})
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(text)


def test_exhausted_script_is_a_clear_400():
    with LoopbackLLMServer(["only"]) as server:
        post(server, {"messages": MESSAGES})
        status, _, body = post(server, {"messages": MESSAGES})
    assert status == 400 and "no scripted reply left" in body


def test_unknown_fault_is_rejected():
    with pytest.raises(ValueError, match="unknown fault"):
        LoopbackLLMServer(faults=["explode"])


def test_hang_does_not_block_close():
    server = LoopbackLLMServer(faults=["hang"], hang_seconds=60).start()
    client = threading.Thread(target=lambda: _quietly(post, server, {"messages": MESSAGES}, 30), daemon=True)
    client.start()
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2
    client.join(timeout=5)
    assert not client.is_alive()


def test_latency_delays_the_reply():
    with LoopbackLLMServer(["ok"], latency=0.3) as server:
        started = time.monotonic()
        post(server, {"messages": MESSAGES})
    assert time.monotonic() - started >= 0.3


def test_requests_record_when_they_came_and_were_answered():
    with LoopbackLLMServer(["ok"], latency=0.2, faults=[None, "hang"], hang_seconds=0.1) as server:
        before = time.time()
        post(server, {"messages": MESSAGES})
        after = time.time()
        with pytest.raises(OSError):  # the hang ends with the connection closed, unanswered
            post(server, {"messages": MESSAGES}, timeout=2)
    answered, hung = server.chat_requests
    assert before <= answered.received <= answered.answered <= after
    assert 0.2 <= answered.seconds <= after - before
    assert hung.received >= after and hung.answered is None and hung.seconds is None


async def test_async_context_manager():
    async with LoopbackLLMServer(["ok"]) as server:
        assert server.api_base.startswith("http://127.0.0.1:") and server.api_base.endswith("/v1")
    with pytest.raises(RuntimeError, match="not running"):
        server.url


def _quietly(function, *args):
    try:
        function(*args)
    except OSError:
        pass
