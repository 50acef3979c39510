"""Typed settings from the environment (`ORCHESTRATOR_*`, plus plain `REDIS_URL`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", extra="ignore")

    redis_url: str = Field("redis://localhost:6379/0",
                           validation_alias=AliasChoices("REDIS_URL", "ORCHESTRATOR_REDIS_URL"))
    # Sentinel-managed Redis instead of REDIS_URL: "host:port,host:port" and the master's name
    redis_sentinels: str | None = None
    redis_master: str = "mymaster"
    redis_password: str | None = None            # of the master/replicas when Sentinels are used
    redis_sentinel_password: str | None = None
    redis_db: int = 0
    redis_socket_timeout: float = 5.0            # read timeout of one command (not RQ's BLPOP)
    redis_connect_timeout: float = 3.0
    redis_health_check_interval: int = 15        # idle pooled connections are PINGed before reuse
    replica_ack_timeout: float = 1.0             # a submission waits this long for a replica's ack (0: never)
    prefix: str = "orch"                 # every Redis key of ours starts with "<prefix>:"
    queue: str = "orch"                  # the shared RQ queue
    api_key: str | None = None           # bearer token the API demands (None: open)
    api_keys: str | None = None          # JSON {token: {"user", "role"}} or @path (see taskservice.apikeys)
    services_api_key: str | None = None  # default bearer token sent to node services (never returned)
    allowed_services: str | None = None  # hosts/wildcards/CIDR workers may call (None: loopback + private)

    max_body_bytes: int = 16 * 1024 * 1024        # larger request bodies get 413 before being read whole
    max_response_bytes: int = 64 * 1024 * 1024    # larger control answers are refused while reading
    max_nodes: int = 10_000                       # blueprints with more vertices get 422

    lease_ttl: float = 15.0              # a node's lease not renewed for this long is taken over
    heartbeat_interval: float = 3.0
    reaper_interval: float = 1.0
    poll_wait: float = 10.0              # long-poll `?wait=` seconds
    poll_min_interval: float = 0.05      # fallback polling when ?wait is not honoured
    poll_max_interval: float = 2.0
    http_timeout: float = 10.0           # connect/read timeout of one control call (excl. the long-poll)
    http_idle_timeout: float = 4.0       # pooled connections idle longer are dropped (below uvicorn's 5 s keep-alive)
    execute_concurrency: int = 64        # executes in flight per worker at once (a wide fan-out queues)

    node_timeout: float | None = None    # default per-node timeout (seconds), None: none
    outage_tolerance: float = 600.0      # seconds a service may stay unreachable/interrupted per outage
    retry_backoff: float = 0.2           # first retry delay; doubles each time ...
    retry_backoff_max: float = 10.0      # ... up to this
    max_retries: int | None = None       # replaced (see `_no_max_retries`)
    fail_fast: bool = True               # a failed node cancels the others and fails the workflow

    retention_seconds: float = 86400.0   # finished workflows are kept this long ...
    max_finished: int = 200_000          # ... and at most this many (oldest dropped first)
    retention_max_mb: float = 1024.0     # ... and at most this many MB of finished history (oldest first)
    maintenance_interval: float = 10.0

    # FastAPI's native OpenTelemetry spans, metrics and logs (global providers); off: /metrics serves
    # Prometheus, and the provider lookups would cost every request
    opentelemetry: bool = False
    log_level: str = "info"              # the worker's and the API's structured log level
    log_format: str = Field("console", pattern="^(console|json)$")  # or one JSON object per line
    no_worker_warning: float = 10.0      # ready nodes waiting this long with no live worker: a warning
    worker_ttl: float = 10.0             # a worker without a heartbeat for this long is gone
    stop_retry_interval: float = 2.0     # pending stops (service unreachable when given up) are retried this often

    @field_validator("max_retries")
    @classmethod
    def _no_max_retries(cls, v: int | None) -> None:
        """A count of blips fits no hours-long node: outages are timed, failures have attempts."""
        if v is not None:
            raise ValueError("ORCHESTRATOR_MAX_RETRIES was replaced by ORCHESTRATOR_OUTAGE_TOLERANCE "
                             "(seconds an outage is tolerated) and the workflow option max_attempts")
        return None
