"""What a service tells operators about its tasks: a log line and metrics per lifecycle step.

The manager calls these hooks (under its lock, so they stay small): when a
task is accepted, starts, is asked to stop, and ends. Nothing here runs per
status call or per progress update, so the hot paths keep their speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .logs import get_logger
from .metrics import ServiceMetrics

if TYPE_CHECKING:
    from .manager import TaskManager, _Entry


class TaskObserver:
    """Logs (`taskservice.tasks`) and Prometheus metrics for one manager's tasks."""

    def __init__(self, manager: TaskManager, service: str | None = None) -> None:
        self.metrics = ServiceMetrics(manager)
        self.log = get_logger("taskservice.tasks", **({"service": service} if service else {}))
        self._accepted = self.metrics.accepted
        self._finished = self.metrics.finished
        self._duration = self.metrics.duration

    def _ids(self, entry: _Entry) -> dict[str, Any]:
        ids: dict[str, Any] = {"task_id": entry.task_id, "method": entry.method}
        if entry.workflow_id:
            ids["workflow_id"] = entry.workflow_id
        return ids

    def accepted(self, entry: _Entry) -> None:
        self._accepted.labels(entry.method).inc()
        self.log.info("task accepted", **self._ids(entry))

    def started(self, entry: _Entry) -> None:
        self.log.info("task started", **self._ids(entry))

    def stop_requested(self, entry: _Entry, reason: str) -> None:
        self.metrics.stops.labels(entry.method).inc()
        self.log.info("task stop requested", reason=reason, status=entry.status.value, **self._ids(entry))

    def finished(self, entry: _Entry) -> None:
        status = entry.status.value
        begin = entry.started or entry.created
        duration = max((entry.finished or begin) - begin, 0.0)
        self._finished.labels(entry.method, status).inc()
        self._duration.labels(entry.method).observe(duration)
        if entry.error is not None:
            self.log.warning("task finished", status=status, duration=round(duration, 6), error=entry.error,
                             **self._ids(entry))
        else:
            self.log.info("task finished", status=status, duration=round(duration, 6), **self._ids(entry))
