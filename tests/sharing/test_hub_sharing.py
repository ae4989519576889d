"""push_to_hub / from_hub / load_tool through huggingface_hub, against HubStandIn.

The Hub is unreachable here: these tests talk real HTTP through the real
``huggingface_hub`` client to ``smolkernel.testing.hub.HubStandIn``, a
loopback stand-in of the few endpoints these calls use (see the ``hub``
fixture), not to the Hub.
"""

from __future__ import annotations

import pytest

from smolkernel import CodeAgent, ScriptedModel, Tool, load_agent, load_tool, tool
from smolkernel.exceptions import ConfigurationError, UntrustedCodeError


def reply(code: str) -> str:
    return f"```python\n{code}\n```"


def _greeter(greeting: str):
    @tool
    def greet(who: str) -> str:
        """Greet someone.

        Args:
            who: the person
        """
        return f"{greeting} {who}"

    return greet


def test_each_push_is_a_revision_and_older_revisions_load_the_older_agent(hub):
    agent = CodeAgent([_greeter("Hello")], ScriptedModel([reply("final_answer(greet('Ada'))")]), max_steps=3, name="greeter", description="Greets.")
    first = agent.push_to_hub("me/greeter", token="hf_test", commit_message="first version")
    agent = CodeAgent([_greeter("Howdy")], ScriptedModel([reply("final_answer(greet('Ada'))")]), max_steps=5, name="greeter", description="Greets.")
    second = agent.push_to_hub("me/greeter", token="hf_test", commit_message="friendlier")
    assert first != second
    assert [c.message for c in hub.history("me/greeter")][1:] == ["first version", "friendlier"]
    assert hub.repos[("model", "me/greeter")].private is True

    old = CodeAgent.from_hub("me/greeter", revision=first, trust_remote_code=True)
    new = CodeAgent.from_hub("me/greeter", trust_remote_code=True)
    assert (old.max_steps, new.max_steps) == (3, 5)
    assert old.run("x").output == "Hello Ada" and new.run("x").output == "Howdy Ada"
    assert load_agent(f"hub:me/greeter", revision=first, trust_remote_code=True).max_steps == 3


def test_from_hub_refuses_shipped_code_by_default(hub):
    CodeAgent([_greeter("Hi")], ScriptedModel(["x"])).push_to_hub("me/shy", token="hf_test")
    with pytest.raises(ConfigurationError, match="trust_remote_code=True"):
        CodeAgent.from_hub("me/shy")


def test_a_push_drops_tool_files_the_new_version_lacks(hub):
    CodeAgent([_greeter("Hi")], ScriptedModel(["x"])).push_to_hub("me/slim", token="hf_test")
    CodeAgent([], ScriptedModel(["x"])).push_to_hub("me/slim", token="hf_test")
    first, last = hub.history("me/slim")[1], hub.history("me/slim")[-1]
    assert "tools/greet.py" in first.files and "tools/greet.py" not in last.files


def test_unknown_repo_and_revision_are_clear_errors(hub):
    with pytest.raises(ConfigurationError, match="does not exist"):
        CodeAgent.from_hub("me/nothing-here")
    CodeAgent([], ScriptedModel(["x"])).push_to_hub("me/real", token="hf_test")
    with pytest.raises(ConfigurationError, match="no such revision"):
        CodeAgent.from_hub("me/real", revision="f" * 40)


def test_tool_push_and_load_tool(hub):
    greet = _greeter("Hey")
    revision = greet.push_to_hub("me/greet-tool", token="hf_test")
    with pytest.raises(UntrustedCodeError, match="trust_remote_code=True"):
        load_tool("me/greet-tool")
    loaded = load_tool("me/greet-tool", trust_remote_code=True, revision=revision)
    assert loaded.name == "greet" and loaded("Bo") == "Hey Bo"
    assert "tool.py" in hub.history("me/greet-tool")[-1].files


def test_load_tool_reads_the_layout_smolagents_shares_tools_in(hub, tmp_path):
    """A tool in the files smolagents' own ``Tool.save`` writes (tool.py, app.py, requirements.txt),
    put in a Space as smolagents' ``push_to_hub`` does. (smolagents' push itself also edits the Space's
    card through endpoints the stand-in does not serve, so the upload goes through huggingface_hub here.)
    """
    import smolagents

    from smolkernel.sharing.hub import push_folder

    class Reverse(smolagents.Tool):
        name = "reverse"
        description = "Reverse a text."
        inputs = {"text": {"type": "string", "description": "the text"}}
        output_type = "string"

        def forward(self, text: str) -> str:
            return text[::-1]

    Reverse().save(str(tmp_path / "reverse"))
    push_folder(tmp_path / "reverse", "me/reverse", token="hf_test", repo_type="space")
    assert {"tool.py", "app.py"} <= set(hub.history("me/reverse", repo_type="space")[-1].files)
    loaded = load_tool("me/reverse", trust_remote_code=True)  # not a model repo: found as a Space
    assert isinstance(loaded, Tool) and loaded(text="abc") == "cba"
    agent = CodeAgent([loaded], ScriptedModel([reply("final_answer(reverse('xy'))")]))
    assert agent.run("go").output == "yx"


def test_an_unreachable_hub_is_a_clear_error(tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ConfigurationError, match=f"cannot reach the Hub at http://127.0.0.1:{port}"):
        load_agent("hub:me/anything")
