"""deploy/: the compose file passes docker-compose's own validation; the server image serves an agent.

The image test builds ``smolkernel-serve`` offline with ``deploy/build-image.sh``
on the base image that ``smolkernel image build`` makes (mmdebstrap; built
first when missing, a few minutes), starts it
with host networking (this machine's dockerd runs with ``--bridge=none``) and
calls its API over real HTTP; then it runs compose.yaml's Dask services from
the same image (a scheduler and a worker container, and the API with
``--dask``). Skipped locally when docker or its daemon is missing; a failure
under ``CI=true``.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import needs
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

SPEC = """\
kind: toolcalling
name: in_docker
model: scripted
model_options:
  responses:
    - {tool_calls: [{name: final_answer, arguments: {answer: served from the image}}]}
"""


def test_image_requirements_pin_every_dependency_of_its_extras():
    """deploy/requirements.txt (the image's offline wheels) must list what the serve, openai and dask extras need."""
    import re
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {Requirement(text) for extra in ("serve", "openai", "dask") for text in project["optional-dependencies"][extra]}
    needed |= {Requirement(text) for text in project["dependencies"]}
    linux = {"sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11"}
    wanted = {re.sub(r"[-_.]+", "-", r.name.lower()) for r in needed if r.marker is None or r.marker.evaluate(linux)}
    pinned = {re.sub(r"[-_.]+", "-", line.split("==")[0].lower()) for line in (DEPLOY / "requirements.txt").read_text().splitlines() if "==" in line}
    assert wanted - {"smolkernel"} <= pinned, f"regenerate deploy/requirements.txt (its header has the command): missing {sorted(wanted - pinned)}"


def test_compose_file_passes_docker_compose_validation():
    command = needs.require_command("docker-compose", "docker-compose")
    env = dict(os.environ, SMOLKERNEL_API_KEYS="k1,k2")
    checked = subprocess.run([command, "-f", str(DEPLOY / "compose.yaml"), "config"], capture_output=True, text=True, env=env, timeout=60)
    assert checked.returncode == 0, checked.stderr
    config = yaml.safe_load(checked.stdout)
    services = config["services"]
    assert set(services) == {"redis", "api", "balancer", "scheduler", "worker"}
    api = services["api"]
    assert "--redis" in api["command"] and api["environment"]["SMOLKERNEL_API_KEYS"] == "k1,k2"
    assert api["command"][api["command"].index("--dask") + 1] == "tcp://scheduler:8786"
    # the scheduler and workers run the server's own image (it has dask[distributed]), with dask's own commands
    assert services["scheduler"]["image"] == services["worker"]["image"] == api["image"]
    assert services["scheduler"]["entrypoint"][-2:] == ["dask", "scheduler"] and "8786" in services["scheduler"]["command"]
    assert services["worker"]["entrypoint"][-2:] == ["dask", "worker"] and services["worker"]["command"][0] == "tcp://scheduler:8786"
    assert '"smolkernel[serve,openai,dask]"' in (DEPLOY / "Dockerfile").read_text()
    pinned = {line.split("==")[0] for line in (DEPLOY / "requirements.txt").read_text().splitlines() if "==" in line}
    assert {"dask", "distributed", "fastapi", "redis"} <= pinned
    missing_keys = subprocess.run([command, "-f", str(DEPLOY / "compose.yaml"), "config", "-q"], capture_output=True, text=True,
                                  env={k: v for k, v in os.environ.items() if k != "SMOLKERNEL_API_KEYS"}, timeout=60)
    assert missing_keys.returncode != 0 and "SMOLKERNEL_API_KEYS" in missing_keys.stderr


def _docker_ready() -> None:
    needs.require_command("docker", "docker.io")
    listed = subprocess.run(["docker", "images", "-q"], capture_output=True, text=True, timeout=30)
    if listed.returncode != 0:
        needs.missing(f"the Docker daemon is not reachable: {listed.stderr.strip()}")
    listed = subprocess.run(["docker", "images", "smolkernel-kernel", "-q"], capture_output=True, text=True, timeout=30)
    if not listed.stdout.strip():
        needs.require_command("mmdebstrap", "mmdebstrap")  # build-image.sh builds the base with it


@pytest.mark.slow
def test_server_image_builds_offline_and_serves_an_agent(tmp_path):
    _docker_ready()
    tag = "smolkernel-serve:test"
    built = subprocess.run(["bash", str(DEPLOY / "build-image.sh")], capture_output=True, text=True, timeout=1200, env=dict(os.environ, TAG=tag))
    assert built.returncode == 0, built.stderr[-3000:]
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.yaml").write_text(SPEC)
    agent.chmod(0o755)
    (agent / "agent.yaml").chmod(0o644)
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    container = subprocess.run(
        ["docker", "run", "-d", "--rm", "--network", "host", "-e", "SMOLKERNEL_API_KEYS=image-key", "-v", f"{agent}:/agent:ro",
         tag, "--agent", "/agent/agent.yaml", "--host", "127.0.0.1", "--port", str(port), "--data-dir", "/data"],
        capture_output=True, text=True, timeout=60,
    ).stdout.strip()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, subprocess.run(["docker", "logs", container], capture_output=True, text=True).stdout
            time.sleep(0.3)
        assert httpx.post(f"{url}/v1/runs", json={"task": "hi"}).status_code == 401
        run = httpx.post(f"{url}/v1/runs", json={"task": "hi", "wait": True}, headers={"Authorization": "Bearer image-key"}, timeout=30).json()
        assert run["status"] == "succeeded" and run["output"] == "served from the image"
        user = subprocess.run(["docker", "exec", container, "id", "-u"], capture_output=True, text=True, timeout=30).stdout.strip()
        assert user == "1000"  # the server does not run as root
    finally:
        subprocess.run(["docker", "stop", "-t", "5", container], capture_output=True, timeout=60)
    _serves_on_dask_containers(tag, agent)


def _free_port() -> int:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, container: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, subprocess.run(["docker", "logs", container], capture_output=True, text=True).stdout
        time.sleep(0.3)


def _serves_on_dask_containers(tag: str, agent: Path) -> None:
    """compose.yaml's Dask services, with host networking: a scheduler and a worker container run by the
    image's ``dask`` command, and the API container with ``--dask``; the run executes in the worker container."""
    scheduler, port = _free_port(), _free_port()
    run = ["docker", "run", "-d", "--rm", "--network", "host"]
    containers = [
        subprocess.run([*run, "--entrypoint", "tini", tag, "--", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(scheduler),
                        "--dashboard-address", f":{_free_port()}"], capture_output=True, text=True, timeout=60).stdout.strip(),
        subprocess.run([*run, "--entrypoint", "tini", tag, "--", "dask", "worker", f"tcp://127.0.0.1:{scheduler}", "--host", "127.0.0.1",
                        "--nworkers", "1", "--nthreads", "16", "--local-directory", "/tmp/dask"], capture_output=True, text=True, timeout=60).stdout.strip(),
    ]
    try:
        containers.append(subprocess.run(
            [*run, "-v", f"{agent}:/agent:ro", tag, "--agent", "/agent/agent.yaml", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", "/data", "--dask", f"tcp://127.0.0.1:{scheduler}"], capture_output=True, text=True, timeout=60,
        ).stdout.strip())
        url = f"http://127.0.0.1:{port}"
        assert _wait_healthy(url, containers[-1])["dask"] == f"tcp://127.0.0.1:{scheduler}"
        done = httpx.post(f"{url}/v1/runs", json={"task": "hi", "wait": True}, timeout=60).json()
        assert done["status"] == "succeeded" and done["output"] == "served from the image", done
        # the pid the run reports is, in the worker container, the worker process the nanny spawned
        command = subprocess.run(["docker", "exec", containers[1], "cat", f"/proc/{done['worker']['pid']}/cmdline"],
                                 capture_output=True, text=True, timeout=30).stdout
        assert "spawn_main" in command, command
    finally:
        subprocess.run(["docker", "stop", "-t", "5", *containers], capture_output=True, timeout=60)
