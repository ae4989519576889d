"""``ModalExecutor``: generated code runs in a Modal sandbox; tools stay in the host.

Built on ``modal.Sandbox`` (``pip install "smolkernel[modal]"``; credentials
come from Modal's own configuration: ``MODAL_TOKEN_ID`` / ``MODAL_TOKEN_SECRET``
or ``~/.modal.toml``). The sandbox's entrypoint is a Jupyter Kernel Gateway
with a random token, published on an encrypted port; the executor waits until
the gateway answers through the tunnel (probed, not slept), then runs the code
in one of its kernels over the websocket protocol (``JupyterServerExecutor``),
whose stdin channel carries tool calls back to the host.

The sandbox is terminated on ``close()`` and at host exit; Modal's own
``sandbox_timeout`` ends it in any case. Isolation is Modal's (gVisor).

``sandbox_factory`` replaces ``modal.Sandbox``: anything with the same
``create(*entrypoint, **options)`` returning an object with ``tunnels()``,
``poll()`` and ``terminate()``. The tests use one that runs the same
entrypoint as a local subprocess, since no Modal cloud is reachable here.
"""

from __future__ import annotations

import asyncio
import atexit
import secrets
import time
import urllib.error
import urllib.request
import weakref
from typing import Any

from ..exceptions import ExecutorError, MissingExtraError
from .base import DEFAULT_MAX_OUTPUT_CHARS
from .jupyter_server import JupyterServerExecutor

__all__ = ["ModalExecutor", "gateway_entrypoint"]

GATEWAY_PORT = 8888
APP_NAME = "smolkernel-executor"
_LIVE: weakref.WeakSet[ModalExecutor] = weakref.WeakSet()


def gateway_entrypoint(port: int, token: str) -> list[str]:
    """The sandbox's command: a Kernel Gateway on ``port`` that requires ``token``."""
    return ["jupyter", "kernelgateway", "--KernelGatewayApp.ip=0.0.0.0", f"--KernelGatewayApp.port={port}",
            f"--KernelGatewayApp.auth_token={token}", "--JupyterWebsocketPersonality.list_kernels=True"]


def _modal() -> Any:
    try:
        import modal
    except ImportError:
        raise MissingExtraError("modal", "modal", "the 'modal' executor") from None
    return modal


class ModalExecutor(JupyterServerExecutor):
    """Run generated code in a Modal sandbox running a Kernel Gateway.

    Args:
        timeout: seconds one execution may take.
        app_name: the Modal app the sandbox belongs to (created when missing).
        image: a ``modal.Image`` with ``jupyter_kernel_gateway`` and ``ipykernel``
            (default: ``debian_slim`` with both pip-installed).
        sandbox_timeout: seconds the sandbox may live (Modal's own limit).
        cpu, memory_limit_mb: the sandbox's resources.
        block_network: cut the sandbox's outbound network (the tunnel still works).
        port: the gateway's port inside the sandbox.
        sandbox_factory: replaces ``modal.Sandbox`` (see the module docstring).
        max_output_chars, allow_pickle, startup_timeout, interrupt_grace: as for ``KernelExecutor``.
    """

    name = "modal"

    def __init__(self, timeout: float | None = 60.0, *, app_name: str = APP_NAME, image: Any = None,
                 sandbox_timeout: int = 3600, cpu: float | None = None, memory_limit_mb: int | None = None,
                 block_network: bool = True, port: int = GATEWAY_PORT, sandbox_factory: Any = None,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS, allow_pickle: bool = False,
                 startup_timeout: float = 120.0, interrupt_grace: float = 2.0) -> None:
        super().__init__("http://modal.invalid", token=secrets.token_hex(24), timeout=timeout,
                         max_output_chars=max_output_chars, allow_pickle=allow_pickle,
                         startup_timeout=startup_timeout, interrupt_grace=interrupt_grace)
        self.app_name = app_name
        self.image = image
        self.sandbox_timeout = sandbox_timeout
        self.cpu = cpu
        self.sandbox_memory_mb = memory_limit_mb
        self.block_network = block_network
        self.port = port
        self.sandbox_factory = sandbox_factory
        self.sandbox: Any = None
        """The sandbox object while started."""

    async def start(self) -> None:
        """Create the sandbox (once), wait until its gateway answers, then open a kernel in it.

        Raises:
            MissingExtraError: modal is not installed (and no ``sandbox_factory`` was given).
            ExecutorError: the sandbox did not start or its gateway did not answer in time.
        """
        if self._process is not None:
            return
        if self.sandbox is None or self.sandbox.poll() is not None:
            await self._create_sandbox()
        await super().start()

    def _create_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"timeout": self.sandbox_timeout, "encrypted_ports": [self.port],
                                   "block_network": self.block_network}
        if self.cpu is not None:
            options["cpu"] = self.cpu
        if self.sandbox_memory_mb is not None:
            options["memory"] = self.sandbox_memory_mb
        if self.sandbox_factory is None:
            modal = _modal()
            options["app"] = modal.App.lookup(self.app_name, create_if_missing=True)
            options["image"] = self.image or modal.Image.debian_slim().pip_install("jupyter_kernel_gateway", "ipykernel")
        elif self.image is not None:
            options["image"] = self.image
        return options

    async def _create_sandbox(self) -> None:
        factory = self.sandbox_factory or _modal().Sandbox
        entrypoint = gateway_entrypoint(self.port, self.token)
        try:
            self.sandbox = await asyncio.to_thread(lambda: factory.create(*entrypoint, **self._create_options()))
        except Exception as exc:
            raise ExecutorError(f"could not create the Modal sandbox: {exc}") from None
        _LIVE.add(self)
        try:
            tunnels = await asyncio.to_thread(self.sandbox.tunnels)
            self.url = tunnels[self.port].url.rstrip("/")
            await self._wait_for_gateway()
        except BaseException:
            await self._terminate()
            raise

    async def _wait_for_gateway(self) -> None:
        """Poll the gateway's API through the tunnel until it answers (or the sandbox ends)."""
        deadline = time.monotonic() + self.startup_timeout
        request = urllib.request.Request(f"{self.url}/api", headers={"Authorization": f"token {self.token}"})
        while time.monotonic() < deadline:
            if self.sandbox.poll() is not None:
                raise ExecutorError(f"the Modal sandbox exited during start (status {self.sandbox.poll()})")
            try:
                await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=2).close())  # noqa: S310
                return
            except (urllib.error.URLError, OSError):
                await asyncio.sleep(0.2)
        raise ExecutorError(f"the Modal sandbox's gateway did not answer within {self.startup_timeout:g} s")

    async def close(self) -> None:
        """Delete the kernel and terminate the sandbox."""
        try:
            await super().close()
        finally:
            await self._terminate()

    async def _terminate(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        _LIVE.discard(self)
        if sandbox is not None:
            try:
                await asyncio.to_thread(sandbox.terminate)
            except Exception:  # already ended
                pass


@atexit.register
def _terminate_leftovers() -> None:
    """At host exit: terminate the sandboxes of executors that were never closed."""
    for executor in list(_LIVE):
        if executor.sandbox is not None:
            try:
                executor.sandbox.terminate()
            except Exception:  # best effort at exit
                pass
