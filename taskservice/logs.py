"""Structured logging for every process of the project (services, orchestrator API, workers).

One call, `configure(fmt, level)`, sets up structlog and routes the standard
library's records (uvicorn, RQ, our modules using `logging`) through the same
renderer, so a process writes one kind of line: human-readable key=value by
default, or one JSON object per line with `fmt="json"` (`SERVICE_LOG_FORMAT`,
`ORCHESTRATOR_LOG_FORMAT`). Events carry their ids as fields (`workflow_id`,
`node`, `task_id`, `attempt`, `worker`), never only inside the message.

structlog loggers filter by level before doing any work and render straight to
stderr, so a line per task start/end costs microseconds on the hot paths.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import orjson
import structlog

LogFormat = Literal["console", "json"]

_configured: tuple[str, int] | None = None


def _json_dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


class _NamedWriteLogger(structlog.WriteLogger):
    """A WriteLogger with a name, so `add_logger_name` labels our lines like the stdlib ones."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stderr)
        self.name = name


class _LoggerFactory:
    def __init__(self) -> None:
        self._loggers: dict[str, _NamedWriteLogger] = {}

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        name = str(args[0]) if args else "root"
        logger = self._loggers.get(name)
        if logger is None:
            logger = self._loggers[name] = _NamedWriteLogger(name)
        return logger


def _renderer(fmt: str) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer(serializer=_json_dumps)
    return structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)


def configure(fmt: str = "console", level: str | int = "info") -> None:
    """Set up structlog and the stdlib bridge for this process (idempotent for the same arguments)."""
    global _configured
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    fmt = "json" if str(fmt).lower() == "json" else "console"
    if _configured == (fmt, numeric):
        return
    _configured = (fmt, numeric)
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.add_logger_name,
                    structlog.processors.add_log_level, timestamper, structlog.processors.format_exc_info,
                    _renderer(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.processors.add_log_level, timestamper],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(fmt)],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "rq.worker"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True


def get_logger(name: str, **context: Any) -> Any:
    """A structlog logger naming its component (`logger=`), with fixed context bound."""
    return structlog.get_logger(name, **context)
