"""InferenceClientModel specifics: the token check and request parameters."""

from __future__ import annotations

import pytest

from smolkernel.exceptions import MissingAPIKeyError
from smolkernel.models import InferenceClientModel
from smolkernel.testing import LoopbackLLMServer

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_missing_token_without_api_base(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)  # ignore a token saved on this machine
    with pytest.raises(MissingAPIKeyError, match="HF_TOKEN"):
        await InferenceClientModel("Qwen/Qwen2.5-Coder-32B-Instruct").agenerate(MESSAGES)


async def test_kwargs_reach_the_server():
    async with LoopbackLLMServer(["ok"]) as server:
        model = InferenceClientModel("org/m", api_base=server.api_base, token="hf_x", temperature=0.5, max_tokens=9)
        assert (await model.agenerate(MESSAGES)).content == "ok"
    sent = server.chat_requests[0].json
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("org/m", 0.5, 9)
