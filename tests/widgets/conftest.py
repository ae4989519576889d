"""Fixtures for the widget tests: scripted agents and a recording comm.

Widgets here talk to a ``RecordingComm`` instead of a kernel: it is the
``comm`` package's own replaceable factory (``comm.create_comm``), so every
message a widget would send to the frontend is counted exactly where the
kernel would send it. The notebook and browser tests use a real kernel.
"""

from __future__ import annotations

import threading

import comm
import pytest
from comm import DummyComm

from smolkernel import ToolCallingAgent
from smolkernel.models import ScriptedModel
from smolkernel.tools import tool


class RecordingComm(DummyComm):
    """A comm that records what it would publish (comm_open, comm_msg, comm_close)."""

    log: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        with self.lock:
            self.log.append((msg_type, data or {}))


@pytest.fixture
def comm_log(monkeypatch):
    """The list of (msg_type, data) every widget created in the test publishes."""
    log: list[tuple[str, dict]] = []
    monkeypatch.setattr(RecordingComm, "log", log)
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return log


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


@pytest.fixture
def team_agent():
    """A manager that fails once, calls a managed helper, then answers 8."""
    helper = ToolCallingAgent(
        [add],
        ScriptedModel([{"content": "I add.", "tool_calls": [call("add", a=2, b=2)]}, {"tool_calls": [call("final_answer", answer=4)]}]),
        name="helper",
        description="adds numbers",
    )
    model = ScriptedModel(
        [
            {"content": "Let me **try** `add`.", "tool_calls": [call("add", a=1, b="x")]},
            {"content": "Ask the helper.", "tool_calls": [call("helper", task="what is 2+2")]},
            {"tool_calls": [call("final_answer", answer=8)]},
        ],
        model_id="scripted-manager",
    )
    return ToolCallingAgent([add], model, managed_agents=[helper], max_steps=5)


SETUP_CELL = '''
from smolkernel import ToolCallingAgent
from smolkernel.models import ScriptedModel
from smolkernel.widgets import MemoryView, RunView, UsageView

def call(name, **arguments):
    return {"name": name, "arguments": arguments}

def team():
    helper = ToolCallingAgent([], ScriptedModel([{"content": "I know this.", "tool_calls": [call("final_answer", answer=4)]}]), name="helper", description="answers")
    model = ScriptedModel([
        {"content": "First I **look**.", "tool_calls": [call("missing_tool", x=1)]},
        {"content": "Ask the helper.", "tool_calls": [call("helper", task="what is 2+2")]},
        {"content": "Done.", "tool_calls": [call("final_answer", answer=8)]},
    ], model_id="scripted-notebook", chunk_size=4)
    return ToolCallingAgent([], model, managed_agents=[helper], max_steps=5)

agent = team()
'''

RUN_CELL = '''
view = RunView(title="Notebook run")
display(view)
result = await agent.arun("add things in a notebook", on_event=view.handle_event)
'''

LIVE_CELL = '''
live = RunView(title="Kept live", keep_widget=True)
display(live)
kept = await team().arun("a run whose widget stays", on_event=live.handle_event)
'''


def build_notebook():
    """A notebook with a finished run (static snapshot), a kept live widget, memory and usage."""
    import nbformat

    cells = [SETUP_CELL, RUN_CELL, LIVE_CELL, "MemoryView(agent)", "UsageView(result)"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source.strip()) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory):
    """The notebook above, executed by nbclient with widget state stored, and its path."""
    import nbformat
    from nbclient import NotebookClient

    nb = build_notebook()
    folder = tmp_path_factory.mktemp("notebook")
    NotebookClient(nb, kernel_name="python3", timeout=120, store_widget_state=True, resources={"metadata": {"path": str(folder)}}).execute()
    path = folder / "run.ipynb"
    nbformat.write(nb, path)
    return nb, path
