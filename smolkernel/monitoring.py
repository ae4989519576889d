"""Monitoring: OpenTelemetry spans, Prometheus metrics and cost, in one module.

The agent loop calls three context managers here, so the kernel, the magics,
batch runs and the server are all observed the same way:

- :func:`agent_run` around a run: span ``invoke_agent NAME``;
- :func:`model_call` around a model call: span ``chat MODEL``, token usage,
  duration and the call's cost;
- :func:`tool_call` around a tool call: span ``execute_tool NAME``.

**Spans** follow the OpenTelemetry GenAI conventions (``gen_ai.operation.name``,
``gen_ai.agent.name``, ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
``gen_ai.usage.output_tokens``, ``gen_ai.tool.name``, ...). The library uses the
OpenTelemetry **API** only: without an SDK (the ``otel`` extra) and a tracer
provider installed by the application, spans cost next to nothing and export
nothing; instrumentation never changes what a run does.
:func:`configure_tracing_from_env` is for applications (``smolkernel serve``):
it installs the SDK's provider when ``OTEL_TRACES_EXPORTER`` asks for one.

**Metrics** live on a :class:`Metrics` object that owns its own
``CollectorRegistry`` (never the process-global one), so two apps in one
process do not collide. Metrics are recorded only while one is active in the
current context (:func:`use_metrics`); the server activates its own around
each run it executes. Names::

    gen_ai_client_token_usage{gen_ai_operation_name,gen_ai_request_model,gen_ai_token_type}
    gen_ai_client_operation_duration_seconds{gen_ai_operation_name,gen_ai_request_model,error_type}
    smolkernel_runs_total{status}               succeeded | failed | cancelled
    smolkernel_tool_calls_total{tool,status}    ok | error
    smolkernel_cost_usd_total{model}
    smolkernel_runs_in_progress

Runs are counted for top-level runs only (a managed agent's run is part of
its caller's run); model calls and tool calls are counted at every depth.

**Cost** of a model call comes from litellm's bundled price map
(``model_prices_and_context_window_backup.json``), read offline without
importing litellm. A model the map does not know has no cost (``None``),
never 0.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agents.result import RunResult
    from .models.base import ChatMessage, TokenUsage

__all__ = [
    "Metrics",
    "use_metrics",
    "current_metrics",
    "MetricsRecorder",
    "replay_metrics",
    "agent_run",
    "model_call",
    "tool_call",
    "cost_of",
    "price_usage",
    "configure_tracing_from_env",
]

TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
"""Histogram buckets for tokens per call (the GenAI conventions' advice)."""
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
"""Histogram buckets for seconds per operation (the GenAI conventions' advice)."""

_PRICE_FILE = "model_prices_and_context_window_backup.json"


# -- metrics -------------------------------------------------------------------


class Metrics:
    """The Prometheus metrics of one application, on a registry it owns.

    Args:
        registry: a ``prometheus_client.CollectorRegistry``; a new one when None.

    Raises:
        MissingExtraError: ``prometheus_client`` is not installed.
    """

    def __init__(self, registry: Any = None) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            from .exceptions import MissingExtraError

            raise MissingExtraError("prometheus_client", "serve", "Prometheus metrics") from None
        self.registry = registry if registry is not None else prom.CollectorRegistry()
        """The registry every metric below is registered on."""
        reg = self.registry
        self.token_usage = prom.Histogram(
            "gen_ai_client_token_usage", "Tokens used per model call.",
            ["gen_ai_operation_name", "gen_ai_request_model", "gen_ai_token_type"], buckets=TOKEN_BUCKETS, registry=reg,
        )
        self.operation_duration = prom.Histogram(
            "gen_ai_client_operation_duration_seconds", "Duration of model calls.",
            ["gen_ai_operation_name", "gen_ai_request_model", "error_type"], buckets=DURATION_BUCKETS, registry=reg,
        )
        self.runs = prom.Counter("smolkernel_runs", "Agent runs finished, by status.", ["status"], registry=reg)
        self.tool_calls = prom.Counter("smolkernel_tool_calls", "Tool calls, by tool and status.", ["tool", "status"], registry=reg)
        self.cost = prom.Counter("smolkernel_cost_usd", "Dollars spent on model calls, by model.", ["model"], registry=reg)
        self.runs_in_progress = prom.Gauge("smolkernel_runs_in_progress", "Agent runs executing now.", registry=reg)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, remembered: every model call records several (prometheus_client locks and checks each time)."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def render(self) -> bytes:
        """The metrics in Prometheus' text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class MetricsRecorder:
    """Stands in for :class:`Metrics` in a process whose figures belong to another's registry.

    A Dask worker running a served run records its model and tool calls
    here; the server then applies them to its own :class:`Metrics` with
    :func:`replay_metrics`. Each observation is a plain tuple, ``(metric,
    labels, method, value)``, that travels as data.
    """

    METRICS = ("token_usage", "operation_duration", "runs", "tool_calls", "cost", "runs_in_progress")

    def __init__(self) -> None:
        self.records: list[tuple[str, tuple[str, ...], str, float]] = []
        """What was observed, in order."""
        for name in self.METRICS:
            setattr(self, name, _Recorded(self.records, name, ()))

    def child(self, metric: _Recorded, *values: str) -> _Recorded:
        return _Recorded(self.records, metric.name, values)


class _Recorded:
    """One metric (and its labels) of a :class:`MetricsRecorder`."""

    __slots__ = ("records", "name", "labels")

    def __init__(self, records: list[tuple[str, tuple[str, ...], str, float]], name: str, labels: tuple[str, ...]):
        self.records, self.name, self.labels = records, name, labels

    def observe(self, value: float) -> None:
        self.records.append((self.name, self.labels, "observe", value))

    def inc(self, value: float = 1) -> None:
        self.records.append((self.name, self.labels, "inc", value))

    def dec(self, value: float = 1) -> None:
        self.records.append((self.name, self.labels, "dec", value))


def replay_metrics(records: list[Any], metrics: Metrics | None, *, skip: tuple[str, ...] = ()) -> None:
    """Apply a :class:`MetricsRecorder`'s records to ``metrics``, but those of the metrics named in ``skip``."""
    if metrics is None:
        return
    for name, labels, method, value in records:
        if name in skip or name not in MetricsRecorder.METRICS or method not in ("observe", "inc", "dec"):
            continue
        metric = getattr(metrics, name)
        getattr(metrics.child(metric, *labels) if labels else metric, method)(value)


_active_metrics: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar("smolkernel_metrics", default=None)


def current_metrics() -> Metrics | None:
    """The Metrics recording in the current context, if any."""
    return _active_metrics.get()


@contextlib.contextmanager
def use_metrics(metrics: Metrics | MetricsRecorder | None) -> Iterator[Metrics | MetricsRecorder | None]:
    """Record the runs started inside the block (and tasks spawned from it) in ``metrics``."""
    token = _active_metrics.set(metrics)
    try:
        yield metrics
    finally:
        _active_metrics.reset(token)


# -- cost ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _price_map() -> dict[str, Any]:
    """litellm's bundled price map, or {} when litellm is not installed."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _PRICE_FILE
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
    return {}


def _prices(model_id: str) -> tuple[float, float] | None:
    table = _price_map()
    candidates = [model_id]
    if "/" in model_id:
        candidates.append(model_id.split("/", 1)[1])
    for name in candidates:
        entry = table.get(name)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return float(entry.get("input_cost_per_token") or 0.0), float(entry.get("output_cost_per_token") or 0.0)
    return None


def cost_of(model_id: str, input_tokens: int, output_tokens: int) -> float | None:
    """Dollar cost of a call to ``model_id``; None when the price is not known.

    ``model_id`` is looked up as given, then without its provider prefix
    (``openai/gpt-4o-mini`` -> ``gpt-4o-mini``).
    """
    if not model_id or model_id.startswith("sample_spec"):
        return None
    prices = _prices(model_id)
    if prices is None:
        return None
    return input_tokens * prices[0] + output_tokens * prices[1]


def price_usage(model_id: str, usage: TokenUsage | None) -> TokenUsage | None:
    """Fill ``usage.cost`` from the price map when the backend did not set it."""
    if usage is not None and usage.cost is None:
        usage.cost = cost_of(model_id, usage.input_tokens, usage.output_tokens)
    return usage


# -- spans ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _tracer() -> Any:
    """The smolkernel tracer, or None when the OpenTelemetry API is not installed."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("smolkernel")
    except PackageNotFoundError:  # running from a source tree
        ours = None
    return trace.get_tracer("smolkernel", ours)


@functools.lru_cache(maxsize=1)
def _otel() -> tuple[Any, Any, Any] | None:
    """(the ``opentelemetry.trace`` module, its placeholder provider class, ``SpanKind``), or None without the API."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace, trace.ProxyTracerProvider, trace.SpanKind


def _span(name: str, attributes: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
    """The span ``name`` as the current span; a no-op (yielding None) until an SDK tracer provider is installed.

    Until then every span would be a no-op: the API's machinery is skipped,
    which costs more than a batch's small steps can spare.
    """
    if not _tracing_installed():
        return _NO_SPAN
    return _recording_span(name, attributes)


_NO_SPAN = contextlib.nullcontext()


@contextlib.contextmanager
def _recording_span(name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    span_kind = _otel()[2]
    kind = span_kind.CLIENT if attributes.get("gen_ai.operation.name") == "chat" else span_kind.INTERNAL
    # Exceptions are recorded by the callers, which know which ones are failures.
    with _tracer().start_as_current_span(name, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False) as span:
        yield span


def _tracing_installed() -> bool:
    """True once an SDK tracer provider is installed (it never goes away: the API sets one only once)."""
    otel = _otel()
    if otel is None:
        return False
    trace = otel[0]
    # The provider set by ``set_tracer_provider``. Asking ``get_tracer_provider()``
    # reads the environment on every call while none is set: several times per
    # step. When the API has no such attribute any more, ask it.
    provider = getattr(trace, "_TRACER_PROVIDER", _UNKNOWN)
    if provider is None and _PROVIDER_IN_ENVIRONMENT:
        provider = _UNKNOWN  # the API makes it from the environment on first use
    if provider is _UNKNOWN:
        provider = trace.get_tracer_provider()
    return provider is not None and not isinstance(provider, otel[1])


_UNKNOWN = object()
_PROVIDER_IN_ENVIRONMENT = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _fail(span: Any, error_type: str, message: str = "") -> None:
    if span is None or not span.is_recording():
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message[:500]))


@dataclass
class ModelCallRecord:
    """Handed out by :func:`model_call`; ``done(message)`` records the reply."""

    model_id: str
    span: Any = None
    message: ChatMessage | None = None

    def done(self, message: ChatMessage) -> ChatMessage:
        """Record ``message`` (usage, cost) and return it; its cost is filled in when known."""
        self.message = message
        price_usage(self.model_id, message.token_usage)
        return message


@contextlib.contextmanager
def model_call(model_id: str, operation: str = "chat") -> Iterator[ModelCallRecord]:
    """Observe one model call: span ``chat MODEL``, token usage, duration and cost.

    Call ``record.done(message)`` with the reply; an exception leaving the
    block marks the call failed (``error.type``) and is re-raised.
    """
    record = ModelCallRecord(model_id)
    attributes = {"gen_ai.operation.name": operation, "gen_ai.request.model": model_id}
    began = time.perf_counter()
    error_type = ""
    with _span(f"{operation} {model_id}", attributes) as span:
        record.span = span
        try:
            yield record
        except BaseException as exc:
            error_type = type(exc).__name__
            _fail(span, error_type, str(exc))
            raise
        finally:
            _finish_model_call(record, operation, error_type, time.perf_counter() - began)


def _finish_model_call(record: ModelCallRecord, operation: str, error_type: str, seconds: float) -> None:
    usage = record.message.token_usage if record.message is not None else None
    span = record.span
    if usage is not None and span is not None and span.is_recording():
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        if usage.cost is not None:
            span.set_attribute("smolkernel.cost_usd", usage.cost)
    metrics = _active_metrics.get()
    if metrics is None:
        return
    model = record.model_id
    metrics.child(metrics.operation_duration, operation, model, error_type).observe(seconds)
    if usage is not None:
        metrics.child(metrics.token_usage, operation, model, "input").observe(usage.input_tokens)
        metrics.child(metrics.token_usage, operation, model, "output").observe(usage.output_tokens)
        if usage.cost is not None:
            metrics.child(metrics.cost, model).inc(usage.cost)


@contextlib.contextmanager
def tool_call(name: str, call_id: str | None = None) -> Iterator[Any]:
    """Observe one tool call: span ``execute_tool NAME`` and the tool-call counter.

    A tool that raises an ``Exception`` counts as ``error``; ``final_answer``
    (which ends the run by raising a BaseException) counts as ``ok``.
    """
    attributes: dict[str, Any] = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if call_id:
        attributes["gen_ai.tool.call.id"] = call_id
    status = "ok"
    with _span(f"execute_tool {name}", attributes) as span:
        try:
            yield span
        except Exception as exc:
            status = "error"
            _fail(span, type(exc).__name__, str(exc))
            raise
        finally:
            metrics = _active_metrics.get()
            if metrics is not None:
                metrics.child(metrics.tool_calls, name, status).inc()


@dataclass
class AgentRunRecord:
    """Handed out by :func:`agent_run`; ``done(result)`` records the outcome."""

    span: Any = None
    result: RunResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def done(self, result: RunResult) -> None:
        """Record the finished run (usage, success, error)."""
        self.result = result


@contextlib.contextmanager
def agent_run(agent_name: str, model_id: str, run_id: str, *, depth: int = 0) -> Iterator[AgentRunRecord]:
    """Observe one run: span ``invoke_agent NAME``; for top-level runs, the run metrics.

    A run left by ``CancelledError`` or ``RunInterrupted`` counts as
    ``cancelled``; one whose result is not a success as ``failed``.
    """
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent_name,
        "gen_ai.agent.id": run_id,
        "gen_ai.request.model": model_id,
    }
    metrics = _active_metrics.get() if depth == 0 else None
    if metrics is not None:
        metrics.runs_in_progress.inc()
    record = AgentRunRecord()
    status = "failed"
    with _span(f"invoke_agent {agent_name}", attributes) as span:
        record.span = span
        try:
            yield record
            status = _run_status(record)
        except BaseException as exc:
            status = "cancelled" if type(exc).__name__ in ("CancelledError", "RunInterrupted") else "failed"
            _fail(span, type(exc).__name__, str(exc))
            raise
        finally:
            if metrics is not None:
                metrics.runs_in_progress.dec()
                metrics.child(metrics.runs, status).inc()


def _run_status(record: AgentRunRecord) -> str:
    result, span = record.result, record.span
    if result is None:
        return "failed"
    if span is not None and span.is_recording():
        span.set_attribute("gen_ai.usage.input_tokens", result.token_usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", result.token_usage.output_tokens)
        span.set_attribute("smolkernel.steps", len(result.action_steps))
        if result.token_usage.cost is not None:
            span.set_attribute("smolkernel.cost_usd", result.token_usage.cost)
    if result.success:
        return "succeeded"
    _fail(span, "RunFailed", result.error or "")
    return "failed"


# -- application set-up --------------------------------------------------------


def configure_tracing_from_env() -> bool:
    """For applications: install the OpenTelemetry SDK's tracer provider per ``OTEL_*``.

    Does something only when ``OTEL_TRACES_EXPORTER`` is set (``console`` or
    ``otlp``) and no provider is installed yet; the SDK reads the other
    ``OTEL_*`` variables (service name, endpoint, ...) itself.

    Returns:
        True when a provider was installed.
    """
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter_name in ("", "none"):
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        from .exceptions import MissingExtraError

        raise MissingExtraError("opentelemetry-sdk", "otel", "OTEL_TRACES_EXPORTER") from None
    if exporter_name == "console":
        exporter: Any = ConsoleSpanExporter()
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            from .exceptions import MissingExtraError

            raise MissingExtraError("opentelemetry-exporter-otlp-proto-http", "otel", "OTEL_TRACES_EXPORTER=otlp") from None
        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True
