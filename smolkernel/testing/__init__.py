"""Test doubles that ship with smolkernel, for your own offline tests.

``ScriptedModel`` answers with replies given in advance (no HTTP at all);
``LoopbackLLMServer`` is a real OpenAI-compatible HTTP server on 127.0.0.1
that any client, including every HTTP model backend, can talk to;
``HubStandIn`` serves the few Hub endpoints that sharing uses, on loopback.
"""

from ..models.scripted import ScriptedModel
from .hub import HubStandIn
from .loopback import LoopbackLLMServer

__all__ = ["ScriptedModel", "LoopbackLLMServer", "HubStandIn"]
