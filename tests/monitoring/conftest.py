"""Fixtures for the monitoring tests: the OpenTelemetry SDK's in-memory exporter."""

import pytest

from smolkernel.models import ChatMessage, TokenUsage


@pytest.fixture(scope="session")
def _span_exporter():
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # an application installs the SDK once per process
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_span_exporter):
    """The in-memory exporter, emptied before the test."""
    _span_exporter.clear()
    return _span_exporter


def _reply(text: str, input_tokens: int = 1000, output_tokens: int = 100) -> ChatMessage:
    return ChatMessage(role="assistant", content=text, token_usage=TokenUsage(input_tokens, output_tokens))


@pytest.fixture
def reply():
    """Make a scripted reply with fixed token usage (so its cost is known exactly)."""
    return _reply
