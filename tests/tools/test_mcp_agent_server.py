"""``smolkernel mcp --agent agent.yaml``: an agent served as an MCP tool, over stdio and
streamable HTTP, called by our own MCPClient (real processes, real transports)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from mcp_helpers import free_port, wait_for_port

from smolkernel.exceptions import ToolServerError
from smolkernel.tools.mcp import MCPClient

pytestmark = pytest.mark.slow

SPEC = """
    name: calculator
    description: Does arithmetic with Python; give it a sum to work out.
    model: scripted
    model_options:
      responses:
        - "```python\\nfinal_answer(str(6 * 7))\\n```"
        - "I give up."
    max_steps: 1
"""


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent(SPEC))
    return path


def check_served_agent(client: MCPClient) -> None:
    tools = {tool.name: tool for tool in client.tools}
    assert list(tools) == ["calculator"]
    calculator = tools["calculator"]
    assert "arithmetic" in calculator.description
    assert list(calculator.inputs) == ["task"]
    assert calculator(task="What is 6 times 7?") == "42"
    with pytest.raises(ToolServerError, match="the agent did not finish"):
        calculator(task="And now?")


def test_agent_served_over_stdio(spec_path):
    with MCPClient([sys.executable, "-m", "smolkernel.cli", "mcp", "--agent", str(spec_path)], timeout=60, connect_timeout=120) as client:
        check_served_agent(client)


def test_agent_served_over_http(spec_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "smolkernel.cli", "mcp", "--agent", str(spec_path), "--http", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, 120)
        with MCPClient(f"http://127.0.0.1:{port}/mcp", timeout=60) as client:
            check_served_agent(client)
    finally:
        process.terminate()
        process.wait(20)


def test_bad_spec_is_a_clear_error(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("model: scripted\nmax_stepz: 3\n")
    done = subprocess.run([sys.executable, "-m", "smolkernel.cli", "mcp", "--agent", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "max_stepz" in done.stderr and "line 2" in done.stderr
