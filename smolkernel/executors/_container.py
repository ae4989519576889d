"""One ipykernel in a hardened Docker container, reached over ZMQ IPC sockets in a shared folder.

Layout on the host (``mkdtemp``, mode 0700, removed on stop)::

    smolkernel-docker-XXXX/
        host.pid       the host's pid: folders of dead hosts are swept at the next start
        k/             bind-mounted at /kernel: kernel.json and the sockets ipc-1 ... ipc-5

``k/`` is writable by the container only until the kernel answers: then the
connection file (with the signing key) is deleted and the folder becomes
0700, owned by the host user, so code in the container can neither read the
key, nor add files there (fill the host's disk), nor replace the sockets.
No TCP port is opened anywhere: the container has no network at all.

Every container carries labels naming the host (``smolkernel.host``,
``smolkernel.host_pid``, ``smolkernel.host_start``); each start removes the
containers of this machine whose host process is gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient

from ..exceptions import ExecutorError, MissingExtraError

__all__ = ["ContainerKernel", "ContainerSettings", "sweep_orphans", "docker_client"]

LABEL = "smolkernel.executor"
MOUNT = "/kernel"
_PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}


def docker_client() -> Any:
    """A docker-py client for the local engine.

    Raises:
        MissingExtraError: docker-py is not installed.
        ExecutorError: no engine answers (the message says how to start one).
    """
    try:
        import docker
    except ImportError:
        raise MissingExtraError("docker", "docker", "the 'docker' executor") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:
        raise ExecutorError(f"no Docker engine answers ({exc}); start it (e.g. `sudo systemctl start docker`, "
                            "or scripts/dockerd.sh on a machine without systemd)") from None
    return client


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (from /proc), so a reused pid is not mistaken for the host."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def host_labels() -> dict[str, str]:
    """Labels that name this host process."""
    pid = os.getpid()
    return {LABEL: "docker", "smolkernel.host": socket.gethostname(), "smolkernel.host_pid": str(pid),
            "smolkernel.host_start": _start_time(pid)}


def sweep_orphans(client: Any) -> list[str]:
    """Remove this machine's smolkernel containers whose host process is gone; return their names."""
    removed = []
    host = socket.gethostname()
    for container in client.containers.list(all=True, filters={"label": [LABEL, f"smolkernel.host={host}"]}):
        labels = container.labels
        pid = int(labels.get("smolkernel.host_pid", "0") or 0)
        if pid and _start_time(pid) == labels.get("smolkernel.host_start") and _start_time(pid):
            continue  # its host still runs
        try:
            container.remove(force=True)
            removed.append(container.name)
        except Exception:  # removed by someone else meanwhile
            pass
    return removed


class ContainerSettings:
    """How the container is hardened and limited (see ``DockerExecutor`` for each option)."""

    def __init__(self, *, image: str, memory_limit_mb: int, cpus: float, max_processes: int, tmp_size_mb: int,
                 user: str, startup_timeout: float, env: dict[str, str]) -> None:
        self.image = image
        self.memory_limit_mb = memory_limit_mb
        self.cpus = cpus
        self.max_processes = max_processes
        self.tmp_size_mb = tmp_size_mb
        self.user = user
        self.startup_timeout = startup_timeout
        self.env = env

    def run_options(self, socket_dir: Path) -> dict[str, Any]:
        """Keyword arguments of ``containers.run``."""
        env = {"HOME": "/tmp", "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.matplotlib",
               "PYTHONDONTWRITEBYTECODE": "1", **self.env}
        return dict(
            detach=True, init=True, user=self.user, working_dir="/tmp", environment=env,
            network_mode="none", read_only=True, ipc_mode="private",
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.tmp_size_mb}m,mode=1777"},
            mem_limit=f"{self.memory_limit_mb}m", memswap_limit=f"{self.memory_limit_mb}m",
            nano_cpus=int(self.cpus * 1e9), pids_limit=self.max_processes,
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            ulimits=_ulimits(), volumes={str(socket_dir): {"bind": MOUNT, "mode": "rw"}},
            labels=host_labels(), name=f"smolkernel-{secrets.token_hex(6)}",
        )


def _ulimits() -> list[Any]:
    from docker.types import Ulimit

    return [Ulimit(name="nofile", soft=1024, hard=1024), Ulimit(name="core", soft=0, hard=0)]


class ContainerKernel:
    """Start, watch, interrupt and remove one kernel container (the ``KernelProcess`` surface)."""

    def __init__(self, settings: ContainerSettings) -> None:
        self.settings = settings
        self.client: AsyncKernelClient | None = None
        self.runtime_dir: Path | None = None
        self.container: Any = None
        self.exit_status: int | None = None
        """The container's exit status once it stopped (set by a waiting thread)."""
        self.oom_killed = False
        """True when the engine reports the container was killed for exceeding its memory limit."""
        self._stopped = threading.Event()
        self._docker: Any = None
        self._finalizer: weakref.finalize | None = None

    @property
    def pid(self) -> int | None:
        return None

    @property
    def name(self) -> str | None:
        """The container's name, or None when stopped."""
        return self.container.name if self.container is not None else None

    @property
    def log_path(self) -> Path | None:
        return None

    def returncode(self) -> int | None:
        """The container's exit status once it stopped, else None."""
        return self.exit_status

    def is_alive(self) -> bool:
        """True while the container runs (a thread waits on the engine, so this costs nothing)."""
        return self.container is not None and not self._stopped.is_set()

    async def start(self) -> None:
        """Create the container and wait until its kernel answers (probed, never slept).

        Raises:
            ExecutorError: the container or the kernel did not start; the message quotes its log.
        """
        self._docker = await asyncio.to_thread(docker_client)
        await asyncio.to_thread(sweep_orphans, self._docker)
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="smolkernel-docker-"))
        (self.runtime_dir / "host.pid").write_text(str(os.getpid()))
        socket_dir = self.runtime_dir / "k"
        socket_dir.mkdir()
        os.chmod(socket_dir, 0o777)  # the container's user binds its sockets here; closed after start
        info = self._write_connection_file(socket_dir)
        try:
            await self._run_container(socket_dir)
            self.client = AsyncKernelClient()
            self.client.load_connection_info({**info, "ip": str(socket_dir / "ipc")})
            self.client.start_channels(hb=False)
            await self._wait_ready()
        except BaseException as exc:
            log = await asyncio.to_thread(self.read_log)
            await self.stop()
            if isinstance(exc, ExecutorError):
                raise
            raise ExecutorError(f"the kernel container did not start: {exc}\n{log}".rstrip()) from None
        (socket_dir / "kernel.json").unlink(missing_ok=True)
        os.chmod(socket_dir, 0o700)

    def _write_connection_file(self, socket_dir: Path) -> dict[str, Any]:
        info = {**_PORTS, "transport": "ipc", "ip": f"{MOUNT}/ipc", "key": secrets.token_hex(32),
                "signature_scheme": "hmac-sha256", "kernel_name": "python3"}
        path = socket_dir / "kernel.json"
        path.write_text(json.dumps(info))
        os.chmod(path, 0o666)  # ipykernel rewrites it
        return info

    async def _run_container(self, socket_dir: Path) -> None:
        command = ["sh", "-c", f"umask 0; exec python3 -m ipykernel_launcher -f {MOUNT}/kernel.json --quiet"]
        options = self.settings.run_options(socket_dir)
        self.container = await asyncio.to_thread(self._docker.containers.run, self.settings.image, command, **options)
        self._finalizer = weakref.finalize(self, _emergency_remove, self._docker, self.container.id, str(self.runtime_dir))
        threading.Thread(target=self._watch, args=(self.container,), daemon=True, name="smolkernel-docker-wait").start()

    def _watch(self, container: Any) -> None:
        """Block on the engine until the container stops; record how it ended."""
        try:
            status = container.wait().get("StatusCode")
        except Exception:  # removed or engine gone: either way it no longer runs
            status = None
        try:
            container.reload()
            self.oom_killed = bool(container.attrs["State"].get("OOMKilled"))
        except Exception:  # removed already
            pass
        self.exit_status = status
        if self.container is container:
            self._stopped.set()

    async def _wait_ready(self) -> None:
        ready = asyncio.ensure_future(self.client.wait_for_ready(timeout=self.settings.startup_timeout))
        try:
            while not ready.done():
                await asyncio.wait({ready}, timeout=0.1)
                if not ready.done() and not self.is_alive():
                    raise ExecutorError(f"the kernel container exited during start (status {self.exit_status}):\n"
                                        f"{await asyncio.to_thread(self.read_log)}".rstrip())
            ready.result()
        finally:
            ready.cancel()

    def read_log(self, limit: int = 2000) -> str:
        """The tail of the container's output (for error messages)."""
        try:
            return self.container.logs(tail=40).decode(errors="replace")[-limit:] if self.container else ""
        except Exception:
            return ""

    async def interrupt(self) -> None:
        """SIGINT to the kernel (the container's init forwards it)."""
        if self.is_alive():
            try:
                await asyncio.to_thread(self.container.kill, signal="SIGINT")
            except Exception:  # stopped meanwhile
                pass

    async def stop(self) -> None:
        """Remove the container and the runtime folder."""
        container, self.container = self.container, None
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        if container is not None:
            try:
                await asyncio.to_thread(container.remove, force=True)
            except Exception:  # gone already
                pass
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.runtime_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self.runtime_dir, True)
            self.runtime_dir = None


def _emergency_remove(docker: Any, container_id: str, runtime_dir: str) -> None:
    """At interpreter exit or garbage collection of a container never stopped: remove it."""
    try:
        docker.api.remove_container(container_id, force=True)
    except Exception:
        pass
    shutil.rmtree(runtime_dir, ignore_errors=True)
