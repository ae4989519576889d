"""Class 3: nothing of the user's folders is bound into the sandbox; sockets and FIFOs are unreachable."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

import pytest
from needs import needs_command

from smolkernel.exceptions import ConfigurationError
from smolkernel.executors.sandbox import SandboxExecutor

pytestmark = [pytest.mark.sandbox, needs_command("bwrap", "bubblewrap")]


async def _run(executor: SandboxExecutor, code: str):
    return await asyncio.wait_for(executor.run(code), 30)


async def test_pythonpath_and_home_folders_are_not_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    (library / ".env").write_text("API_KEY=sk-bound-leak")
    home_secret = Path(os.path.expanduser("~")) / f".smolkernel-test-{uuid.uuid4().hex[:8]}"
    home_secret.write_text("home secret")
    monkeypatch.setenv("PYTHONPATH", str(library))
    executor = SandboxExecutor(timeout=30)
    try:
        await asyncio.wait_for(executor.start(), 60)
        result = await _run(executor, f"import os, sys\n(os.path.exists({str(library)!r}), os.path.exists({str(home_secret)!r}), "
                                      f"{str(library)!r} in sys.path, os.path.exists(os.path.expanduser('~root/.ssh')))")
        assert result.output == "(False, False, False, False)", result
    finally:
        home_secret.unlink()
        await executor.close()


async def test_sockets_and_fifos_in_a_bound_folder_are_covered(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "table.csv").write_text("a,b\n1,2\n")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(data / "agent.sock"))
    server.listen()
    server.settimeout(0.5)
    os.mkfifo(data / "pipe")
    reader = os.open(data / "pipe", os.O_RDONLY | os.O_NONBLOCK)
    executor = SandboxExecutor(timeout=30, ro_binds=(str(data),))
    try:
        await asyncio.wait_for(executor.start(), 60)
        code = (
            "import socket\n"
            f"print(open({str(data / 'table.csv')!r}).read().splitlines()[1])\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            f"try:\n    s.connect({str(data / 'agent.sock')!r}); print('CONNECTED')\nexcept OSError as e:\n    print('refused', type(e).__name__)\n"
            f"try:\n    open({str(data / 'pipe')!r}, 'w').write('through the fifo')\nexcept OSError as e:\n    print('fifo', e)\n"
        )
        result = await _run(executor, code)
        assert "1,2" in result.logs and "refused" in result.logs and "CONNECTED" not in result.logs, result
        with pytest.raises(socket.timeout):
            server.accept()
        assert os.read(reader, 100) == b""
    finally:
        os.close(reader)
        server.close()
        await executor.close()


async def test_a_home_outside_root_still_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "someone"))
    (tmp_path / "someone").mkdir()
    executor = SandboxExecutor(timeout=30)
    try:
        await asyncio.wait_for(executor.start(), 60)
        assert (await _run(executor, "import ipykernel, sys\nsys.prefix == " + repr(os.path.realpath(__import__('sys').prefix)))).output == "True"
    finally:
        await executor.close()


async def test_an_interpreter_that_cannot_be_shown_alone_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "bin").mkdir()
    python = tmp_path / "bin" / "python"
    python.symlink_to(os.path.realpath(__import__("sys").executable))
    with pytest.raises(ConfigurationError, match="contains the private folder"):
        await SandboxExecutor(python=str(python)).start()
    with pytest.raises(ConfigurationError, match="does not exist"):
        await SandboxExecutor(python=str(tmp_path / "missing" / "python")).start()


async def test_ro_binds_refuse_the_home_folder() -> None:
    with pytest.raises(ConfigurationError, match="private folder"):
        await SandboxExecutor(ro_binds=(os.path.expanduser("~"),)).start()
