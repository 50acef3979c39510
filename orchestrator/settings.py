"""Typed settings from the environment (`ORCHESTRATOR_*`, plus plain `REDIS_URL`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", extra="ignore")

    redis_url: str = Field("redis://localhost:6379/0",
                           validation_alias=AliasChoices("REDIS_URL", "ORCHESTRATOR_REDIS_URL"))
    prefix: str = "orch"                 # every Redis key of ours starts with "<prefix>:"
    queue: str = "orch"                  # the shared RQ queue
    api_key: str | None = None           # bearer token the API demands (None: open)
    services_api_key: str | None = None  # default bearer token sent to node services

    lease_ttl: float = 15.0              # a node's lease not renewed for this long is taken over
    heartbeat_interval: float = 3.0
    reaper_interval: float = 1.0
    poll_wait: float = 10.0              # long-poll `?wait=` seconds
    poll_min_interval: float = 0.05      # fallback polling when ?wait is not honoured
    poll_max_interval: float = 2.0
    http_timeout: float = 10.0           # connect/read timeout of one control call (excl. the long-poll)
    http_idle_timeout: float = 4.0       # pooled connections idle longer are dropped (below uvicorn's 5 s keep-alive)

    node_timeout: float | None = None    # default per-node timeout (seconds), None: none
    max_retries: int = 5                 # transient faults tolerated per node
    retry_backoff: float = 0.2           # first retry delay; doubles each time
    retry_backoff_max: float = 10.0
    fail_fast: bool = True               # a failed node cancels the others and fails the workflow

    retention_seconds: float = 86400.0   # finished workflows are kept this long ...
    max_finished: int = 200_000          # ... and at most this many (oldest dropped first)
    retention_max_mb: float = 1024.0     # ... and at most this many MB of finished history (oldest first)
    maintenance_interval: float = 10.0

    log_level: str = "info"              # the worker's and the API's structured log level
    log_format: str = Field("console", pattern="^(console|json)$")  # or one JSON object per line
    no_worker_warning: float = 10.0      # ready nodes waiting this long with no live worker: a warning
    worker_ttl: float = 10.0             # a worker without a heartbeat for this long is gone
