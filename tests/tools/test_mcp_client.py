"""MCPClient against real servers: npm's server-everything (stdio and streamable HTTP),
PyPI's mcp-server-time, and our own SDK-written server for the edge cases."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from smolkernel.exceptions import ConfigurationError, ToolServerError
from smolkernel.tools import Tool
from smolkernel.tools.mcp import MCPClient
from smolkernel.tools.media import Media


def by_name(client: MCPClient) -> dict[str, Tool]:
    return {tool.name: tool for tool in client.tools}


@pytest.fixture(scope="module")
def everything(everything_command):
    with MCPClient(everything_command, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def edge(edge_command):
    with MCPClient(edge_command, env={"EDGE_SECRET": "s3"}, timeout=60) as client:
        yield client


def test_stdio_tools_have_the_servers_schemas(everything):
    tools = by_name(everything)
    assert {"echo", "get_sum", "get_tiny_image", "get_structured_content"} <= set(tools)
    get_sum = tools["get_sum"]
    assert set(get_sum.inputs) == {"a", "b"}
    assert get_sum.inputs["a"]["type"] == "number" and "First number" in get_sum.inputs["a"]["description"]
    assert get_sum.server_name == "get-sum"
    assert "def get_sum(a: float, b: float)" in get_sum.to_code_prompt()
    enum = tools["get_structured_content"].inputs["location"]
    assert enum["enum"] == ["New York", "Chicago", "Los Angeles"]


def test_stdio_calls_return_text_structured_content_and_images(everything):
    tools = by_name(everything)
    assert "5" in tools["get_sum"](a=2, b=3)
    assert tools["echo"]("hi") == "Echo: hi"
    structured = tools["get_structured_content"](location="Chicago")
    assert isinstance(structured, dict) and {"temperature", "conditions", "humidity"} <= set(structured)
    parts = tools["get_tiny_image"]()
    images = [p for p in parts if isinstance(p, Media)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert images[0].data.startswith(b"\x89PNG")
    assert images[0]._repr_mimebundle_()["image/png"] == images[0].to_base64()


def test_bad_arguments_are_refused_before_the_server_is_asked(everything):
    from smolkernel.exceptions import AgentToolCallError

    with pytest.raises(AgentToolCallError, match="location"):
        by_name(everything)["get_structured_content"](location="Paris")


def test_streamable_http_server(everything_url):
    with MCPClient(everything_url, timeout=60) as client:
        tools = by_name(client)
        assert "5" in tools["get_sum"](a=2, b=3)
        assert client.server_name
    assert not client.connected


async def test_async_context_manager_and_acall(everything_url):
    async with MCPClient(everything_url, timeout=60) as client:
        tools = by_name(client)
        results = await asyncio.gather(tools["echo"].acall("one"), tools["echo"].acall(message="two"))
        assert results == ["Echo: one", "Echo: two"]


def test_pypi_time_server():
    with MCPClient([sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"], timeout=60) as client:
        tools = by_name(client)
        assert "get_current_time" in tools
        now = tools["get_current_time"](timezone="Europe/Paris")
        assert isinstance(now, dict) and now["timezone"] == "Europe/Paris" and "datetime" in now
        converted = tools["convert_time"](source_timezone="UTC", time="12:00", target_timezone="Asia/Tokyo")
        assert converted["target"]["datetime"].endswith("21:00:00+09:00")


def test_edge_names_structured_output_images_and_env(edge):
    tools = by_name(edge)
    assert tools["add"](2, 3) == 5
    assert tools["weather"]("Oslo") == {"city": "Oslo", "temperature": 21, "sky": "clear"}
    assert tools["weather"].output_type == "object"
    image = tools["picture"]()
    assert isinstance(image, Media) and image.mime_type == "image/png" and image.data.startswith(b"\x89PNG")
    assert tools["env_value"]("EDGE_SECRET") == "s3"
    greet = tools["greet_person"]
    assert greet.server_name == "greet-person"
    assert greet.inputs["title"].get("nullable") is True
    assert greet("Ada") == "Hello, Ada!"
    assert greet("Ada", title="Dr.") == "Hello, Dr. Ada!"


def test_server_error_is_a_tool_error(edge):
    with pytest.raises(ToolServerError, match="fail failed: .*the reason given"):
        by_name(edge)["fail"]("the reason given")
    assert by_name(edge)["add"](1, 1) == 2  # the server goes on


def test_hanging_call_times_out_and_the_server_stays_usable(edge_command):
    with MCPClient(edge_command, timeout=2, connect_timeout=60) as client:
        tools = by_name(client)
        start = time.monotonic()
        with pytest.raises(ToolServerError, match="did not answer within 2 s"):
            tools["hang"]()
        assert time.monotonic() - start < 8
        assert tools["add"](2, 2) == 4


def test_dead_server_gives_a_clear_error_fast(edge_command):
    with MCPClient(edge_command, timeout=20) as client:
        tools = by_name(client)
        start = time.monotonic()
        with pytest.raises(ToolServerError, match="not available"):
            tools["die"]()
        with pytest.raises(ToolServerError, match="not available"):
            tools["add"](1, 2)
        assert time.monotonic() - start < 10


def test_unknown_command_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="could not connect .*no-such-mcp-server"):
        MCPClient(["no-such-mcp-server-xyz"], timeout=10).connect()


def test_server_that_never_answers_fails_within_the_timeout():
    client = MCPClient([sys.executable, "-c", "import time; time.sleep(60)"], timeout=2, connect_timeout=2)
    start = time.monotonic()
    with pytest.raises(ConfigurationError, match="did not start within 2 s"):
        client.connect()
    assert time.monotonic() - start < 15


def test_server_that_exits_at_once_shows_its_error_output():
    client = MCPClient([sys.executable, "-c", "import sys; sys.exit('cannot start: missing key')"], timeout=10)
    with pytest.raises(ConfigurationError, match="cannot start: missing key"):
        client.connect()


@pytest.mark.parametrize("server", [[], "", 42, ["ok", 3]])
def test_bad_server_argument(server):
    with pytest.raises(ConfigurationError, match="MCPClient"):
        MCPClient(server)


def test_http_server_that_dies_gives_a_clear_error(edge_command):
    """Our SDK-written server over streamable HTTP, killed between two calls."""
    import subprocess

    from mcp_helpers import free_port, wait_for_port

    port = free_port()
    process = subprocess.Popen([*edge_command, "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, 120)
        with MCPClient(f"http://127.0.0.1:{port}/mcp", timeout=60) as client:
            add = by_name(client)["add"]
            assert add(1, 2) == 3
            process.kill()
            process.wait(10)
            start = time.monotonic()
            with pytest.raises(ToolServerError, match="not available"):
                add(1, 2)
            assert time.monotonic() - start < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
