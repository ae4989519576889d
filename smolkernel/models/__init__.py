"""Model backends behind one contract (``Model``); heavy SDKs load on first use."""

from importlib import import_module as _import_module
from typing import Any as _Any

from .base import ChatMessage, Model, StreamDelta, TokenUsage, ToolCall
from .scripted import ScriptedModel

__all__ = [
    "Model",
    "ChatMessage",
    "ToolCall",
    "TokenUsage",
    "StreamDelta",
    "ScriptedModel",
    "LiteLLMModel",
    "OpenAIServerModel",
    "InferenceClientModel",
    "TransformersModel",
    "resolve_model",
]

_LAZY = {
    "LiteLLMModel": ".litellm_model",
    "OpenAIServerModel": ".openai_server",
    "InferenceClientModel": ".inference_client",
    "TransformersModel": ".transformers_model",
    "resolve_model": ".resolve",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smolkernel.models' has no attribute {name!r}")
    return getattr(_import_module(module, __name__), name)
