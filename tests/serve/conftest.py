"""Fixtures of the serve tests: one redis-server per session, real server processes."""

from __future__ import annotations

import importlib.util
import os

import needs
import pytest
from serve_process import RedisProcess, ServeProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free loopback port for the whole session (skip locally / fail in CI when missing)."""
    command = needs.require_command("redis-server", "redis-server")
    server = RedisProcess(command, tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory):
    """One server with the embedded store, no keys, shared by the API tests."""
    server = ServeProcess(tmp_path_factory.mktemp("serve")).start()
    yield server
    server.stop()


@pytest.fixture
def client(embedded_server):
    with embedded_server.client() as http:
        yield http


@pytest.fixture(scope="session")
def dask_cluster():
    """A real Dask LocalCluster with two worker processes (under nannies, which restart a killed worker), shared by the session."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=4, processes=True, dashboard_address=None, silence_logs=50) as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield cluster, client


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium through Playwright, one per test module (skip locally / fail in CI when missing)."""
    if not os.access(CHROMIUM, os.X_OK):
        needs.missing(f"the status page tests need {CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        needs.missing("the status page tests need playwright (pip install playwright)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
