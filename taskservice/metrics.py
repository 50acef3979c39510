"""Prometheus metrics of a template service, served at `GET /metrics`.

Counters and histograms are fed by `observe.TaskObserver` at task ends (never
per status call); pool and retention gauges are read from the manager when
Prometheus scrapes. Each app has its own registry, so several services (or
tests) in one process never share counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .manager import TaskManager

#: seconds; from a few milliseconds to six hours (the default task timeout)
DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 6 * 3600)


class _ManagerGauges(Collector):
    """Pool and retention gauges, read from the manager at scrape time."""

    def __init__(self, manager: TaskManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        stats = self.manager.stats()
        for name, key, doc in (
            ("taskservice_pool_busy", "running_jobs", "Pool threads running a task now"),
            ("taskservice_pool_size", "max_workers", "Pool threads (SERVICE_MAX_WORKERS)"),
            ("taskservice_tasks_queued", "pending", "Tasks waiting for a thread or a resource"),
            ("taskservice_tasks_active", "active", "Tasks pending, running or stopping"),
            ("taskservice_tasks_retained", "retained", "Finished task records kept in memory"),
        ):
            yield GaugeMetricFamily(name, doc, value=float(stats[key]))


class ServiceMetrics:
    """The metrics of one service app."""

    def __init__(self, manager: TaskManager) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.accepted = Counter("taskservice_tasks_accepted", "Tasks accepted by execute, by method",
                                ["method"], registry=self.registry)
        self.finished = Counter("taskservice_tasks", "Finished tasks by method and final status",
                                ["method", "status"], registry=self.registry)
        self.duration = Histogram("taskservice_task_duration_seconds",
                                  "Task duration from start (or acceptance) to end, by method",
                                  ["method"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.stops = Counter("taskservice_stop_requests", "Stops asked (by a client, a timeout or shutdown)",
                             ["method"], registry=self.registry)
        self.registry.register(_ManagerGauges(manager))


def metrics_router(registry: CollectorRegistry, dependencies: list) -> APIRouter:
    """`GET /metrics` in Prometheus text format (behind the API key when one is set)."""
    router = APIRouter(dependencies=dependencies)

    @router.get("/metrics", tags=["service"], response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
    def metrics() -> Response:
        """Tasks by method and status, task durations per method, pool busy and queued, retained records."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
