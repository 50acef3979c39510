"""Orchestrator metrics that count what every worker did, kept in Redis and exposed by the API.

Workers and API replicas add to Redis hashes (`HINCRBY`; a busy worker sends
the node ends it counted in one pipelined round trip at most every 0.1 s, see
`NodeEnds`); `RedisCollector` reads them when Prometheus scrapes `GET /metrics`
on the API, together with gauges read live (workflows by status, live workers,
queue depth). So any API replica reports the totals of
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


class NodeEnds:
    """Node ends counted in a worker between two flushes to Redis (see `NodeObserver.flush`)."""

    def __init__(self) -> None:
        self.nodes = 0
        self.counts: dict[str, int] = {}      # `{prefix}:metrics:counts` field -> increment
        self.durations: dict[str, int] = {}   # `{prefix}:metrics:node_seconds` bucket/count field -> increment
        self.seconds: dict[str, float] = {}   # status -> seconds to add to `{status}|sum`

    def __bool__(self) -> bool:
        return self.nodes > 0

    def add(self, status: str, seconds: float | None) -> None:
        self.nodes += 1
        _inc(self.counts, f"nodes:{status}", 1)
        if seconds is not None:
            _inc(self.durations, f"{status}|{_bucket(seconds)}", 1)
            _inc(self.durations, f"{status}|count", 1)
            self.seconds[status] = self.seconds.get(status, 0.0) + max(seconds, 0.0)

    def merge(self, other: NodeEnds) -> None:
        self.nodes += other.nodes
        for mine, theirs in ((self.counts, other.counts), (self.durations, other.durations)):
            for k, v in theirs.items():
                _inc(mine, k, v)
        for k, x in other.seconds.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + x

    def add_to(self, pipe: Any, keys: MetricsKeys) -> None:
        """Queue the increments on `pipe` (one command per field that changed)."""
        for k, v in self.counts.items():
            pipe.hincrby(keys.counts, k, v)
        for k, v in self.durations.items():
            pipe.hincrby(keys.durations, k, v)
        for status, x in self.seconds.items():
            pipe.hincrbyfloat(keys.durations, f"{status}|sum", x)


def _inc(d: dict[str, int], key: str, n: int) -> None:
    d[key] = d.get(key, 0) + n


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
        pipe.llen(f"{self.p}:ready:{self.queue}")  # node starts batched for one RQ job (orchestrator.jobs)
        *cards, counts_raw, durations_raw, depth, ready = pipe.execute()
        depth += ready
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
        q = GaugeMetricFamily("orchestrator_queue_depth", "Node starts waiting in the shared RQ queue "
                              "(RQ jobs and batched starts on its ready list)",
                              labels=["queue"])
        q.add_metric([self.queue], float(depth))
        yield q
