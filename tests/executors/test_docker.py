"""DockerExecutor: a real Docker engine, a real container built offline, a real ipykernel inside.

One container serves the behaviours that keep it healthy; the faults (OOM,
killed container) run last on the same executor, which restarts it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from executor_tools import add
import pytest_asyncio
from remote_standins import run_managed_agent

from smolkernel.executors import resolve_executor
from smolkernel.executors._container import docker_client, sweep_orphans
from smolkernel.executors.docker import DockerExecutor
from smolkernel.executors.docker_image import DEFAULT_RECIPE, ImageRecipe

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor(docker_image: str) -> AsyncIterator[DockerExecutor]:
    executor = DockerExecutor(timeout=5, memory_limit_mb=256, tmp_size_mb=16, max_processes=64)
    try:
        await asyncio.wait_for(executor.start(), 120)
        await executor.send_tools({"add": add})
        yield executor
    finally:
        await executor.close()


def inspect(name: str) -> dict:
    return json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout)[0]


async def test_state_tools_variables_and_answers(executor: DockerExecutor) -> None:
    first = await executor.run("x = 20\nprint('hello')\nadd(x, 1)")
    await executor.send_variables({"items": [1, 2, 3]})
    second = await executor.run("final_answer({'sum': sum(items) + x})")
    assert (first.output, first.logs, first.error) == ("21", "hello\n", None)
    assert second.is_final_answer and second.output == {"sum": 26}


async def test_container_is_locked_down(executor: DockerExecutor) -> None:
    config = inspect(executor.container_name)["HostConfig"]
    assert config["NetworkMode"] == "none" and config["ReadonlyRootfs"] is True
    assert config["CapDrop"] == ["ALL"] and "no-new-privileges" in config["SecurityOpt"]
    assert config["Memory"] == 256 * 2**20 == config["MemorySwap"] and config["PidsLimit"] == 64
    assert config["NanoCpus"] == 10**9 and not config["PortBindings"]
    probe = await executor.run(
        "import os, socket\n"
        "status = open('/proc/self/status').read()\n"
        "caps = [l.split()[1] for l in status.splitlines() if l.startswith('CapEff')][0]\n"
        "nnp = [l.split()[1] for l in status.splitlines() if l.startswith('NoNewPrivs')][0]\n"
        "def can_write(p):\n"
        "    try:\n"
        "        open(p, 'w').close(); return True\n"
        "    except OSError:\n"
        "        return False\n"
        "st = os.statvfs('/tmp')\n"
        "ifaces = sorted(n for _, n in socket.if_nameindex())\n"
        "(os.getuid(), caps, nnp, can_write('/usr/x'), can_write('/tmp/x'), can_write('/kernel/x'), st.f_blocks * st.f_frsize // 2**20, ifaces)"
    )
    uid, caps, nnp, usr, tmp, kernel_dir, tmp_mb, ifaces = eval(probe.output)  # noqa: S307 - our own tuple
    assert uid != 0 and caps == "0000000000000000" and nnp == "1"
    assert (usr, tmp, kernel_dir) == (False, True, False)
    assert tmp_mb == 16 and ifaces == ["lo"]


async def test_socket_folder_is_closed_and_keyless(executor: DockerExecutor) -> None:
    folder = executor._process.runtime_dir / "k"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in folder.iterdir()) == [f"ipc-{n}" for n in range(1, 6)]
    labels = inspect(executor.container_name)["Config"]["Labels"]
    assert labels["smolkernel.host_pid"] == str(os.getpid())


async def test_managed_agent_runs_in_the_host(executor: DockerExecutor) -> None:
    result = await run_managed_agent(executor)
    assert result.success and result.output == "Report: 42 moons"
    assert result.action_steps[0].managed_runs[0].output == "42 moons"
    await executor.send_tools({"add": add})


async def test_timeout_interrupts_and_keeps_the_workspace(executor: DockerExecutor) -> None:
    await executor.run("kept = 'still here'")
    result = await executor.run("import time\nwhile True: time.sleep(0.1)")
    assert result.error and result.error.startswith("ExecutionTimeout") and not result.workspace_lost
    assert (await executor.run("kept")).output == "'still here'"


async def test_out_of_memory_is_reported_as_such_quickly(executor: DockerExecutor) -> None:
    result = await executor.run("hog = []\nwhile True: hog.append(bytearray(16 * 2**20))")
    assert result.error and "ran out of memory (limit 256 MB)" in result.error
    assert result.workspace_lost and result.duration < 2.5  # noticed at once, not at the 5 s timeout
    assert (await executor.run("add(2, 3)")).output == "5"  # restarted, tools re-sent


async def test_killed_container_is_restarted(executor: DockerExecutor) -> None:
    await executor.run("gone = 1")
    old = executor.container_name
    subprocess.run(["docker", "kill", old], capture_output=True, check=True)
    deadline = time.monotonic() + 2
    while executor.is_alive() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not executor.is_alive()  # noticed within 2 s, with no execution running
    result = await executor.run("'gone' in dir()")
    assert result.workspace_lost and result.output == "False"
    assert executor.container_name != old and executor.restarts >= 1


async def test_orphans_of_dead_hosts_are_swept(docker_image: str) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    client = docker_client()
    orphan = client.containers.run(docker_image, ["sleep", "600"], detach=True, network_mode="none",
                                   labels={"smolkernel.executor": "docker", "smolkernel.host": os.uname().nodename,
                                           "smolkernel.host_pid": str(dead.pid), "smolkernel.host_start": "1"})
    removed = sweep_orphans(client)
    assert orphan.name in removed
    assert orphan.name not in {c.name for c in client.containers.list(all=True)}


async def test_close_leaves_nothing(docker_image: str) -> None:
    executor = resolve_executor("docker", timeout=10)
    await executor.start()
    name, folder = executor.container_name, executor._process.runtime_dir
    await executor.close()
    assert name not in {c.name for c in docker_client().containers.list(all=True)}
    assert not Path(folder).exists()


async def test_image_tag_follows_the_recipe() -> None:
    assert DEFAULT_RECIPE.tag == ImageRecipe().tag
    assert ImageRecipe(packages=(*DEFAULT_RECIPE.packages, "python3-yaml")).tag != DEFAULT_RECIPE.tag


async def test_image_build_command_reuses_the_cached_image(docker_image: str) -> None:
    done = subprocess.run([sys.executable, "-m", "smolkernel.cli", "image", "build"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{docker_image} is up to date" in done.stderr and done.stdout.strip() == docker_image
