"""Structured logging for every process of the project (services, orchestrator API, workers).

One call, `configure(fmt, level)`, sets up structlog and routes the standard
library's records (uvicorn, RQ, our modules using `logging`) through the same
renderer, so a process writes one kind of line: human-readable key=value by
default, or one JSON object per line with `fmt="json"` (`SERVICE_LOG_FORMAT`,
`ORCHESTRATOR_LOG_FORMAT`). Events carry their ids as fields (`workflow_id`,
`node`, `task_id`, `attempt`, `worker`), never only inside the message.

structlog loggers filter by level before doing any work. Services and workers
batch their lines (`configure(..., batched=True)`): under load they reach
stderr in one write per `LineBatch.interval` (10 ms), when quiet at once, and
always at once from WARNING up and at exit. One write per line would release
and re-take the GIL several times per task, which under load costs the event
loop far more than building the lines.
"""

from __future__ import annotations

import atexit
import collections
import logging
import sys
import threading
import time
from typing import Any, Literal

import orjson
import structlog

LogFormat = Literal["console", "json"]

_configured: tuple[str, int] | None = None
_INFO, _WARNING, _ERROR = logging.INFO, logging.WARNING, logging.ERROR


def _json_dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


class LineBatch:
    """A text sink that gathers lines and writes them to `stream` in batches.

    `write` only appends to a deque (no lock: lines come from the event loop, the
    task threads and the record writer at once). A daemon thread writes them:
    at once when it was idle, then at most once per `interval` while lines keep
    coming, so a quiet process shows each line immediately and a busy one makes
    one write per interval, not one per line. Lines are also written at once
    when `max_lines` gather or `urgent()` is called, and at interpreter exit.
    `flush()` is a no-op so that loggers flushing after every line do not defeat
    the batching; `drain()` writes now.
    """

    def __init__(self, stream: Any, interval: float = 0.01, max_lines: int = 1000) -> None:
        self.stream = stream
        self.interval = interval
        self.max_lines = max_lines
        self._lines: collections.deque[str] = collections.deque()
        self._due = threading.Event()  # set once lines wait; the writer thread clears it before draining
        self._draining = threading.Lock()  # one drain at a time keeps the lines in order
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        atexit.register(self.drain)

    def write(self, text: str) -> int:
        lines = self._lines
        lines.append(text)
        if not self._due.is_set():  # the first line since the last batch: wake the writer thread
            self._wake()
        if len(lines) >= self.max_lines:
            self.drain()
        return len(text)

    def flush(self) -> None:
        """Loggers call this after every line: the batch decides when to write."""

    def urgent(self) -> None:
        """Write what is gathered now (a warning or an error should not wait)."""
        self.drain()

    def drain(self) -> None:
        with self._draining:
            lines, parts = self._lines, []
            while lines:
                parts.append(lines.popleft())
            if parts:
                try:
                    self.stream.write("".join(parts))
                    self.stream.flush()
                except (OSError, ValueError):
                    pass  # a closed or broken stream must never fail the caller

    def _wake(self) -> None:
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="log-lines", daemon=True)
                    self._thread.start()
        self._due.set()

    def _loop(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()  # before draining: a line written from here on sets it again
            self.drain()
            time.sleep(self.interval)  # lines written meanwhile share the next write


_sink: Any = sys.stderr  # what every line of this process is written to (stderr, or a LineBatch of it)


class _NamedWriteLogger(structlog.WriteLogger):
    """A WriteLogger with a name, so `add_logger_name` labels our lines like the stdlib ones."""

    def __init__(self, name: str, sink: Any) -> None:
        super().__init__(sink)
        self.name = name


class _LoggerFactory:
    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self._loggers: dict[str, _NamedWriteLogger] = {}

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        name = str(args[0]) if args else "root"
        logger = self._loggers.get(name)
        if logger is None:
            logger = self._loggers[name] = _NamedWriteLogger(name, self._sink)
        return logger


class _UrgentHandler(logging.StreamHandler):
    """A stdlib handler on a LineBatch that writes at once from WARNING up."""

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.levelno >= _WARNING and isinstance(self.stream, LineBatch):
            self.stream.urgent()


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/|@")


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else repr(v)
    if text and _PLAIN.issuperset(text):
        return text
    return orjson.dumps(text).decode()


def _console(_: Any, __: str, event: dict[str, Any]) -> str:
    """`<time> <level> <event> [<logger>] key=value ...`: readable, grep-able, and cheap on hot paths."""
    ts = event.pop("timestamp", "")
    level = event.pop("level", "")
    message = event.pop("event", "")
    logger = event.pop("logger", None)
    exc = event.pop("exception", None)
    line = f"{ts} {level:<7} {message}"
    if logger:
        line += f" [{logger}]"
    if event:
        line += " " + " ".join(f"{k}={_value(v)}" for k, v in event.items())
    if exc:
        line += "\n" + exc
    return line


def _renderer(fmt: str) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer(serializer=_json_dumps)
    return _console


def configure(fmt: str = "console", level: str | int = "info", *, batched: bool = False) -> None:
    """Set up structlog and the stdlib bridge for this process (idempotent for the same arguments).

    `batched`: lines go to stderr through a `LineBatch` (services: many lines per second).
    """
    global _configured, _sink
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    fmt = "json" if str(fmt).lower() == "json" else "console"
    if _configured == (fmt, numeric) and batched == isinstance(_sink, LineBatch):
        return
    _configured = (fmt, numeric)
    if isinstance(_sink, LineBatch):
        _sink.drain()
    _sink = LineBatch(sys.stderr) if batched else sys.stderr
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[structlog.stdlib.add_logger_name,
                    structlog.processors.add_log_level, timestamper, structlog.processors.format_exc_info,
                    _renderer(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_LoggerFactory(_sink),
        cache_logger_on_first_use=True,
    )
    handler = _UrgentHandler(_sink)
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


def drain() -> None:
    """Write the lines a batching process has gathered (before an `os._exit`, which skips atexit)."""
    if isinstance(_sink, LineBatch):
        _sink.drain()


def get_logger(name: str, **context: Any) -> Any:
    """A structlog logger naming its component (`logger=`), with fixed context bound."""
    return structlog.get_logger(name, **context)


class _Clock:
    """ISO-8601 UTC timestamps with microseconds; the date-and-second part is made once per second."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        t = time.time()
        second = int(t)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((t - second) * 1e6):06d}Z"


class HotLogger:
    """Lines for events on hot paths (a service's task steps), in the format `configure` chose.

    Same fields and look as the structlog lines, but built straight into one
    string per event: a task's three lines cost a few microseconds, not tens.
    Fields that are None are left out.
    """

    def __init__(self, name: str, **context: Any) -> None:
        self.name = name
        self.context = context
        self._context_text = "".join(f" {k}={_value(v)}" for k, v in context.items())
        self.clock = _Clock()

    def _emit(self, level: str, numeric: int, event: str, fields: dict[str, Any]) -> None:
        fmt, threshold = _configured or ("console", _INFO)
        if numeric < threshold:
            return
        if fmt == "json":
            out = {k: v for k, v in fields.items() if v is not None}
            out.update(self.context)
            out.update(event=event, logger=self.name, level=level, timestamp=self.clock.now())
            line = orjson.dumps(out, default=str).decode()
        else:
            parts = [f"{self.clock.now()} {level:<7} {event} [{self.name}]"]
            for k, v in fields.items():
                if v is not None:
                    parts.append(f"{k}={v}" if type(v) in (int, float) else f"{k}={_value(v)}")
            line = " ".join(parts) + self._context_text
        try:
            _sink.write(line + "\n")
            if numeric >= _WARNING and _sink is not sys.stderr:
                _sink.urgent()
        except (OSError, ValueError):
            pass  # a closed or broken stderr must never fail a task

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", _INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", _WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", _ERROR, event, fields)
