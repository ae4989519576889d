"""Transport failures of every HTTP stack a backend may use read as "could not reach"."""

from __future__ import annotations

import aiohttp
import httpx
import httpx2
import pytest
import requests

from smolkernel.models._retry import transport_failure


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx2.ConnectError("refused"),
        requests.ConnectionError("refused"),
        aiohttp.ClientConnectionError("refused"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=lambda e: f"{type(e).__module__}.{type(e).__name__}",
)
def test_connection_errors_are_transport_failures(exc):
    failure = transport_failure(exc)
    assert failure is not None and failure.retryable
    assert failure.message.startswith("could not reach the server")


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx2.ReadTimeout("slow"), requests.Timeout("slow"), TimeoutError()])
def test_timeouts_are_transport_failures(exc):
    failure = transport_failure(exc, timeout=3)
    assert failure is not None and "timed out after 3s" in failure.message


def test_a_cause_is_found_under_a_wrapper():
    try:
        try:
            raise httpx2.ConnectError("refused")
        except httpx2.ConnectError as inner:
            raise RuntimeError("the SDK wrapped it") from inner
    except RuntimeError as outer:
        assert transport_failure(outer) is not None


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("x"), httpx.HTTPStatusError.__new__(httpx.HTTPStatusError)])
def test_other_errors_are_not_transport_failures(exc):
    assert transport_failure(exc) is None
