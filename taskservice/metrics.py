"""Prometheus metrics of a template service, served at `GET /metrics`.

Counts are plain integers kept by `observe.TaskObserver` under the manager's
lock (its hooks already run there), so a task step costs a dict lookup and an
addition, not a prometheus-client lock per sample; they are turned into
metric families only when Prometheus scrapes. Pool and retention gauges are
read from the manager at the same moment. Each app has its own registry, so
several services (or tests) in one process never share counts.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .manager import TaskManager

#: seconds; from a few milliseconds to six hours (the default task timeout)
DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0)


class ServiceMetrics(Collector):
    """Task counts and durations of one service; mutate only while holding `lock`."""

    def __init__(self, manager: TaskManager, lock: threading.RLock | threading.Lock) -> None:
        self.manager = manager
        self.lock = lock
        self.accepted: dict[str, int] = {}
        self.finished: dict[tuple[str, str], int] = {}
        self.stops: dict[str, int] = {}
        self.durations: dict[str, list[float]] = {}  # method -> bucket counts (+Inf last), then sum
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, method: str, status: str, seconds: float) -> None:
        key = (method, status)
        self.finished[key] = self.finished.get(key, 0) + 1
        row = self.durations.get(method)
        if row is None:
            row = self.durations[method] = [0.0] * (len(DURATION_BUCKETS) + 2)
        row[bisect_left(DURATION_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            accepted, finished = dict(self.accepted), dict(self.finished)
            stops = dict(self.stops)
            durations = {m: list(row) for m, row in self.durations.items()}
        stats = self.manager.stats()

        fam = CounterMetricFamily("taskservice_tasks", "Finished tasks by method and final status",
                                  labels=["method", "status"])
        for (method, status), n in sorted(finished.items()):
            fam.add_metric([method, status], n)
        yield fam
        fam = CounterMetricFamily("taskservice_tasks_accepted", "Tasks accepted by execute, by method",
                                  labels=["method"])
        for method, n in sorted(accepted.items()):
            fam.add_metric([method], n)
        yield fam
        fam = CounterMetricFamily("taskservice_stop_requests", "Stops asked (by a client, a timeout or shutdown)",
                                  labels=["method"])
        for method, n in sorted(stops.items()):
            fam.add_metric([method], n)
        yield fam
        hist = HistogramMetricFamily("taskservice_task_duration_seconds",
                                     "Task duration from start (or acceptance) to end, by method", labels=["method"])
        for method, row in sorted(durations.items()):
            cumulative, buckets = 0.0, []
            for le, n in zip([*map(str, DURATION_BUCKETS), "+Inf"], row[:-1]):
                cumulative += n
                buckets.append((le, cumulative))
            hist.add_metric([method], buckets, sum_value=row[-1])
        yield hist

        for name, key, doc in (
            ("taskservice_pool_busy", "running_jobs", "Pool threads running a task now"),
            ("taskservice_pool_size", "max_workers", "Pool threads (SERVICE_MAX_WORKERS)"),
            ("taskservice_tasks_queued", "pending", "Tasks waiting for a thread or a resource"),
            ("taskservice_tasks_active", "active", "Tasks pending, running or stopping"),
            ("taskservice_tasks_retained", "retained", "Finished task records kept in memory"),
        ):
            yield GaugeMetricFamily(name, doc, value=float(stats[key]))


def metrics_router(registry: CollectorRegistry, dependencies: list) -> APIRouter:
    """`GET /metrics` in Prometheus text format (behind the API key when one is set)."""
    router = APIRouter(dependencies=dependencies)

    @router.get("/metrics", tags=["service"], response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
    def metrics() -> Response:
        """Tasks by method and status, task durations per method, pool busy and queued, retained records."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
