"""Model backends behind one contract (``Model``); heavy SDKs load on first use."""

from .._lazy import lazy_attributes as _lazy_attributes
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


__getattr__ = _lazy_attributes(__name__, _LAZY)
