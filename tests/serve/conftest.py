"""Fixtures of the serve tests: one redis-server per session, real server processes."""

from __future__ import annotations

import needs
import pytest
from serve_process import RedisProcess, ServeProcess


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
