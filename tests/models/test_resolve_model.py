"""resolve_model: every accepted spec form, and the errors for the rest."""

from __future__ import annotations

import json

import pytest

from smolkernel.exceptions import ConfigurationError, MissingAPIKeyError, UnknownModelError
from smolkernel.models import (
    InferenceClientModel,
    LiteLLMModel,
    OpenAIServerModel,
    ScriptedModel,
    TransformersModel,
    resolve_model,
)
from smolkernel.testing import LoopbackLLMServer


def test_litellm_ids():
    model = resolve_model("openai/gpt-4o-mini", api_base="http://localhost:4000/v1", timeout=5)
    assert isinstance(model, LiteLLMModel)
    assert (model.model_id, model.api_base, model.timeout) == ("openai/gpt-4o-mini", "http://localhost:4000/v1", 5)
    assert isinstance(resolve_model("ollama/llama3.1:8b"), LiteLLMModel)
    assert isinstance(resolve_model("bedrock/anthropic.claude-3-sonnet-20240229-v1:0"), LiteLLMModel)
    assert isinstance(resolve_model("gpt-4o"), LiteLLMModel)


def test_hf_transformers_openai_server():
    hf = resolve_model("hf:Qwen/Qwen2.5-Coder-32B-Instruct")
    assert isinstance(hf, InferenceClientModel) and hf.model_id == "Qwen/Qwen2.5-Coder-32B-Instruct"
    local = resolve_model("transformers:/models/tiny", api_base="http://ignored", max_new_tokens=8)
    assert isinstance(local, TransformersModel) and local.model_id == "/models/tiny" and local.max_new_tokens == 8
    server = resolve_model("openai-server:qwen2.5", api_base="http://127.0.0.1:8000/v1")
    assert isinstance(server, OpenAIServerModel) and server.api_base == "http://127.0.0.1:8000/v1"


def test_scripted_file(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(["one", "two"]))
    model = resolve_model(f"scripted:{path}")
    assert isinstance(model, ScriptedModel) and model.generate([{"role": "user", "content": "x"}]).content == "one"


def test_model_instance_passes_through():
    model = ScriptedModel(["x"])
    assert resolve_model(model) is model


def test_default_from_environment(monkeypatch):
    monkeypatch.setenv("SMOLKERNEL_MODEL", "hf:org/name")
    assert isinstance(resolve_model(None), InferenceClientModel)
    assert isinstance(resolve_model(""), InferenceClientModel)


def test_no_model_at_all(monkeypatch):
    monkeypatch.delenv("SMOLKERNEL_MODEL", raising=False)
    with pytest.raises(ConfigurationError, match="SMOLKERNEL_MODEL"):
        resolve_model(None)


def test_api_key_env(monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-secret")
    assert resolve_model("openai/gpt-4o-mini", api_key_env="MY_LLM_KEY").api_key == "sk-secret"
    assert resolve_model("hf:org/name", api_key_env="MY_LLM_KEY").token == "sk-secret"
    monkeypatch.delenv("MY_LLM_KEY")
    with pytest.raises(MissingAPIKeyError, match="MY_LLM_KEY"):
        resolve_model("openai/gpt-4o-mini", api_key_env="MY_LLM_KEY")


@pytest.mark.parametrize("spec", ["nonsense:thing", "hf:", "two words", "openai/", "/x", "gpt 4"])
def test_garbled_specs(spec):
    with pytest.raises(UnknownModelError, match="Accepted forms") as caught:
        resolve_model(spec)
    assert "hf:ORG/NAME" in str(caught.value) and "transformers:PATH" in str(caught.value)


def test_not_a_string():
    with pytest.raises(UnknownModelError):
        resolve_model(42)  # type: ignore[arg-type]


async def test_resolved_spec_talks_to_the_loopback_server(monkeypatch):
    monkeypatch.setenv("LOOPBACK_KEY", "sk-loop")
    async with LoopbackLLMServer(["resolved"]) as server:
        model = resolve_model("openai-server:m", api_base=server.api_base, api_key_env="LOOPBACK_KEY")
        assert (await model.agenerate([{"role": "user", "content": "x"}])).content == "resolved"
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-loop"


def test_malformed_yaml_scripted_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "replies.yaml"
    path.write_text("- first reply\n- second: is: wrong\n- third\n")
    with pytest.raises(ConfigurationError) as caught:
        resolve_model(f"scripted:{path}")
    message = str(caught.value)
    assert str(path) in message and "is not valid YAML" in message
    assert f"{path}:2:" in message and "mapping values are not allowed here" in message
    assert "Traceback" not in message and len(message.splitlines()) == 1


def test_malformed_json_scripted_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text('[\n  "one",\n  "two"\n  "three"\n]\n')
    with pytest.raises(ConfigurationError, match=r"replies\.json:4:3 is not valid JSON: Expecting ','"):
        resolve_model(f"scripted:{path}")
