"""Orchestrator metrics that count what every worker did, kept in Redis and exposed by the API.

Workers and API replicas add to Redis hashes (`HINCRBY`, one pipelined round
trip per node end); `RedisCollector` reads them when Prometheus scrapes
`GET /metrics` on the API, together with gauges read live (workflows by
status, live workers, queue depth). So any API replica reports the totals of
the whole deployment, not what its own process saw.

Keys: `{prefix}:metrics:counts` (hash: `nodes:{status}`, `retries`,
`takeovers`, `leases_lost`, `workflows:{action}`) and
`{prefix}:metrics:node_seconds` (hash: `{status}|{le}` bucket counts, not
cumulative, plus `{status}|sum` and `{status}|count`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.workers import WorkerRegistry
from taskservice.models import TaskStatus

#: seconds; node runs range from milliseconds to hours
BUCKETS = (0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
NODE_END = ("complete", "failed", "cancelled")


class MetricsKeys:
    def __init__(self, prefix: str) -> None:
        self.counts = f"{prefix}:metrics:counts"
        self.durations = f"{prefix}:metrics:node_seconds"


def _bucket(seconds: float) -> str:
    for le in BUCKETS:
        if seconds <= le:
            return repr(float(le))
    return "+Inf"


def add_node_end(pipe: Any, keys: MetricsKeys, status: str, seconds: float | None) -> None:
    """Queue on `pipe` the counts of one node that ended with `status` after `seconds`."""
    pipe.hincrby(keys.counts, f"nodes:{status}", 1)
    if seconds is not None:
        pipe.hincrby(keys.durations, f"{status}|{_bucket(seconds)}", 1)
        pipe.hincrbyfloat(keys.durations, f"{status}|sum", max(seconds, 0.0))
        pipe.hincrby(keys.durations, f"{status}|count", 1)


def add_count(pipe: Any, keys: MetricsKeys, field: str, n: int = 1) -> None:
    pipe.hincrby(keys.counts, field, n)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCollector(Collector):
    """Prometheus collector reading the deployment-wide counts from Redis at scrape time."""

    def __init__(self, r: redis.Redis, prefix: str, queue: str, workers: WorkerRegistry) -> None:
        self.r = r
        self.p = prefix
        self.queue = queue
        self.keys = MetricsKeys(prefix)
        self.workers = workers

    def collect(self) -> Iterator[Metric]:
        statuses = [s.value for s in TaskStatus]
        pipe = self.r.pipeline(transaction=False)
        for s in statuses:
            pipe.zcard(f"{self.p}:status:{s}")
        pipe.hgetall(self.keys.counts)
        pipe.hgetall(self.keys.durations)
        pipe.llen(f"rq:queue:{self.queue}")
        *cards, counts_raw, durations_raw, depth = pipe.execute()
        counts = {_text(k): float(_text(v)) for k, v in counts_raw.items()}
        durations = {_text(k): float(_text(v)) for k, v in durations_raw.items()}

        wf = GaugeMetricFamily("orchestrator_workflows", "Workflows by status (retained ones)", labels=["status"])
        for s, n in zip(statuses, cards):
            wf.add_metric([s], float(n))
        yield wf

        actions = CounterMetricFamily("orchestrator_workflow_actions", "Workflows submitted, cancelled, retried, "
                                      "deleted through the API", labels=["action"])
        for action in ("submitted", "cancelled", "retried", "deleted"):
            actions.add_metric([action], counts.get(f"workflows:{action}", 0.0))
        yield actions

        nodes = CounterMetricFamily("orchestrator_nodes", "Node runs ended, by final status, across all workers",
                                    labels=["status"])
        for s in NODE_END:
            nodes.add_metric([s], counts.get(f"nodes:{s}", 0.0))
        yield nodes
        for name, field, doc in (
            ("orchestrator_node_retries", "retries", "Transient faults retried by workers"),
            ("orchestrator_lease_takeovers", "takeovers", "Nodes taken over from a worker whose lease expired"),
            ("orchestrator_leases_lost", "leases_lost", "Leases a worker found taken over by another"),
            ("orchestrator_node_claims", "claims", "Nodes claimed by workers"),
        ):
            yield CounterMetricFamily(name, doc, value=counts.get(field, 0.0))

        hist = HistogramMetricFamily("orchestrator_node_duration_seconds",
                                     "Node run time from start to end, by final status", labels=["status"])
        for s in NODE_END:
            cumulative, buckets = 0.0, []
            for le in [*(repr(float(b)) for b in BUCKETS), "+Inf"]:
                cumulative += durations.get(f"{s}|{le}", 0.0)
                buckets.append((le, cumulative))
            hist.add_metric([s], buckets, sum_value=durations.get(f"{s}|sum", 0.0))
        yield hist

        live = self.workers.live()
        yield GaugeMetricFamily("orchestrator_workers_live", "Workers with a recent heartbeat",
                                value=float(len(live)))
        yield GaugeMetricFamily("orchestrator_workers_busy_nodes", "Nodes driven by live workers now",
                                value=float(sum(w["nodes_running"] for w in live)))
        q = GaugeMetricFamily("orchestrator_queue_depth", "Node starts waiting in the shared RQ queue",
                              labels=["queue"])
        q.add_metric([self.queue], float(depth))
        yield q
