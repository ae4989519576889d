"""LiteLLMModel specifics: cost from litellm's local price map, key and id checks."""

from __future__ import annotations

import pytest

from smolkernel.exceptions import MissingAPIKeyError, UnknownModelError
from smolkernel.models import LiteLLMModel
from smolkernel.testing import LoopbackLLMServer

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_cost_for_a_known_model():
    reply = {"content": "ok", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
    async with LoopbackLLMServer([reply, reply]) as server:
        model = LiteLLMModel("openai/gpt-4o-mini", api_base=server.api_base, api_key="sk-dummy")
        message = await model.agenerate(MESSAGES)
        streamed = [d async for d in model.astream(MESSAGES)]
    assert message.token_usage.cost is not None and message.token_usage.cost > 0
    assert streamed[-1].token_usage.cost == pytest.approx(message.token_usage.cost)


async def test_no_cost_for_an_unknown_model():
    async with LoopbackLLMServer(["ok"]) as server:
        message = await LiteLLMModel("openai/loopback-model", api_base=server.api_base, api_key="x").agenerate(MESSAGES)
    assert message.token_usage.cost is None


async def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        await LiteLLMModel("openai/gpt-4o-mini").agenerate(MESSAGES)


async def test_local_server_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with LoopbackLLMServer(["ok"]) as server:
        message = await LiteLLMModel("openai/anything", api_base=server.api_base).agenerate(MESSAGES)
    assert message.content == "ok"


async def test_rejected_key_says_what_to_check():
    async with LoopbackLLMServer(faults=[401]) as server:
        with pytest.raises(Exception, match="rejected the API key") as caught:
            await LiteLLMModel("openai/x", api_base=server.api_base, api_key="bad").agenerate(MESSAGES)
    assert caught.value.status_code == 401 and not caught.value.retryable


async def test_unknown_provider_is_a_configuration_error():
    with pytest.raises(UnknownModelError, match="provider/model"):
        await LiteLLMModel("no-such-model-anywhere").agenerate(MESSAGES)


async def test_extra_kwargs_are_sent():
    async with LoopbackLLMServer(["ok"]) as server:
        await LiteLLMModel("openai/x", api_base=server.api_base, api_key="x", temperature=0.25, max_tokens=7).agenerate(MESSAGES)
    sent = server.chat_requests[0].json
    assert sent["temperature"] == 0.25 and sent["max_tokens"] == 7
