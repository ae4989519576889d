"""Fixtures for the sharing tests: a Hub stand-in and an isolated Hub cache."""

import pytest


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A loopback stand-in of the Hub endpoints sharing uses (not the Hub: it is unreachable here).

    ``HF_ENDPOINT`` points at it and ``HF_HOME`` at a fresh folder, so
    downloads never touch the user's cache.
    """
    from smolkernel.testing.hub import HubStandIn

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with HubStandIn() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server
