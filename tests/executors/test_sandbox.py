"""SandboxExecutor: the kernel inside bubblewrap (skipped where bwrap is missing)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from needs import needs_command
import pytest_asyncio

from smolkernel.exceptions import ConfigurationError
from smolkernel.executors import resolve_executor
from smolkernel.executors.sandbox import SandboxExecutor
from smolkernel.tools import tool

pytestmark = [
    pytest.mark.sandbox,
    needs_command("bwrap", "bubblewrap"),
    pytest.mark.asyncio(loop_scope="module"),
]


@tool
def host_pid() -> int:
    """Return the host's process id."""
    return os.getpid()


@pytest.fixture(scope="module")
def loopback_server() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[SandboxExecutor]:
    os.environ["SMOLKERNEL_SANDBOX_TEST_TOKEN"] = "tok-secret"
    executor = SandboxExecutor(timeout=20)
    try:
        await asyncio.wait_for(executor.start(), 60)
        await executor.send_tools({"host_pid": host_pid})
        yield executor
    finally:
        del os.environ["SMOLKERNEL_SANDBOX_TEST_TOKEN"]
        await executor.close()


async def run(executor: SandboxExecutor, code: str, limit: float = 30):
    return await asyncio.wait_for(executor.run(code), limit)


async def test_code_runs_and_tools_cross_from_the_sandbox(sandbox: SandboxExecutor) -> None:
    result = await run(sandbox, "import os\n(host_pid(), os.getpid())")
    host, inner = eval(result.output)
    assert host == os.getpid() and inner != os.getpid()


async def test_no_network_to_host_loopback(sandbox: SandboxExecutor, loopback_server: int) -> None:
    result = await run(sandbox, f"import socket\ns = socket.socket()\ns.settimeout(0.5)\ns.connect(('127.0.0.1', {loopback_server}))")
    assert "ConnectionRefusedError" in result.error


async def test_no_route_outside(sandbox: SandboxExecutor) -> None:
    # 192.0.2.1 is TEST-NET-1: nothing answers there; inside the sandbox there is no route at all
    result = await run(sandbox, "import socket\ns = socket.socket()\ns.settimeout(0.5)\ns.connect(('192.0.2.1', 80))")
    assert "Network is unreachable" in result.error or "OSError" in result.error


async def test_host_filesystem_is_read_only_and_the_project_invisible(sandbox: SandboxExecutor) -> None:
    installed = os.path.join(sys.prefix, "pwned.txt")
    result = await run(sandbox, f"open({installed!r}, 'w')")
    assert "Read-only file system" in result.error and not os.path.exists(installed)
    result = await run(sandbox, f"open({os.path.abspath(__file__ + '.pwned')!r}, 'w')")
    assert "No such file or directory" in result.error  # the project folder is not bound at all
    assert not os.path.exists(__file__ + ".pwned")


async def test_private_tmp_is_writable_and_invisible_to_the_host(sandbox: SandboxExecutor, tmp_path) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("classified")
    result = await run(sandbox, f"open('/tmp/inside.txt', 'w').write('x')\nimport os\nos.path.exists({str(secret)!r})")
    assert result.output == "False" and not os.path.exists("/tmp/inside.txt")


async def test_home_and_runtime_folders_are_hidden(sandbox: SandboxExecutor) -> None:
    from jupyter_core.paths import jupyter_runtime_dir

    home = os.path.expanduser("~")
    result = await run(sandbox, f"import os\n(os.environ['HOME'], os.listdir({home!r}), os.path.exists({jupyter_runtime_dir()!r}) and os.listdir({jupyter_runtime_dir()!r}))")
    assert result.output.startswith("('/tmp/home',") and ".bashrc" not in result.output and ".json" not in result.output


async def test_own_connection_file_is_invisible(sandbox: SandboxExecutor) -> None:
    from test_kernel import FIND_CONNECTION_FILES

    result = await run(sandbox, FIND_CONNECTION_FILES)
    assert result.output == "[]"


async def test_host_secrets_absent(sandbox: SandboxExecutor) -> None:
    result = await run(sandbox, "import os\n[k for k in os.environ if 'TOKEN' in k or 'KEY' in k], 'JPY_PARENT_PID' in os.environ")
    assert result.output == "([], False)"


async def test_root_only_host_files_are_masked(sandbox: SandboxExecutor) -> None:
    code = (
        "import os\n"
        "try:\n    shadow = open('/etc/shadow').read()\nexcept PermissionError:\n    shadow = ''\n"
        "print(repr(shadow), os.listdir('/etc/ssh') if os.path.isdir('/etc/ssh') else [])"
    )
    out = await sandbox.run(code)
    assert out.error is None, out.error
    assert out.logs.strip() == "'' []"


async def test_host_processes_invisible(sandbox: SandboxExecutor) -> None:
    result = await run(sandbox, f"import os\nos.path.exists('/proc/{os.getpid()}/environ') and 'SMOLKERNEL' in open('/proc/{os.getpid()}/environ').read()")
    assert result.output == "False"


async def test_timeout_interrupts_with_message_mode(sandbox: SandboxExecutor) -> None:
    await run(sandbox, "kept = 1")
    sandbox.timeout = 1
    try:
        result = await run(sandbox, "while True:\n    pass")
    finally:
        sandbox.timeout = 20
    assert "timed out after 1 s" in result.error and not result.workspace_lost
    assert (await run(sandbox, "kept")).output == "1"


async def test_killed_sandbox_kernel_is_restarted(sandbox: SandboxExecutor) -> None:
    started = time.monotonic()
    result = await run(sandbox, "import os\nos._exit(9)")
    assert time.monotonic() - started < 3.5 and result.workspace_lost and "workspace was lost" in result.error
    assert (await run(sandbox, "host_pid()")).output == str(os.getpid())


async def test_registry_name_sandbox() -> None:
    assert isinstance(resolve_executor("sandbox", timeout=3), SandboxExecutor)


async def test_missing_bwrap_names_the_package() -> None:
    with pytest.raises(ConfigurationError, match="bubblewrap"):
        await SandboxExecutor(bwrap="/nonexistent/bwrap").start()
