"""Class 1: the sandbox cannot write into the host's runtime folder or log file; cleanup never raises."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from needs import needs_command

from smolkernel.executors import KernelExecutor
from smolkernel.executors import _process
from smolkernel.executors._process import MAX_LOG_BYTES, remove_tree
from smolkernel.executors.sandbox import SandboxExecutor


def _deep_tree(base: str, depth: int) -> str:
    """A folder holding a chain of ``depth`` nested folders (deeper than Python's recursion limit)."""
    root = tempfile.mkdtemp(dir=base)
    fd = os.open(root, os.O_RDONLY)
    for level in range(depth):
        os.mkdir("d", dir_fd=fd)
        if level % 300 == 0:
            os.close(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    return root


def _fast_tmp() -> str:
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def test_remove_tree_takes_a_tree_deeper_than_the_recursion_limit() -> None:
    root = _deep_tree(_fast_tmp(), 1500)
    assert remove_tree(root) is True
    assert not os.path.exists(root)


def test_remove_tree_gives_up_at_its_deadline_without_raising() -> None:
    root = _deep_tree(_fast_tmp(), 400)
    try:
        started = time.monotonic()
        assert remove_tree(root, deadline=time.monotonic()) in (True, False)
        assert time.monotonic() - started < 1.0
    finally:
        remove_tree(root)


def test_sweep_of_stale_folders_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    base = tempfile.mkdtemp(dir=_fast_tmp())
    monkeypatch.setattr(tempfile, "tempdir", base)
    stale = Path(base) / "smolkernel-stale"
    os.rename(_deep_tree(base, 1200), stale)
    (stale / "host.pid").write_text("999999999")  # no such process
    garbage = Path(base) / "smolkernel-garbage"
    garbage.mkdir()
    (garbage / "host.pid").write_bytes(b"\xff\xfe not a pid")
    try:
        _process._sweep_stale_runtime_dirs()
        assert not stale.exists() and garbage.exists()
    finally:
        remove_tree(base)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox() -> AsyncIterator[SandboxExecutor]:
    executor = SandboxExecutor(timeout=30)
    try:
        await asyncio.wait_for(executor.start(), 60)
        yield executor
    finally:
        await executor.close()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.sandbox
@needs_command("bwrap", "bubblewrap")
@pytest.mark.asyncio(loop_scope="module")
async def test_sandbox_cannot_see_or_fill_the_host_runtime_folder(sandbox: SandboxExecutor) -> None:
    runtime = sandbox.log_path.parent
    before = _size(runtime)
    code = (
        "import os\n"
        f"print('visible' if os.path.exists({str(runtime)!r}) else 'invisible')\n"
        "written = 0\n"
        "try:\n"
        "    with open('/run/.smolkernel/fill', 'wb') as f:\n"
        "        for _ in range(8):\n"
        "            f.write(b'x' * 1024 * 1024); f.flush(); written += 1\n"
        "except OSError as e:\n"
        "    print('stopped', e.errno)\n"
        "print('MiB', written)\n"
    )
    result = await asyncio.wait_for(sandbox.run(code), 30)
    assert "invisible" in result.logs and "stopped 28" in result.logs, result.logs  # ENOSPC on its 1 MiB tmpfs
    assert _size(runtime) - before < 64 * 1024


@pytest.mark.sandbox
@needs_command("bwrap", "bubblewrap")
@pytest.mark.asyncio(loop_scope="module")
async def test_sandbox_output_descriptors_are_a_pipe_not_a_host_file(sandbox: SandboxExecutor) -> None:
    result = await asyncio.wait_for(sandbox.run("import os\n(os.readlink('/proc/self/fd/1'), os.readlink('/proc/self/fd/2'))"), 30)
    assert result.output.count("pipe:") == 2, result.output


@pytest.mark.asyncio
async def test_kernel_log_stays_bounded_when_the_code_floods_its_descriptors() -> None:
    executor = KernelExecutor(timeout=60)
    try:
        await asyncio.wait_for(executor.start(), 60)
        code = "import os\nchunk = b'y' * (1 << 20)\nfor _ in range(8):\n    os.write(1, chunk); os.write(2, chunk)\n'done'"
        result = await asyncio.wait_for(executor.run(code), 60)
        assert result.output == "'done'"
        await asyncio.sleep(0.3)  # the drain thread catches up
        size = executor.log_path.stat().st_size
        assert MAX_LOG_BYTES <= size <= MAX_LOG_BYTES + 4096, size
    finally:
        await executor.close()
