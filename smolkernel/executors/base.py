"""The executor contract: run code somewhere, keep its workspace, report what happened."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["CodeOutput", "Executor", "truncate"]

DEFAULT_MAX_OUTPUT_CHARS = 20_000


@dataclass
class CodeOutput:
    """What one execution produced."""

    output: Any = None
    """The final answer, or the value of the last expression (None if neither)."""
    logs: str = ""
    """Captured stdout and stderr, in order, possibly truncated."""
    displays: list[dict[str, Any]] = field(default_factory=list)
    """Rich displays (mime bundles) the code produced, e.g. a matplotlib figure."""
    error: str | None = None
    """A readable error (type, message, line in the generated code), or None."""
    is_final_answer: bool = False
    """True when the code called ``final_answer``."""
    duration: float = 0.0
    """Seconds the execution took."""
    workspace_lost: bool = False
    """True when the executor died and was restarted (variables are gone)."""
    answer_bundle: dict[str, Any] | None = None
    """The rich display (``{"data": ..., "metadata": ...}``) of a final answer that crossed a process
    boundary as text (its ``repr`` is in ``output``), e.g. a DataFrame's HTML table; None otherwise."""


class Executor(abc.ABC):
    """Where generated code runs. Every method is async.

    Tools always run in the host: an executor makes them callable from the
    generated code (``send_tools``); in process that is a plain function call,
    across a process boundary it goes through the ToolBridge.
    """

    name: ClassVar[str] = "executor"
    runs_ipython: ClassVar[bool] = False
    """True when code runs in an IPython shell, so ``%magic`` and ``!shell`` lines work."""

    def __init__(self, *, timeout: float | None = 60.0, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS):
        self.timeout = timeout
        """Seconds one execution may take before it is interrupted (None: no limit)."""
        self.max_output_chars = max_output_chars
        """Logs longer than this are cut, with a marker saying how much was dropped."""

    @property
    def allowed_imports(self) -> frozenset[str] | None:
        """Modules generated code may import, or None when any installed module may be."""
        return None

    async def start(self) -> None:
        """Prepare the executor (start a process...). Idempotent."""

    @abc.abstractmethod
    async def run(self, code: str) -> CodeOutput:
        """Run ``code`` in the workspace and return what happened.

        Errors in the code come back in ``CodeOutput.error``; only failures of
        the executor itself raise (``ExecutorError`` and subclasses).
        """

    @abc.abstractmethod
    async def send_tools(self, tools: Mapping[str, Tool]) -> None:
        """Make ``tools`` callable by name from the generated code."""

    @abc.abstractmethod
    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        """Put ``variables`` into the workspace."""

    async def interrupt(self) -> None:
        """Interrupt the execution in progress, if any."""

    async def reset(self) -> None:
        """Forget the workspace's variables (tools stay)."""

    async def close(self) -> None:
        """Release every resource; the executor may be started again."""

    async def __aenter__(self) -> Executor:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, keeping head and tail, with a clear marker."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    dropped = len(text) - head - tail
    return f"{text[:head]}\n[... output truncated: {dropped} characters omitted ...]\n{text[-tail:]}"
