"""Settings of a template service, read from the environment.

All names share the `SERVICE_` prefix (`SERVICE_API_KEY`, `SERVICE_MAX_WORKERS`,
...), except `PORT` and `HOST`, which keep the seed's spelling
(`PORT=8080 python service.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore")

    host: str = Field("0.0.0.0", validation_alias=AliasChoices("SERVICE_HOST", "HOST"))
    port: int = Field(8080, validation_alias=AliasChoices("SERVICE_PORT", "PORT"))
    title: str | None = Field(None, description="OpenAPI title; default: the first line of the service module's docstring")

    api_key: str | None = Field(None, description="Bearer token required on every route but /health (an admin key)")
    api_keys: str | None = Field(None, description='JSON object (or @path to one) of token -> '
                                 '{"user": NAME, "role": "admin" | "user"}; a user sees only its own tasks')
    allowed_hosts: str | None = Field(None, description="Hosts http(s) inputs and callbacks may reach: names, "
                                      "*.wildcards, CIDR ranges, comma-separated (default: loopback and private)")
    file_roots: str = Field("", description="Comma-separated folders `file` inputs may be read from, "
                            "besides the data directory")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Larger request bodies get 413")
    max_input_bytes: int = Field(256 * 1024 * 1024, ge=1, description="Largest input a method may read")
    max_workers: int = Field(32, ge=1, description="Threads running background tasks")
    task_timeout: float = Field(36_000, description="Default per-method timeout, seconds from start (600 minutes); "
                                "-1 disables it")
    status_dialect: Literal["ours", "ai-effect"] = Field(
        "ours", description="'ai-effect': status answers use only running/complete/failed, for deployments "
                            "driven by the AI-Effect orchestrator")
    result_max_bytes: int = Field(64 * 1024, ge=0, description="A complete task's record carries its inline "
                                  "output as `result` up to this size")
    retention_ttl: float = Field(3600, gt=0, description="Finished tasks live this long after their last read")
    retention_max: int = Field(10_000, ge=1, description="At most this many finished tasks are kept")
    shutdown_grace: float = Field(10, ge=0, description="Seconds running tasks get to stop on SIGTERM")
    max_wait: float = Field(60, ge=0, description="Cap of the long-poll `?wait=` on status")
    data_dir: Path = Field(Path("var/data"), description="Where tasks write their file outputs")
    state_db: str | None = Field(
        None, min_length=1,
        description="SQLite file of the task records (default: tasks.sqlite3 in SERVICE_DATA_DIR); "
                    "`:memory:` keeps them in memory only, lost on restart")
    inline_max_bytes: int = Field(1 << 20, ge=0, description="A result whose JSON is larger goes to a file "
                                                             "in its task's folder, returned by reference")
    method_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Per-method overrides as JSON, e.g. {"LongProcess": {"timeout": 60, "concurrency": 1, "queue": true}}',
    )
    access_log: bool = False
    opentelemetry: bool = Field(False, description="FastAPI's native OpenTelemetry spans, metrics and logs "
                                "(through the global providers). Off by default: /metrics serves Prometheus, "
                                "and the provider lookups would cost every request")

    @field_validator("task_timeout")
    @classmethod
    def _timeout_positive_or_off(cls, value: float) -> float:
        if value != -1 and not value > 0:
            raise ValueError("SERVICE_TASK_TIMEOUT must be a positive number of seconds, or -1 for none")
        return value

    def file_root_paths(self) -> list[Path]:
        """The data directory and every `SERVICE_FILE_ROOTS` folder, resolved."""
        roots = [self.data_dir] + [Path(p.strip()) for p in self.file_roots.split(",") if p.strip()]
        return [r.expanduser().resolve() for r in roots]
    log_level: str = "info"
    log_format: str = Field("console", pattern="^(console|json)$",
                            description="`console` (human-readable key=value) or `json` (one object per line)")

    def state_db_location(self) -> str:
        """Where the task records live: `:memory:` or the path of the SQLite file."""
        if self.state_db == ":memory:":
            return self.state_db
        return str(Path(self.state_db).resolve()) if self.state_db else str((self.data_dir / "tasks.sqlite3").resolve())
