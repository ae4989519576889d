"""OpenAIServerModel specifics: keys, per-loop clients, request parameters."""

from __future__ import annotations

import asyncio
import threading

import pytest

from smolkernel.exceptions import MissingAPIKeyError
from smolkernel.models import OpenAIServerModel
from smolkernel.testing import LoopbackLLMServer

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_local_server_gets_a_placeholder_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with LoopbackLLMServer(["ok"]) as server:
        await OpenAIServerModel("m", api_base=server.api_base).agenerate(MESSAGES)
    assert server.chat_requests[0].headers["authorization"] == "Bearer not-needed"


async def test_key_from_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    async with LoopbackLLMServer(["ok"]) as server:
        await OpenAIServerModel("m", api_base=server.api_base).agenerate(MESSAGES)
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-from-env"


async def test_missing_key_for_a_remote_server(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        await OpenAIServerModel("gpt-4o-mini").agenerate(MESSAGES)


async def test_kwargs_and_client_kwargs_are_sent():
    async with LoopbackLLMServer(["ok"]) as server:
        model = OpenAIServerModel("m", api_base=server.api_base, api_key="k", temperature=0.0, client_kwargs={"default_headers": {"X-Team": "a"}})
        await model.agenerate(MESSAGES)
        await model.aclose()
    recorded = server.chat_requests[0]
    assert recorded.json["temperature"] == 0.0 and recorded.headers["x-team"] == "a"


def test_one_model_serves_several_event_loops():
    """The same model used from two threads' loops, one after the other and at once."""
    with LoopbackLLMServer(lambda body: "ok") as server:
        model = OpenAIServerModel("m", api_base=server.api_base, api_key="k")
        assert asyncio.run(model.agenerate(MESSAGES)).content == "ok"
        assert asyncio.run(model.agenerate(MESSAGES)).content == "ok"  # first loop is closed now
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(asyncio.run(model.agenerate(MESSAGES)).content)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert results == ["ok"] * 3
