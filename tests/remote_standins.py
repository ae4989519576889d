"""Local parts for the remote executors' tests: real Jupyter servers, and stand-ins where no cloud is reachable.

* ``start_server``: a real ``jupyter server`` or ``jupyter kernelgateway`` on loopback.
* ``ExecuteAPI``: a stand-in of the E2B code-interpreter's ``POST /execute``
  (NDJSON stream of ``stdout``, ``stderr``, ``result``, ``error``,
  ``end_of_execution``), backed by a real local ipykernel.
* ``LocalSandbox``: stands in for ``modal.Sandbox``: ``create(*entrypoint)``
  runs the same entrypoint as a local subprocess, and ``tunnels()`` points at it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_NO_EXTENSIONS = [f"--ServerApp.jpserver_extensions={name}=False"  # they cost seconds to load and are not used
                  for name in ("jupyterlab", "notebook", "jupyter_lsp", "jupyter_server_terminals", "notebook_shim")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(kind: str, port: int, token: str, root: Path) -> list[str]:
    """argv of a real ``jupyter server`` or ``jupyter kernelgateway`` on 127.0.0.1:``port``."""
    common = ["--KernelRestarter.time_to_dead=0.5"]  # notices a dead kernel sooner than its 3 s default
    if kind == "server":
        return [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
                "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                *_NO_EXTENSIONS, *common]
    return [sys.executable, "-m", "kernel_gateway", f"--KernelGatewayApp.port={port}", "--KernelGatewayApp.ip=127.0.0.1",
            f"--KernelGatewayApp.auth_token={token}", "--JupyterWebsocketPersonality.list_kernels=True", *common]


def wait_for_api(url: str, token: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            request = urllib.request.Request(url + "/api/kernelspecs", headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not answer within {timeout:g} s")


def start_server(kind: str, root: Path, token: str, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start a real Jupyter server (``kind`` ``server`` or ``gateway``) on loopback; wait until it answers."""
    port = port or free_port()
    log = root / f"{kind}.log"
    process = subprocess.Popen(server_command(kind, port, token, root), stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    wait_for_api(url, token, process, log)
    return process, url


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ExecuteAPI:
    """Stand-in of the E2B code interpreter's ``POST /execute`` on ``port``, running code in a real ipykernel."""

    def __init__(self, port: int) -> None:
        from jupyter_client import KernelManager

        self.manager = KernelManager()
        self.manager.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                if self.path != "/execute":
                    self.send_error(404)
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                api.requests.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for line in api.execute(body["code"]):
                    self.wfile.write(json.dumps(line).encode() + b"\n")
                    self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def execute(self, code: str) -> list[dict[str, Any]]:
        """Run ``code`` in the kernel; the NDJSON lines the real API would stream."""
        stamp = datetime.now(timezone.utc).isoformat()
        lines: list[dict[str, Any]] = []
        with self.lock:
            msg_id = self.client.execute(code)
            while True:
                message = self.client.get_iopub_msg(timeout=30)
                if message["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream":
                    lines.append({"type": content["name"], "text": content["text"], "timestamp": stamp})
                elif kind == "execute_result":
                    lines.append({"type": "result", "text": content["data"].get("text/plain"), "is_main_result": True})
                elif kind == "error":
                    lines.append({"type": "error", "name": content["ename"], "value": content["evalue"],
                                  "traceback": "\n".join(content["traceback"])})
                elif kind == "status" and content["execution_state"] == "idle":
                    break
        lines.append({"type": "end_of_execution"})
        return lines

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@dataclass
class Tunnel:
    url: str


class LocalSandbox:
    """Stands in for ``modal.Sandbox``: the entrypoint runs here as a subprocess; its port is on loopback.

    Records every ``create`` call's entrypoint and options (``created``) so a test can check what
    the executor asked Modal for.
    """

    created: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def __init__(self, entrypoint: tuple[str, ...], ports: list[int], folder: Path) -> None:
        command = [sys.executable, "-m", "kernel_gateway", *entrypoint[2:]] if entrypoint[:2] == ("jupyter", "kernelgateway") \
            else list(entrypoint)
        command = [a.replace("--KernelGatewayApp.ip=0.0.0.0", "--KernelGatewayApp.ip=127.0.0.1") for a in command]
        self.process = subprocess.Popen(command, stdout=(folder / "sandbox.log").open("wb"), stderr=subprocess.STDOUT, cwd=folder)
        self.ports = ports

    @classmethod
    def create(cls, *entrypoint: str, encrypted_ports: list[int] = (), **options: Any) -> LocalSandbox:
        import tempfile

        cls.created.append((entrypoint, {"encrypted_ports": list(encrypted_ports), **options}))
        return cls(entrypoint, list(encrypted_ports), Path(tempfile.mkdtemp(prefix="smolkernel-modal-standin-")))

    def tunnels(self, timeout: int = 50) -> dict[int, Tunnel]:
        return {port: Tunnel(f"http://127.0.0.1:{port}") for port in self.ports}

    def poll(self) -> int | None:
        return self.process.poll()

    def terminate(self) -> None:
        stop(self.process)


async def run_managed_agent(executor: Any) -> Any:
    """A CodeAgent on ``executor`` whose code calls a managed agent (which runs in the host, like any tool).

    The agent's tools replace the executor's: callers re-send theirs afterwards.
    """
    from smolkernel.agents import CodeAgent
    from smolkernel.testing import ScriptedModel

    researcher = CodeAgent([], ScriptedModel(["```python\nfinal_answer('42 moons')\n```"]), name="researcher",
                           description="Looks things up.")
    manager = CodeAgent([], ScriptedModel([
        "```python\nfacts = researcher(task='how many moons')\nprint(facts)\n```",
        "```python\nfinal_answer('Report: ' + facts)\n```",
    ]), managed_agents=[researcher], executor=executor)
    return await manager.arun("write a report")
