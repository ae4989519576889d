"""%save and %load in a running SmolKernel: folders and the Hub (a loopback stand-in)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from harness import KernelDriver, code_reply, start_kernel

from smolkernel.testing import LoopbackLLMServer
from smolkernel.testing.hub import HubStandIn

SLOW = 180
"""Seconds to wait for cells that start a sibling kernel or run a task."""

TOOL_CELL = '''%%tool
from smolkernel import tool

@tool
def stamp(text: str) -> str:
    """Stamp a text.

    Args:
        text: the text
    """
    return PREFIX + text.upper()
'''


@pytest.fixture(scope="module")
def hub() -> Iterator[HubStandIn]:
    """A loopback stand-in of the Hub endpoints (the Hub is unreachable here)."""
    with HubStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def shared_kernel(llm: LoopbackLLMServer, hub: HubStandIn, tmp_path_factory) -> Iterator[KernelDriver]:
    """A SmolKernel whose Hub is the stand-in and whose model is the loopback server."""
    home = tmp_path_factory.mktemp("hf-home")
    driver = start_kernel(env={"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(home), "HF_TOKEN": "hf_test", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    run = driver.execute(f"%model openai/test --api-base {llm.api_base}", timeout=SLOW)
    assert run.status == "ok", run.text()
    yield driver
    driver.shutdown()


def test_save_writes_the_tool_cell_and_load_needs_trust(shared_kernel, llm, tmp_path):
    kernel = shared_kernel
    # the first use starts the sibling kernel: slow on a loaded machine, so the waits are generous
    assert kernel.execute("%%python\n1", timeout=SLOW).status == "ok"
    assert kernel.execute("%%tool\nPREFIX = '>> '").status == "ok"  # a host variable the tool uses
    assert kernel.execute(TOOL_CELL).status == "ok"
    run = kernel.execute(f"%save {tmp_path / 'stamped'}", timeout=SLOW)
    assert run.status == "ok", run.text()
    assert "agent.yaml" in run.stdout and "tools/stamp.py" in run.stdout
    spec = yaml.safe_load((tmp_path / "stamped/agent.yaml").read_text())
    assert spec["model"] == "openai/test" and spec["model_options"] == {"api_base": llm.api_base}
    assert spec["tools"] == [{"file": "tools/stamp.py", "name": "stamp"}]
    assert spec["executor"] == "kernel"
    source = (tmp_path / "stamped/tools/stamp.py").read_text()
    assert "PREFIX = '>> '" in source and "def stamp" in source

    refused = kernel.execute(f"%load {tmp_path / 'stamped'}")
    assert refused.status == "error" and "trust_remote_code" in refused.reply["evalue"]
    assert kernel.execute("%%tool\ndel stamp\nPREFIX = 'changed '").status == "ok"
    loaded = kernel.execute(f"%load {tmp_path / 'stamped'} --trust-remote-code", timeout=SLOW)
    assert loaded.status == "ok", loaded.text()
    assert "stamp" in loaded.stdout
    llm.add_replies(code_reply("final_answer(stamp('ok'))"))
    # the loaded tool carries the saved PREFIX, not the kernel's current one
    assert kernel.execute("Stamp ok", timeout=SLOW).result["data"]["text/plain"] == ">> OK"


def test_load_a_folder_saved_in_python_switches_kind_and_settings(shared_kernel, llm, tmp_path):
    from smolkernel import ScriptedModel, ToolCallingAgent

    agent = ToolCallingAgent([], ScriptedModel(["x"]), max_steps=2, instructions="Answer in French.", name="fr", description="French.")
    spec = agent.to_spec()
    spec.model, spec.model_options = "openai/test", {"api_base": llm.api_base}
    spec.save(tmp_path / "agent.yaml")
    run = shared_kernel.execute(f"%load {tmp_path}", timeout=SLOW)
    assert run.status == "ok", run.text()
    assert "ToolCallingAgent" in run.stdout
    llm.add_replies({"tool_calls": [{"name": "final_answer", "arguments": {"answer": "bonjour"}}]})
    assert shared_kernel.execute("Say hello", timeout=SLOW).result["data"]["text/plain"] == "bonjour"
    system = llm.chat_requests[-1].json["messages"][0]["content"]
    assert "Answer in French." in system


def test_save_to_hub_and_load_a_revision(shared_kernel, llm, hub, tmp_path):
    kernel = shared_kernel
    assert kernel.execute("%agent code").status == "ok"
    first = kernel.execute("%save hub:me/kernel-agent --message 'first'", timeout=SLOW)
    assert first.status == "ok", first.text()
    revision = hub.history("me/kernel-agent")[-1].oid
    assert hub.history("me/kernel-agent")[-1].message == "first" and hub.repos[("model", "me/kernel-agent")].private
    assert kernel.execute("%agent toolcalling").status == "ok"
    assert kernel.execute("%save hub:me/kernel-agent", timeout=SLOW).status == "ok"
    run = kernel.execute(f"%load hub:me/kernel-agent --revision {revision} --trust-remote-code", timeout=SLOW)
    assert run.status == "ok", run.text()
    assert "CodeAgent" in run.stdout
    missing = kernel.execute("%load hub:me/no-such-agent")
    assert missing.status == "error" and "does not exist" in missing.reply["evalue"]


def test_save_and_load_usage_errors(shared_kernel):
    run = shared_kernel.execute("%save")
    assert run.status == "error" and "%save takes one folder" in run.reply["evalue"]
    run = shared_kernel.execute("%load /no/such/folder/anywhere")
    assert run.status == "error" and "no such folder" in run.reply["evalue"]
