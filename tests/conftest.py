"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

from tests.support import RedisServer


@pytest.fixture(scope="session")
def redis_server():
    """One real redis-server for the session; tests use distinct key prefixes or flush."""
    server = RedisServer()
    yield server
    server.stop()
