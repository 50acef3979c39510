"""Serving a service module with uvicorn, with a graceful SIGTERM.

On the first SIGTERM/SIGINT the manager stops taking work, ends tasks that
never started and releases long-polls before uvicorn closes its sockets; the
lifespan then gives running tasks `SERVICE_SHUTDOWN_GRACE` seconds to finish
and stops the rest through their token, recorded as interrupted (a deploy is
not a cancellation).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import uvicorn

from .app import create_app
from .logs import configure as configure_logging
from .logs import drain as drain_logs
from .manager import TaskManager
from .settings import ServiceSettings
from .version import version_text

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, manager: TaskManager) -> None:
        super().__init__(config)
        self.manager = manager

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.manager.begin_shutdown()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn re-raises a caught SIGTERM as it leaves: the batched log lines are written first."""
        with super().capture_signals():
            try:
                yield
            finally:
                drain_logs()


def run(service_module: ModuleType | Any, settings: ServiceSettings | None = None) -> None:
    """Serve `service_module` on `HOST:PORT` until SIGTERM (`python service.py --version` prints the version)."""
    if sys.argv[1:] == ["--version"]:
        print(version_text(Path(sys.argv[0]).name or "service"))
        return
    settings = settings or ServiceSettings()
    configure_logging(settings.log_format, settings.log_level, batched=True)
    for noisy in ("httpx", "httpcore"):  # their request lines show whole URLs, which may carry tokens
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    app = create_app(service_module, settings=settings)
    manager: TaskManager = app.state.manager
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=settings.access_log, timeout_graceful_shutdown=settings.shutdown_grace + 1,
                            log_config=None)  # uvicorn's records go through taskservice.logs
    logger.info("serving %s on %s:%s", ", ".join(app.state.methods) or "no methods", settings.host, settings.port)
    _Server(config, manager).run()
    if manager.stats()["running_jobs"]:
        logger.warning("exiting with tasks that ignored cancellation")
        logging.shutdown()
        drain_logs()
        os._exit(1)  # worker threads are not daemons; don't hang on a task that won't stop


def main(argv: list[str] | None = None) -> None:
    """`taskservice path/to/service.py`: serve a service file like `python service.py` does."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        print(version_text("taskservice"))
        return
    if len(args) != 1:
        raise SystemExit("usage: taskservice path/to/service.py")
    path = Path(args[0]).resolve()
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    run(module)
