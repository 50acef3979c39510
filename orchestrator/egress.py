"""Where workers may connect: `ORCHESTRATOR_ALLOWED_SERVICES` plus the orchestrator's own Redis.

A dockerinfo names hosts chosen by whoever submits, so every node address is
checked twice: as written at submission (`blueprint.parse_dockerinfo`, a 422
naming the entry) and after name resolution when a worker connects
(`http11.HTTPClient`, which then connects to the checked address). The Redis
endpoint the orchestrator itself uses is refused unless listed explicitly.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from orchestrator.settings import Settings
from taskservice.netpolicy import HostPolicy


def redis_endpoint(url: str) -> tuple[str, int] | None:
    """(host, port) of a `redis://` URL; None for a unix socket or an unparsable URL."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            return None
        return parts.hostname, parts.port or 6379
    except ValueError:
        return None


def services_policy(settings: Settings) -> HostPolicy:
    """The egress policy of node services; raises ValueError for a malformed rule list."""
    policy = HostPolicy.parse(settings.allowed_services)
    own = redis_endpoint(settings.redis_url)
    if own is None:
        return policy
    host, port = own
    denied = [(host, port)]
    if host in ("localhost", "127.0.0.1", "::1"):  # the same endpoint under its other local names
        denied += [(h, port) for h in ("localhost", "127.0.0.1", "::1") if h != host]
    return policy.deny(denied)
