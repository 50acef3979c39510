"""What a service tells operators about its tasks: a log line and metrics per lifecycle step.

The manager calls these hooks under its lock, when a task is accepted,
starts, is asked to stop, and ends; they stay small (counts are plain
integers, lines are built in one go). Nothing here runs per status call or
per progress update, so the hot paths keep their speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .logs import HotLogger
from .metrics import ServiceMetrics

if TYPE_CHECKING:
    from .manager import TaskManager, _Entry


class TaskObserver:
    """Logs (`taskservice.tasks`) and Prometheus metrics for one manager's tasks."""

    def __init__(self, manager: TaskManager, service: str | None = None) -> None:
        self.metrics = ServiceMetrics(manager, manager._lock)  # the hooks run under this lock
        self.log = HotLogger("taskservice.tasks", **({"service": service} if service else {}))

    def accepted(self, entry: _Entry) -> None:
        counts = self.metrics.accepted
        counts[entry.method] = counts.get(entry.method, 0) + 1
        self.log.info("task accepted", task_id=entry.task_id, method=entry.method, workflow_id=entry.workflow_id)

    def started(self, entry: _Entry) -> None:
        self.log.info("task started", task_id=entry.task_id, method=entry.method, workflow_id=entry.workflow_id)

    def stop_requested(self, entry: _Entry, reason: str) -> None:
        stops = self.metrics.stops
        stops[entry.method] = stops.get(entry.method, 0) + 1
        self.log.info("task stop requested", task_id=entry.task_id, method=entry.method,
                      workflow_id=entry.workflow_id, reason=reason, status=entry.status.value)

    def finished(self, entry: _Entry) -> None:
        status = entry.status._value_
        begin = entry.started or entry.created
        duration = max((entry.finished or begin) - begin, 0.0)
        self.metrics.observe(entry.method, status, duration)
        if entry.error is not None:
            self.log.warning("task finished", task_id=entry.task_id, method=entry.method,
                             workflow_id=entry.workflow_id, status=status, duration=round(duration, 6),
                             error=entry.error)
        else:
            self.log.info("task finished", task_id=entry.task_id, method=entry.method,
                          workflow_id=entry.workflow_id, status=status, duration=round(duration, 6))
