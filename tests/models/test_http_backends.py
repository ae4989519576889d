"""The three HTTP backends, each over real HTTP to a LoopbackLLMServer.

Every behaviour is checked for LiteLLMModel (``openai/`` ids), OpenAIServerModel
and InferenceClientModel alike: they share one contract.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from smolkernel.exceptions import ModelCallError
from smolkernel.models import InferenceClientModel, LiteLLMModel, Model, OpenAIServerModel
from smolkernel.testing import LoopbackLLMServer
from smolkernel.tools import tool

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is two plus three?"}]
FAST = {"retry_delay": 0.01, "max_retry_delay": 0.05}

Factory = Callable[..., Model]


def _litellm(server: LoopbackLLMServer, **options) -> Model:
    return LiteLLMModel("openai/loopback-model", api_base=server.api_base, api_key="sk-dummy", **{**FAST, **options})


def _openai(server: LoopbackLLMServer, **options) -> Model:
    return OpenAIServerModel("loopback-model", api_base=server.api_base, api_key="sk-dummy", **{**FAST, **options})


def _inference(server: LoopbackLLMServer, **options) -> Model:
    return InferenceClientModel("org/loopback-model", api_base=server.api_base, token="hf_dummy", **{**FAST, **options})


@pytest.fixture(params=[_litellm, _openai, _inference], ids=["litellm", "openai-server", "inference-client"])
def make_model(request) -> Factory:
    return request.param


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


async def test_plain_generation_and_usage(make_model):
    reply = {"content": "Five.", "usage": {"prompt_tokens": 21, "completion_tokens": 2}}
    async with LoopbackLLMServer([reply]) as server:
        message = await make_model(server).agenerate(MESSAGES)
    assert message.role == "assistant" and message.content == "Five."
    assert (message.token_usage.input_tokens, message.token_usage.output_tokens) == (21, 2)
    sent = server.chat_requests[0].json
    assert sent["messages"] == MESSAGES
    assert sent["model"].endswith("loopback-model")


async def test_api_key_is_sent(make_model):
    async with LoopbackLLMServer(["ok"]) as server:
        await make_model(server).agenerate(MESSAGES)
    assert server.chat_requests[0].headers["authorization"] in ("Bearer sk-dummy", "Bearer hf_dummy")


async def test_streaming(make_model):
    async with LoopbackLLMServer(["The answer is five."], chunk_size=3) as server:
        deltas = [delta async for delta in make_model(server).astream(MESSAGES)]
    assert "".join(d.content or "" for d in deltas) == "The answer is five."
    assert sum(1 for d in deltas if d.content) > 3, "the reply should arrive in several pieces"
    assert deltas[-1].token_usage is not None and deltas[-1].token_usage.output_tokens > 0
    assert server.chat_requests[0].json["stream"] is True
    assert server.chat_requests[0].json["stream_options"] == {"include_usage": True}


async def test_tool_calls(make_model):
    reply = {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_abc"}]}
    async with LoopbackLLMServer([reply]) as server:
        message = await make_model(server).agenerate(MESSAGES, tools=[add])
    (call,) = message.tool_calls
    assert (call.name, call.arguments, call.id) == ("add", {"a": 2, "b": 3}, "call_abc")
    sent_tools = server.chat_requests[0].json["tools"]
    assert sent_tools == [add.to_json_schema()]


async def test_streamed_tool_calls_are_assembled(make_model):
    reply = {"content": "Calling.", "tool_calls": [{"name": "add", "arguments": {"a": 20, "b": 22}}, {"name": "add", "arguments": {"a": 1, "b": 1}}]}
    async with LoopbackLLMServer([reply], chunk_size=2) as server:
        deltas = [delta async for delta in make_model(server).astream(MESSAGES, tools=[add])]
    calls = [call for d in deltas for call in d.tool_calls or []]
    assert [(c.name, c.arguments) for c in calls] == [("add", {"a": 20, "b": 22}), ("add", {"a": 1, "b": 1})]
    assert "".join(d.content or "" for d in deltas) == "Calling."


async def test_stop_sequences(make_model):
    async with LoopbackLLMServer(["Thought: add them\nObservation: 5", "Thought: again\nObservation: 5"], chunk_size=3) as server:
        model = make_model(server)
        message = await model.agenerate(MESSAGES, stop=["Observation:"])
        streamed = [d.content or "" async for d in model.astream(MESSAGES, stop=["Observation:"])]
    assert message.content == "Thought: add them\n"
    assert "".join(streamed) == "Thought: again\n"
    assert server.chat_requests[0].json["stop"] == ["Observation:"]


async def test_429_is_retried_then_succeeds(make_model):
    async with LoopbackLLMServer(["after the wait"], faults=["429"]) as server:
        message = await make_model(server).agenerate(MESSAGES)
    assert message.content == "after the wait"
    assert len(server.chat_requests) == 2


async def test_retry_after_is_honoured(make_model):
    async with LoopbackLLMServer(["warm-up", "ok"], faults=[None, "429"], retry_after=0.4) as server:
        model = make_model(server, max_retry_delay=5)
        await model.agenerate(MESSAGES)  # SDK imports and connection set-up are not timed
        started = time.monotonic()
        await model.agenerate(MESSAGES)
    assert time.monotonic() - started >= 0.4


async def test_streaming_429_is_retried(make_model):
    async with LoopbackLLMServer(["streamed"], faults=["429"]) as server:
        text = "".join([d.content or "" async for d in make_model(server).astream(MESSAGES)])
    assert text == "streamed" and len(server.chat_requests) == 2


async def test_500_retried_then_model_call_error(make_model):
    async with LoopbackLLMServer(["never served"], faults=["500"] * 3) as server:
        with pytest.raises(ModelCallError) as caught:
            await make_model(server, max_retries=2).agenerate(MESSAGES)
    assert len(server.chat_requests) == 3
    assert caught.value.status_code == 500 and caught.value.retryable
    assert "after 3 attempts" in str(caught.value) and "fault injected" in str(caught.value)


async def test_400_is_not_retried(make_model):
    async with LoopbackLLMServer(faults=[400]) as server:
        with pytest.raises(ModelCallError) as caught:
            await make_model(server).agenerate(MESSAGES)
    assert len(server.chat_requests) == 1 and caught.value.status_code == 400


async def test_hang_ends_at_the_timeout(make_model):
    async with LoopbackLLMServer(faults=["hang"], hang_seconds=30) as server:
        started = time.monotonic()
        with pytest.raises(ModelCallError, match="timed out"):
            await make_model(server, timeout=1, max_retries=0).agenerate(MESSAGES)
    assert time.monotonic() - started < 5


async def test_malformed_json_is_a_model_call_error(make_model):
    async with LoopbackLLMServer(["fine"], faults=["malformed"]) as server:
        with pytest.raises(ModelCallError, match="malformed"):
            await make_model(server).agenerate(MESSAGES)
    assert len(server.chat_requests) == 1, "a malformed reply is not retried"


async def test_malformed_stream_is_a_model_call_error(make_model):
    async with LoopbackLLMServer(["fine"], faults=["malformed"]) as server:
        with pytest.raises(ModelCallError, match="malformed"):
            [d async for d in make_model(server).astream(MESSAGES)]


async def test_connection_refused_is_a_model_call_error(make_model):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Closed:
        api_base = f"http://127.0.0.1:{port}/v1"

    with pytest.raises(ModelCallError, match="could not reach") as caught:
        await make_model(Closed, max_retries=1).agenerate(MESSAGES)
    assert "after 2 attempts" in str(caught.value)


async def test_sync_generate_inside_a_running_loop(make_model):
    async with LoopbackLLMServer(["one", "two", "three"], chunk_size=2) as server:
        model = make_model(server)
        first = await model.agenerate(MESSAGES)  # a client on this loop ...
        second = model.generate(MESSAGES)  # ... and one on smolkernel's private loop
        third = "".join(d.content or "" for d in model.stream(MESSAGES))
    assert (first.content, second.content, third) == ("one", "two", "three")


def test_sync_generate_without_a_loop(make_model):
    with LoopbackLLMServer(["plain sync"]) as server:
        assert make_model(server).generate(MESSAGES).content == "plain sync"
