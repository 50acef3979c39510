"""The Redis connection factory: Sentinel addresses, what counts as a Redis outage, replaced settings."""

from __future__ import annotations

import pytest
import redis
from pydantic import ValidationError

from orchestrator.connections import describe, is_outage, redis_client, sentinel_addresses
from orchestrator.settings import Settings


def test_sentinel_addresses_parse_hosts_and_ipv6():
    s = Settings(redis_sentinels="s1:26379, [::1]:26380,10.0.0.3:5000")
    assert sentinel_addresses(s) == [("s1", 26379), ("::1", 26380), ("10.0.0.3", 5000)]


def test_a_bad_sentinel_address_names_the_setting():
    with pytest.raises(ValueError, match="ORCHESTRATOR_REDIS_SENTINELS"):
        sentinel_addresses(Settings(redis_sentinels="s1"))


def test_outages_are_told_from_command_errors():
    assert is_outage(redis.ConnectionError("refused"))
    assert is_outage(redis.TimeoutError("slow"))
    assert is_outage(redis.ReadOnlyError("READONLY You can't write against a read only replica."))
    assert is_outage(redis.ResponseError("MASTERDOWN Link with MASTER is down"))
    assert is_outage(redis.BusyLoadingError("LOADING"))
    assert not is_outage(redis.ResponseError("WRONGTYPE Operation against a key"))
    assert not is_outage(ValueError("x"))


def test_clients_come_from_the_url_or_the_sentinels_without_connecting():
    plain = redis_client(Settings(redis_url="redis://user:secret@h:6390/2"))
    kw = plain.connection_pool.connection_kwargs
    assert kw["host"] == "h" and kw["port"] == 6390 and kw["socket_timeout"] == 5.0
    assert "secret" not in describe(Settings(redis_url="redis://user:secret@h:6390/2"))
    managed = redis_client(Settings(redis_sentinels="s1:26379", redis_master="m1"))
    assert managed.connection_pool.service_name == "m1"
    blocking = redis_client(Settings(), blocking=True)
    assert blocking.connection_pool.connection_kwargs.get("socket_timeout") is None


def test_max_retries_setting_is_refused_naming_its_replacements(monkeypatch):
    monkeypatch.setenv("ORCHESTRATOR_MAX_RETRIES", "5")
    with pytest.raises(ValidationError, match="ORCHESTRATOR_OUTAGE_TOLERANCE"):
        Settings()
