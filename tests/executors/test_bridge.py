"""ToolBridge, host side, without a kernel: request validation, result encoding, stub specs."""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any

from smolkernel.executors.bridge import ToolBridge, sibling_source
from smolkernel.tools import FinalAnswerTool, tool


@tool
def greet(name: str, punctuation: str = "!") -> str:
    """Greet someone.

    Args:
        name: who
        punctuation: what ends the greeting
    """
    return f"hello {name}{punctuation}"


def make_bridge(**options: Any) -> ToolBridge:
    bridge = ToolBridge(**options)
    bridge.set_tools({"greet": greet, "final_answer": FinalAnswerTool(), "blob": lambda: {1, 2}})
    return bridge


def request(bridge: ToolBridge, tool_name: str, /, *args: Any, **kwargs: Any) -> str:
    return bridge.marker + json.dumps({"t": tool_name, "a": list(args), "k": kwargs})


async def test_valid_call_returns_json() -> None:
    bridge = make_bridge()
    reply = json.loads(await bridge.handle(request(bridge, "greet", "ada")))
    assert reply == {"ok": "hello ada!"}


async def test_unknown_tool_is_refused() -> None:
    bridge = make_bridge()
    reply = json.loads(await bridge.handle(request(bridge, "__import__", "os")))
    assert reply["error"].startswith("AgentToolCallError: unknown tool '__import__'")


async def test_arguments_are_checked_by_the_tool() -> None:
    bridge = make_bridge()
    reply = json.loads(await bridge.handle(request(bridge, "greet", name=3)))
    assert "argument 'name' must be string" in reply["error"]


async def test_malformed_requests_are_refused() -> None:
    bridge = make_bridge()
    for body in ["not json", "[1, 2]", '{"t": "greet", "a": "x"}', '{"t": "greet", "k": {"1": 2, "x": [' + "[" * 100000 + "]}"]:
        reply = json.loads(await bridge.handle(bridge.marker + body))
        assert reply["error"].startswith("AgentToolCallError")


def test_marker_is_private_per_bridge() -> None:
    first, second = ToolBridge(), ToolBridge()
    assert first.marker != second.marker and first.owns(first.marker + "{}") and not second.owns(first.marker + "{}")


async def test_final_answer_is_recorded() -> None:
    bridge = make_bridge()
    reply = json.loads(await bridge.handle(request(bridge, "final_answer", [1, 2])))
    assert reply == {"final": True} and bridge.final_answer == ([1, 2],)


async def test_non_json_results_are_repr_or_pickled() -> None:
    plain = make_bridge()
    assert json.loads(await plain.handle(request(plain, "blob"))) == {"repr": "{1, 2}"}
    pickling = make_bridge(allow_pickle=True)
    reply = json.loads(await pickling.handle(request(pickling, "blob")))
    assert pickle.loads(base64.b64decode(reply["pickle"])) == {1, 2}


def test_stub_specs_carry_signature_and_docstring() -> None:
    spec = {s["name"]: s for s in make_bridge().stub_specs()}["greet"]
    assert spec["params"] == [["name", "str", "<required>"], ["punctuation", "str", "!"]]
    assert spec["returns"] == "str" and spec["doc"].startswith("Greet someone.") and "name: who" in spec["doc"]


def test_install_code_compiles() -> None:
    compile(make_bridge().install_code(), "<install>", "exec")
    compile(sibling_source(), "<sibling>", "exec")
