"""Helpers of the serve tests: a real ``smolkernel serve`` process, redis-server, an SSE reader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """A redis-server on a free loopback port, its data in ``folder`` (append-only file, so a restart keeps it)."""

    def __init__(self, command: str, folder: Path, port: int | None = None):
        self.command, self.folder, self.port = command, folder, port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        import redis

        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.command, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.folder), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return self
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


class ServeProcess:
    """``python -m smolkernel.cli serve`` as a real uvicorn process on a free port."""

    def __init__(self, tmp: Path, *, agent: str = "serve_agents:echo_agent", redis_url: str | None = None,
                 keys: str | None = None, args: tuple[str, ...] = (), data_dir: Path | None = None, env: dict[str, str] | None = None):
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or tmp / f"data-{self.port}"
        command = [sys.executable, "-m", "smolkernel.cli", "serve", "--agent", agent, "--port", str(self.port), "--log-level", "warning", *args]
        command += ["--redis", redis_url] if redis_url else ["--data-dir", str(self.data_dir)]
        self.command = command
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]), LITELLM_LOCAL_MODEL_COST_MAP="True", **(env or {}))
        self.env.pop("SMOLKERNEL_API_KEYS", None)
        if keys:
            self.env["SMOLKERNEL_API_KEYS"] = keys
        self.log_path = tmp / f"serve-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServeProcess:
        """Start the server and wait until /healthz answers."""
        return self.launch().wait_ready(timeout)

    def launch(self) -> ServeProcess:
        """Start the process without waiting (start several, then ``wait_ready`` each)."""
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        return self

    def wait_ready(self, timeout: float = 60) -> ServeProcess:
        """Wait until /healthz answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; log:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def read_sse(client: httpx.Client, path: str, *, last_event_id: int | None = None, timeout: float = 30) -> list[dict[str, Any]]:
    """Read an event stream to its end, as a browser's EventSource parses it."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events, fields, data = [], {}, []
    with client.stream("GET", path, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line == "":
                if data:
                    events.append({"id": int(fields["id"]), "event": fields.get("event", "message"), "data": json.loads("\n".join(data))})
                fields, data = {}, []
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
    return events


def wait_status(client: httpx.Client, run_id: str, statuses: tuple[str, ...], timeout: float = 30) -> dict[str, Any]:
    """Poll a run until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/v1/runs/{run_id}").json()
        if run.get("status") in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} stayed {run.get('status')!r}, expected one of {statuses}")
        time.sleep(0.05)
