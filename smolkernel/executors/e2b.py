"""``E2BExecutor``: generated code runs in an E2B cloud sandbox; tools stay in the host.

Built on the ``e2b-code-interpreter`` SDK (``pip install "smolkernel[e2b]"``;
the key is read from ``$E2B_API_KEY``). The code-interpreter template runs a
Jupyter server inside the sandbox (port 8888) beside its code-running API
(``POST /execute`` on port 49999, an NDJSON stream). This executor:

1. creates the sandbox with ``AsyncSandbox.create``;
2. probes readiness through ``run_code`` (the ``/execute`` API) instead of sleeping;
3. runs the generated code in a kernel of the sandbox's Jupyter server over
   its websocket protocol (``JupyterServerExecutor``), because that protocol
   has the stdin channel that carries tool calls back to the host, which
   ``/execute`` has not;
4. kills the sandbox on ``close()``, and at host exit if ``close()`` was never called.

Timeouts, deaths and variables behave as for ``JupyterServerExecutor``.
Isolation is E2B's (a Firecracker microVM per sandbox). In tests
(``E2B_DEBUG=true``) the SDK makes no cloud call and reaches ``localhost``
ports, where the tests serve a stand-in of the sandbox's two servers.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Any

from ..exceptions import ConfigurationError, ExecutorError, MissingExtraError
from .base import DEFAULT_MAX_OUTPUT_CHARS
from .jupyter_server import JupyterServerExecutor

__all__ = ["E2BExecutor"]

JUPYTER_PORT = 8888
"""Where the code-interpreter template's Jupyter server listens inside the sandbox."""
_LIVE: weakref.WeakSet[E2BExecutor] = weakref.WeakSet()


def _sdk() -> Any:
    try:
        import e2b_code_interpreter
    except ImportError:
        raise MissingExtraError("e2b-code-interpreter", "e2b", "the 'e2b' executor") from None
    return e2b_code_interpreter


class E2BExecutor(JupyterServerExecutor):
    """Run generated code in an E2B sandbox, with host tools called over the kernel's stdin channel.

    Args:
        timeout: seconds one execution may take.
        template: the sandbox template (default: the SDK's code-interpreter template).
        api_key: the E2B key; default ``$E2B_API_KEY`` (not needed with ``E2B_DEBUG=true``).
        sandbox_timeout: seconds the sandbox lives without being closed (E2B's own limit).
        jupyter_port: the port of the Jupyter server inside the sandbox.
        jupyter_token: its token, when the template sets one.
        max_output_chars, allow_pickle, startup_timeout, interrupt_grace: as for ``KernelExecutor``.
    """

    name = "e2b"

    def __init__(self, timeout: float | None = 60.0, *, template: str | None = None, api_key: str | None = None,
                 sandbox_timeout: int = 600, jupyter_port: int = JUPYTER_PORT, jupyter_token: str | None = None,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS, allow_pickle: bool = False,
                 startup_timeout: float = 60.0, interrupt_grace: float = 2.0) -> None:
        super().__init__("http://e2b.invalid", token=jupyter_token or "", timeout=timeout,
                         max_output_chars=max_output_chars, allow_pickle=allow_pickle,
                         startup_timeout=startup_timeout, interrupt_grace=interrupt_grace)
        self.template = template
        self.api_key = api_key or os.environ.get("E2B_API_KEY")
        self.sandbox_timeout = sandbox_timeout
        self.jupyter_port = jupyter_port
        self.sandbox: Any = None
        """The SDK's ``AsyncSandbox`` while started."""

    @property
    def sandbox_id(self) -> str | None:
        """The E2B sandbox id, or None when stopped."""
        return self.sandbox.sandbox_id if self.sandbox is not None else None

    async def start(self) -> None:
        """Create the sandbox (once), wait until it runs code, then open a kernel in it.

        Raises:
            ConfigurationError: no API key (outside debug mode).
            MissingExtraError: the SDK is not installed.
            ExecutorError: the sandbox could not be created or did not become ready.
        """
        if self._process is not None:
            return
        if self.sandbox is None:
            await self._create_sandbox()
        await super().start()

    async def _create_sandbox(self) -> None:
        sdk = _sdk()
        debug = os.environ.get("E2B_DEBUG", "").lower() == "true"
        if not self.api_key and not debug:
            raise ConfigurationError("the 'e2b' executor needs an E2B API key: set $E2B_API_KEY (or pass api_key=)")
        options = {"api_key": self.api_key} if self.api_key else {}
        try:
            sandbox = await sdk.AsyncSandbox.create(template=self.template, timeout=self.sandbox_timeout, **options)
        except Exception as exc:
            raise ExecutorError(f"could not create the E2B sandbox: {exc}") from None
        self.sandbox = sandbox
        _LIVE.add(self)
        try:
            probe = await sandbox.run_code("1 + 1", timeout=self.startup_timeout)
        except Exception as exc:
            await self._kill_sandbox()
            raise ExecutorError(f"the E2B sandbox did not become ready: {exc}") from None
        if probe.error is not None or probe.text != "2":
            await self._kill_sandbox()
            raise ExecutorError(f"the E2B sandbox answered the readiness probe wrongly: {probe.error or probe.text!r}")
        scheme = "http" if sandbox.connection_config.debug else "https"
        self.url = f"{scheme}://{sandbox.get_host(self.jupyter_port)}"
        traffic = getattr(sandbox, "traffic_access_token", None)
        if traffic:
            self.headers["E2B-Traffic-Access-Token"] = traffic

    async def close(self) -> None:
        """Delete the kernel and kill the sandbox."""
        try:
            await super().close()
        finally:
            await self._kill_sandbox()

    async def _kill_sandbox(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        _LIVE.discard(self)
        if sandbox is not None:
            try:
                await sandbox.kill()
            except Exception:  # already gone; E2B's own timeout ends it anyway
                pass


@atexit.register
def _kill_leftovers() -> None:
    """At host exit: kill the sandboxes of executors that were never closed."""
    if not _LIVE:
        return
    try:
        sdk = _sdk()
    except MissingExtraError:
        return
    for executor in list(_LIVE):
        sandbox = executor.sandbox
        if sandbox is None:
            continue
        try:
            options = {"api_key": executor.api_key} if executor.api_key else {}
            sdk.Sandbox.kill(sandbox.sandbox_id, **options)
        except Exception:  # best effort at exit
            pass
