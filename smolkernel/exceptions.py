"""Every exception smolkernel raises, in three families kept apart.

::

    SmolkernelError
    ├── AgentError                 the model sees these and can retry
    │   ├── AgentParsingError      reply has no code / malformed tool call
    │   ├── AgentToolCallError     unknown tool, bad arguments
    │   ├── AgentToolExecutionError  a tool raised
    │   │   └── ToolServerError    a tool's server (MCP, Gradio app) failed,
    │   │                          died or did not answer in time
    │   ├── AgentExecutionError    generated code raised
    │   └── ModelCallError         the model call failed (HTTP error, timeout,
    │                              malformed reply) after its retries
    ├── ConfigurationError         the user's set-up is wrong; the message says
    │   │                          how to fix it
    │   ├── ToolDefinitionError    a bad @tool or Tool subclass
    │   ├── UnknownModelError      a model spec that resolves to nothing
    │   ├── MissingAPIKeyError     a provider key is not set
    │   ├── MissingExtraError      an optional dependency is not installed
    │   ├── UnknownExecutorError   an executor name that is not known
    │   ├── AgentSpecError         a bad agent spec: names the field and the
    │   │                          file's line
    │   └── UntrustedCodeError     shared tool code that was not trusted
    ├── RunError                   the run itself failed
    │   ├── MaxStepsReached        no final answer within max_steps
    │   ├── ExecutorError          the executor could not run code
    │   │   ├── ExecutionTimeout   one execution exceeded its timeout
    │   │   └── ExecutorDied       the sandbox/kernel died (workspace lost)
    │   ├── ScriptExhausted        a ScriptedModel ran out of responses
    │   └── RunInterrupted         interrupt() or KeyboardInterrupt
    └── ServeError                 the HTTP service (``smolkernel serve``)
        ├── StoreUnavailable       the run store (Redis) cannot be reached
        ├── QueueFull              every worker is busy and the queue is full
        └── RunLost                the Dask worker or scheduler running a run went away

Exceptions never log in their constructor; they only carry a message.
"""

from __future__ import annotations

__all__ = [
    "SmolkernelError",
    "AgentError",
    "AgentParsingError",
    "AgentToolCallError",
    "AgentToolExecutionError",
    "ToolServerError",
    "AgentExecutionError",
    "ModelCallError",
    "ConfigurationError",
    "ToolDefinitionError",
    "UnknownModelError",
    "MissingAPIKeyError",
    "MissingExtraError",
    "UnknownExecutorError",
    "AgentSpecError",
    "UntrustedCodeError",
    "RunError",
    "MaxStepsReached",
    "ExecutorError",
    "ExecutionTimeout",
    "ExecutorDied",
    "ScriptExhausted",
    "RunInterrupted",
    "ServeError",
    "StoreUnavailable",
    "QueueFull",
    "RunLost",
]


class SmolkernelError(Exception):
    """Base of every smolkernel exception."""


# -- errors the model sees -------------------------------------------------


class AgentError(SmolkernelError):
    """An error inside a step; its message is shown to the model."""


class AgentParsingError(AgentError):
    """The model's reply could not be parsed into code or tool calls."""


class AgentToolCallError(AgentError):
    """A tool call named an unknown tool or passed bad arguments."""


class AgentToolExecutionError(AgentError):
    """A tool raised while running."""


class ToolServerError(AgentToolExecutionError):
    """The server behind a tool (an MCP server, a Gradio app) failed, died or timed out."""


class AgentExecutionError(AgentError):
    """Generated code raised while running."""


class ModelCallError(AgentError):
    """A model call failed after its retries (HTTP error, timeout, bad reply).

    Attributes:
        status_code: the HTTP status, when there was one.
        retryable: whether the failure was transient (429, 5xx, timeout).
    """

    def __init__(self, message: str, *, status_code: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


# -- configuration errors --------------------------------------------------


class ConfigurationError(SmolkernelError):
    """The user's configuration is wrong; the message says how to fix it."""


class ToolDefinitionError(ConfigurationError):
    """A tool definition is invalid (raised when the tool is defined)."""


class UnknownModelError(ConfigurationError):
    """A model spec does not resolve to any backend."""


class MissingAPIKeyError(ConfigurationError):
    """A provider's API key is not set.

    ``problem`` says which key is missing; ``hint`` says how to supply it in
    the place the error is shown (Python by default; the kernel and the magics
    swap in their own with :meth:`with_hint`).
    """

    PYTHON_HINT = "or pass api_key=..., or name another variable with api_key_env='VAR'"

    def __init__(self, problem: str, *, hint: str | None = None):
        self.problem = problem
        self.hint = self.PYTHON_HINT if hint is None else hint
        super().__init__(f"{problem}, {self.hint}" if self.hint else problem)

    def with_hint(self, hint: str) -> MissingAPIKeyError:
        """The same error with ``hint`` in place of the Python one."""
        return type(self)(self.problem, hint=hint)


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is missing; the message names the extra."""

    def __init__(self, package: str, extra: str, feature: str | None = None):
        what = feature or package
        super().__init__(
            f"{what} needs the '{package}' package, which is not installed. "
            f'Install it with: pip install "smolkernel[{extra}]"'
        )
        self.package = package
        self.extra = extra


class UnknownExecutorError(ConfigurationError):
    """An executor name that smolkernel does not know."""


class AgentSpecError(ConfigurationError):
    """An agent spec is wrong; the message names the field and, for a file, its line.

    Attributes:
        field: the field's path in the spec, e.g. ``tools[1]`` or ``model_options.api_key_env``.
        file: the spec's file, when it came from one.
        line: the 1-based line of the field in that file, when known.
        problem: the problem alone, without the location.
    """

    def __init__(self, problem: str, *, field: str = "", file: str | None = None, line: int | None = None):
        where = ", ".join(part for part in (str(file) if file else "", f"line {line}" if line else "") if part)
        head = f"{where}: " if where else "agent spec: "
        super().__init__(f"{head}{field + ': ' if field else ''}{problem}")
        self.field = field
        self.file = file
        self.line = line
        self.problem = problem


class UntrustedCodeError(ConfigurationError):
    """Loading shared tool code was refused because it was not trusted."""


# -- run failures ----------------------------------------------------------


class RunError(SmolkernelError):
    """The run itself failed, as opposed to one step of it."""


class MaxStepsReached(RunError):
    """No final answer was given within ``max_steps``."""


class ExecutorError(RunError):
    """The executor could not run the code."""


class ExecutionTimeout(ExecutorError):
    """One execution exceeded its timeout and was interrupted."""


class ExecutorDied(ExecutorError):
    """The executor's process died; its workspace was lost."""


class ScriptExhausted(RunError):
    """A ScriptedModel was asked for more responses than it was given."""


class RunInterrupted(RunError):
    """The run was interrupted by the user.

    Not a ``KeyboardInterrupt``: asyncio lets those escape the event loop,
    which would take a Jupyter kernel's loop down with the run.
    """


class ServeError(SmolkernelError):
    """The HTTP service could not take or keep a run."""


class StoreUnavailable(ServeError):
    """The run store (Redis) cannot be reached; retry later."""


class QueueFull(ServeError):
    """Every worker is busy and the queue is full; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class RunLost(ServeError):
    """The Dask worker running a served run died, or the scheduler lost the run; the message says which."""
