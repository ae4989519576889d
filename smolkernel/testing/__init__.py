"""Test doubles that ship with smolkernel, for your own offline tests.

``ScriptedModel`` answers with replies given in advance (no HTTP at all);
``LoopbackLLMServer`` is a real OpenAI-compatible HTTP server on 127.0.0.1
that any client, including every HTTP model backend, can talk to.
"""

from ..models.scripted import ScriptedModel
from .loopback import LoopbackLLMServer

__all__ = ["ScriptedModel", "LoopbackLLMServer"]
