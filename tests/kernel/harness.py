"""Driving a real SmolKernel through jupyter_client, for the kernel tests and the benchmark.

``start_kernel()`` launches ``python -m smolkernel.kernel`` from a KernelSpec
built here (the user's installed kernelspecs are never consulted);
``KernelDriver.execute`` runs one cell and gathers what it published.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from queue import Empty
from typing import Any

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

__all__ = ["CellRun", "KernelDriver", "code_reply", "start_kernel", "kernel_spec"]


def code_reply(code: str) -> str:
    """A model reply that runs ``code`` (the code agent's format)."""
    return f"Thought: doing it.\n```python\n{code}\n```"


def kernel_spec(module: str = "smolkernel.kernel", extra_args: tuple[str, ...] = ()) -> KernelSpec:
    """A spec that starts ``python -m module`` with this interpreter."""
    argv = [sys.executable, "-m", module, "-f", "{connection_file}", *extra_args]
    return KernelSpec(argv=argv, display_name=module, language="python", interrupt_mode="signal")


class _SpecManager(KernelManager):
    """A KernelManager whose spec is given, not looked up by name."""

    custom_spec: KernelSpec | None = None

    @property
    def kernel_spec(self) -> KernelSpec | None:  # type: ignore[override]
        return self.custom_spec


@dataclass
class CellRun:
    """What one execute request produced."""

    reply: dict[str, Any]
    outputs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply.get("status", "")

    @property
    def stdout(self) -> str:
        return "".join(c["text"] for t, c in self.outputs if t == "stream" and c["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(c["text"] for t, c in self.outputs if t == "stream" and c["name"] == "stderr")

    @property
    def result(self) -> dict[str, Any] | None:
        """The ``execute_result`` content, if any."""
        found = [c for t, c in self.outputs if t == "execute_result"]
        return found[-1] if found else None

    @property
    def error(self) -> dict[str, Any] | None:
        found = [c for t, c in self.outputs if t == "error"]
        return found[-1] if found else None

    @property
    def displays(self) -> list[dict[str, Any]]:
        return [c for t, c in self.outputs if t == "display_data"]

    def text(self) -> str:
        """Every text the cell showed (streams, results, errors), for loose assertions."""
        parts = []
        for msg_type, content in self.outputs:
            if msg_type == "stream":
                parts.append(content["text"])
            elif msg_type in ("execute_result", "display_data"):
                parts.append(str(content["data"].get("text/plain", "")))
            elif msg_type == "error":
                parts.append(f"{content['ename']}: {content['evalue']}")
        return "\n".join(parts)


class KernelDriver:
    """A started kernel and a blocking client."""

    def __init__(self, manager: KernelManager) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self, code: str, timeout: float = 180, **options: Any) -> CellRun:
        """Run one cell; returns its reply and IOPub outputs (raises TimeoutError past ``timeout``)."""
        msg_id = self.client.execute(code, **options)
        return self.collect(msg_id, timeout)

    def collect(self, msg_id: str, timeout: float = 180) -> CellRun:
        """Gather the outputs and the reply of the request ``msg_id``."""
        deadline = time.monotonic() + timeout
        outputs: list[tuple[str, dict[str, Any]]] = []
        while True:
            msg = self._next(self.client.get_iopub_msg, deadline)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msg_type = msg["header"]["msg_type"]
            if msg_type == "status" and msg["content"]["execution_state"] == "idle":
                break
            if msg_type not in ("status", "execute_input"):
                outputs.append((msg_type, msg["content"]))
        while True:
            reply = self._next(self.client.get_shell_msg, deadline)
            if reply["parent_header"].get("msg_id") == msg_id:
                return CellRun(reply["content"], outputs)

    def open_widget_manager(self) -> None:
        """Open the widget control comm, as JupyterLab's widget manager does when it connects."""
        import uuid

        content = {"comm_id": uuid.uuid4().hex, "target_name": "jupyter.widget.control", "data": {}}
        msg = self.client.session.msg("comm_open", content, metadata={"version": "1.0.0"})
        self.client.shell_channel.send(msg)

    def request(self, method: str, *args: Any, timeout: float = 30, **kwargs: Any) -> dict[str, Any]:
        """Send a shell request (``complete``, ``inspect``...) and return its reply content."""
        msg_id = getattr(self.client, method)(*args, **kwargs)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next(self.client.get_shell_msg, deadline)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]

    @staticmethod
    def _next(getter: Any, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the kernel did not answer in time")
        try:
            return getter(timeout=remaining)
        except Empty:
            raise TimeoutError("the kernel did not answer in time") from None

    def shutdown(self) -> None:
        """Stop the client and the kernel (waiting for a clean shutdown)."""
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=False)


def start_kernel(module: str = "smolkernel.kernel", *, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> KernelDriver:
    """Start a kernel of ``module`` and return a driver with a ready client."""
    manager = _SpecManager()
    manager.custom_spec = kernel_spec(module, extra_args)
    kernel_env = {k: v for k, v in os.environ.items() if k != "SMOLKERNEL_MODEL"}
    kernel_env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    kernel_env.update(env or {})
    manager.start_kernel(env=kernel_env)
    return KernelDriver(manager)
