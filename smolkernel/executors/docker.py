"""``DockerExecutor``: the sibling kernel in a hardened Docker container.

::

    host (agent, tools)                          container (no network, read-only root)
    DockerExecutor.run(code) ── ZMQ over IPC sockets in a bind-mounted folder ──►  ipykernel
         ◄── IOPub / stdin (tool calls through the ToolBridge) ──

The container gets no network (``--network none``), a read-only root, a
size-limited ``/tmp`` (the only writable place), memory (no swap), CPU and
pids limits, every capability dropped, ``no-new-privileges``, a non-root user
(uid 1000) and an init process; the host reaches the kernel through IPC
sockets, so no TCP port is opened. See ``_container`` for the socket folder.

The image is built offline from Debian packages (``smolkernel image build``;
see ``docker_image``); the first ``start()`` builds it when it is missing and
says so on stderr. Faults are reported as with ``KernelExecutor``: a timeout
interrupts (SIGINT through the container's init); a container that stops is
noticed at once (a thread waits on the engine), replaced, and the step says
the workspace was lost, naming an out-of-memory kill as such.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from .base import DEFAULT_MAX_OUTPUT_CHARS, CodeOutput
from ._container import ContainerKernel, ContainerSettings
from .docker_image import DEFAULT_RECIPE, KERNEL_UID, ImageRecipe, ensure_image
from .kernel import KernelExecutor

__all__ = ["DockerExecutor"]


class DockerExecutor(KernelExecutor):
    """Run generated code in an ipykernel inside a locked-down Docker container.

    Args:
        timeout: seconds one execution may take (None: no limit).
        memory_limit_mb: the container's memory limit (no swap); exceeding it is reported as out of memory.
        cpus: CPU cores the container may use.
        max_processes: processes and threads in the container.
        tmp_size_mb: size of the writable ``/tmp``.
        image: an image to run instead of the built one (it must have ``python3 -m ipykernel_launcher``
            and ``sh``).
        recipe: the recipe of the image built when ``image`` is not given.
        env: variables for the kernel (nothing of the host's environment goes in).
        max_output_chars, allow_pickle, startup_timeout, interrupt_grace: as for ``KernelExecutor``.
    """

    name = "docker"

    def __init__(self, timeout: float | None = 60.0, *, memory_limit_mb: int = 1024, cpus: float = 1.0,
                 max_processes: int = 128, tmp_size_mb: int = 128, image: str | None = None,
                 recipe: ImageRecipe = DEFAULT_RECIPE, env: Mapping[str, str] | None = None,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS, allow_pickle: bool = False,
                 startup_timeout: float = 60.0, interrupt_grace: float = 2.0) -> None:
        super().__init__(timeout, max_output_chars=max_output_chars, allow_pickle=allow_pickle,
                         startup_timeout=startup_timeout, interrupt_grace=interrupt_grace,
                         memory_limit_mb=memory_limit_mb, max_processes=max_processes)
        self.memory_limit_mb = memory_limit_mb
        self.cpus = cpus
        self.max_processes = max_processes
        self.tmp_size_mb = tmp_size_mb
        self.image = image
        self.recipe = recipe
        self.container_env = dict(env or {})

    @property
    def container_name(self) -> str | None:
        """The running container's name, or None."""
        return self._process.name if self._process is not None else None

    def _settings(self, image: str) -> ContainerSettings:
        uid = KERNEL_UID if os.getuid() != KERNEL_UID else KERNEL_UID + 1  # never the host user's own uid
        return ContainerSettings(image=image, memory_limit_mb=self.memory_limit_mb, cpus=self.cpus,
                                 max_processes=self.max_processes, tmp_size_mb=self.tmp_size_mb,
                                 user=f"{uid}:{uid}", startup_timeout=self.startup_timeout, env=self.container_env)

    async def start(self) -> None:
        """Start the container (building the image first when missing) and install the bridge.

        Raises:
            ConfigurationError: Docker, docker-py or (to build the image) mmdebstrap is missing.
            ExecutorError: the engine is not running, or the container did not start.
        """
        if self._process is not None:
            return
        async with self._start_lock:
            if self._process is not None:
                return
            image = self.image or await asyncio.to_thread(ensure_image, self.recipe)
            kernel = ContainerKernel(self._settings(image))
            await kernel.start()
            self._process = kernel  # type: ignore[assignment]
            self._install_needed = True
            await self._install()

    async def _recover(self, result: CodeOutput, state: str) -> None:
        """As ``KernelExecutor``, naming an out-of-memory kill and the container's exit status."""
        kernel: Any = self._process
        oom = state == "died" and kernel is not None and await _was_oom_killed(kernel)
        status = kernel.exit_status if kernel is not None else None
        await super()._recover(result, state)
        if state != "died" or not result.error:
            return
        if oom:
            what = f"the container ran out of memory (limit {self.memory_limit_mb} MB) and was killed"
        else:
            what = f"the container stopped (exit status {status})"
        result.error = (f"ExecutorDied: {what}; it was restarted and the workspace was lost: "
                        "variables and imports must be recreated")


async def _was_oom_killed(kernel: ContainerKernel) -> bool:
    """Wait (briefly) for the watcher thread to read the container's final state."""
    for _ in range(20):
        if kernel.exit_status is not None or kernel.oom_killed:
            break
        await asyncio.sleep(0.05)
    return kernel.oom_killed
