"""Every Redis client of the orchestrator is made here: one URL or a Sentinel-managed master.

`REDIS_URL` names one server. `ORCHESTRATOR_REDIS_SENTINELS=host:port,...` with
`ORCHESTRATOR_REDIS_MASTER=name` asks the Sentinels for the current master instead
and follows a failover: redis-py's Sentinel pool re-discovers the master when a
connection fails or the old master answers READONLY.

Clients retry a failed command a few times (redis-py `Retry` with exponential
backoff) and check idle connections before use (`health_check_interval`), so a
short blip never surfaces. Longer outages reach the caller as one of
`OUTAGE_ERRORS`; the worker's callers wait and try again (see `runner`), the API
answers 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from orchestrator.settings import Settings

log = logging.getLogger("orchestrator.connections")

# A Redis that restarts, pauses, loads its AOF, or fails over: wait for it, never blame the work.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, redis.BusyLoadingError,
)
_OUTAGE_WORDS = ("READONLY", "MASTERDOWN", "LOADING", "UNBLOCKED", "NOREPLICAS")


def is_outage(exc: BaseException) -> bool:
    """True for an error that says Redis is away (not that a command was wrong)."""
    if isinstance(exc, OUTAGE_ERRORS):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).split(" ", 1)[0] in _OUTAGE_WORDS


def sentinel_addresses(settings: Settings) -> list[tuple[str, int]]:
    """`host:port,host:port` (IPv6 as `[addr]:port`) from `ORCHESTRATOR_REDIS_SENTINELS`."""
    out = []
    for item in (settings.redis_sentinels or "").split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"ORCHESTRATOR_REDIS_SENTINELS: {item!r} is not host:port")
        out.append((host.strip("[]"), int(port)))
    return out


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), 3)


def _common(settings: Settings, decode_responses: bool, blocking: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "decode_responses": decode_responses,
        "socket_connect_timeout": settings.redis_connect_timeout,
        "socket_keepalive": True,
        "health_check_interval": settings.redis_health_check_interval,
        "retry_on_error": [redis.ReadOnlyError, redis.BusyLoadingError],
    }
    # RQ blocks in BLPOP for minutes: its client gets no read timeout (keep-alive finds dead peers)
    if not blocking:
        kw["socket_timeout"] = settings.redis_socket_timeout
    return kw


def describe(settings: Settings) -> str:
    """Where the clients connect, for log lines (no password)."""
    if settings.redis_sentinels:
        return f"sentinel master {settings.redis_master!r} via {settings.redis_sentinels}"
    parts = urlsplit(settings.redis_url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def redis_client(settings: Settings, *, decode_responses: bool = True, blocking: bool = False,
                 read_timeout: float | None = None) -> redis.Redis:
    """A synchronous client (store, RQ). `blocking`: for RQ's long BLPOP (no read timeout).

    `read_timeout`: a client that gives up after that many seconds, connecting or reading, and
    never retries (for calls made on an event loop, which must not wait for a paused Redis)."""
    kw = _common(settings, decode_responses, blocking)
    retry = _retry()
    if read_timeout is not None:
        kw["socket_timeout"] = read_timeout
        kw["socket_connect_timeout"] = min(read_timeout, settings.redis_connect_timeout)
        retry = Retry(NoBackoff(), 0)
    if settings.redis_sentinels:
        sentinel = Sentinel(sentinel_addresses(settings), sentinel_kwargs=_sentinel_kwargs(settings),
                            password=settings.redis_password, db=settings.redis_db, **kw)
        return sentinel.master_for(settings.redis_master, retry=retry)
    return redis.Redis.from_url(settings.redis_url, retry=retry, **kw)


def async_redis_client(settings: Settings, *, decode_responses: bool = True) -> aredis.Redis:
    """An asyncio client (API event streams); pub/sub blocks, so no read timeout here either."""
    kw = _common(settings, decode_responses, blocking=True)
    retry = AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), 3)
    if settings.redis_sentinels:
        sentinel = AsyncSentinel(sentinel_addresses(settings), sentinel_kwargs=_sentinel_kwargs(settings),
                                 password=settings.redis_password, db=settings.redis_db, **kw)
        return sentinel.master_for(settings.redis_master, retry=retry)
    return aredis.Redis.from_url(settings.redis_url, retry=retry, **kw)


def _sentinel_kwargs(settings: Settings) -> dict[str, Any]:
    return {"socket_connect_timeout": settings.redis_connect_timeout,
            "socket_timeout": settings.redis_socket_timeout,
            "password": settings.redis_sentinel_password}


class ReplicaAck:
    """WAIT for a replica to hold a write, when the master has replicas (checked every few seconds)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._replicas = 0
        self._checked = 0.0

    def replicas(self, r: redis.Redis) -> int:
        now = time.monotonic()
        if now - self._checked > 5.0:
            info = r.info("replication")
            self._replicas = int(info.get("connected_slaves", 0))
            self._checked = now
        return self._replicas

    def known_without_replicas(self) -> bool:
        """True when no WAIT is due: acks off, or the last check (within 5 s) found no replica."""
        return self.timeout <= 0 or (not self._replicas and time.monotonic() - self._checked <= 5.0)

    @contextmanager
    def pinned(self, r: redis.Redis) -> Iterator[redis.Redis]:
        """A client for writes that must survive a failover: on one connection, then WAIT for a replica.

        (WAIT covers the writes of its own connection, so they share one.) Without replicas: `r` itself.
        """
        if self.timeout <= 0 or not self.replicas(r):
            yield r
            return
        one = r.client()
        try:
            yield one
            acked = int(one.execute_command("WAIT", 1, int(self.timeout * 1000)))
            if not acked:
                log.warning("no replica acknowledged a write within %g s", self.timeout)
        finally:
            one.close()


def persistence(r: redis.Redis) -> str:
    """`aof`, `rdb`, `aof+rdb` or `none`: what survives a restart of this Redis."""
    info = r.info("persistence")
    aof = bool(int(info.get("aof_enabled", 0)))
    try:
        save = r.config_get("save").get("save", "")
        rdb = bool(str(save).strip())
    except redis.ResponseError:  # CONFIG disabled (managed Redis): assume its snapshots
        rdb = True
    return "+".join(n for n, on in (("aof", aof), ("rdb", rdb)) if on) or "none"
