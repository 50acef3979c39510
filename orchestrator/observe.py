"""What workers and the API tell operators: a structured log line and a metric per event.

`NodeObserver` lives in a worker's runner: node claimed, executed, completed,
retried (with the reason), failed (with the error), taken over, lease lost,
stop sent; it also keeps the worker's presence (heartbeat, nodes driven now,
nodes done). `api_event` records what users did through the API. Counts go
to Redis (see `orchestrator.metrics`) so the API's `/metrics` covers every
worker.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis

from orchestrator.metrics import MetricsKeys, NodeEnds, add_count
from orchestrator.workers import WorkerRegistry
from taskservice.logs import HotLogger, get_logger

log = get_logger("orchestrator.worker")
api_log = get_logger("orchestrator.api")


def _ids(node: Any) -> dict[str, Any]:
    return {"workflow_id": node.wid, "node": node.name, "index": node.index, "task_id": node.task_id,
            "attempt": node.attempt}


FLUSH_INTERVAL = 0.1  # seconds: node-end counts of a busy worker reach Redis at most this late


class NodeObserver:
    """Logs and counts one worker's node events; keeps its presence fresh."""

    def __init__(self, r: redis.Redis, prefix: str, worker_id: str, worker_ttl: float) -> None:
        self.r = r
        self.worker = worker_id
        self.keys = MetricsKeys(prefix)
        self.registry = WorkerRegistry(r, prefix, worker_ttl)
        self.log = log.bind(worker=worker_id)
        # the lines of every node (claimed, executed, ended): same format, built in one string each
        self.hot = HotLogger("orchestrator.worker", worker=worker_id)
        self._claims = 0  # counted locally, added to Redis with the next flush of node ends or heartbeat
        # node ends counted locally and added to Redis in one pipeline at most every FLUSH_INTERVAL
        # (at once when the last flush is older, or a workflow ended): a busy worker pays one round
        # trip for many nodes, an idle one shows each end at once
        self._ends = NodeEnds()
        self._last_flush = 0.0
        self._flush_due: asyncio.TimerHandle | None = None

    def _count(self, field: str) -> None:
        try:
            self.r.hincrby(self.keys.counts, field, 1)
        except redis.RedisError:
            pass  # metrics never stop the work

    # presence ----------------------------------------------------------------------------
    def register(self, queues: list[str]) -> None:
        self.registry.register(self.worker, queues)
        self.log.info("worker started", queues=queues)

    def beat(self, nodes: list[str]) -> None:
        self.registry.beat(self.worker, nodes)
        self.flush()

    def flush(self) -> None:
        """Add the node ends and claims counted since the last flush to Redis (one round trip)."""
        if self._flush_due is not None:
            self._flush_due.cancel()
            self._flush_due = None
        self._last_flush = time.monotonic()
        ends, self._ends = self._ends, NodeEnds()
        claims, self._claims = self._claims, 0
        if not ends and not claims:
            return
        try:
            pipe = self.r.pipeline(transaction=False)
            ends.add_to(pipe, self.keys)
            if claims:
                pipe.hincrby(self.keys.counts, "claims", claims)
            if ends:
                self.registry.node_done(self.worker, pipe, ends.nodes)
            pipe.execute()
        except redis.RedisError:  # metrics never stop the work: counted again with the next flush
            self._ends.merge(ends)
            self._claims += claims

    def _flush_soon(self, now: bool) -> None:
        if now or time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()
            return
        if self._flush_due is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not on an event loop: no later, so now
                self.flush()
                return
            self._flush_due = loop.call_at(loop.time() + FLUSH_INTERVAL, self.flush)

    def unregister(self) -> None:
        try:
            self.registry.unregister(self.worker)
        except redis.RedisError:
            pass
        self.log.info("worker stopped")

    # node events ----------------------------------------------------------------------------
    def claimed(self, node: Any, how: str = "queue") -> None:
        self._claims += 1
        self.hot.info("node claimed", via=how, **_ids(node))

    def executed(self, node: Any, status_code: int, status: Any) -> None:
        self.hot.info("node executed", http_status=status_code, task_status=str(status), service=node.base,
                      **_ids(node))

    def retried(self, node: Any, reason: str, retries: int, delay: float | None) -> None:
        self._count("retries")
        self.log.warning("node retried", reason=reason, retries=retries, delay=delay, **_ids(node))

    def ended(self, node: Any, status: str, error: str | None = None, workflow_ended: bool = False) -> None:
        """A node ended: its line now, its counts with the next flush (at once when its workflow ended)."""
        seconds = time.time() - node.started_ts if node.started_ts else None
        self._ends.add(status, seconds)
        self._flush_soon(workflow_ended)
        extra = {"duration": round(seconds, 6)} if seconds is not None else {}
        if status == "failed":
            self.hot.error("node failed", error=error, **extra, **_ids(node))
        elif status == "complete":
            self.hot.info("node completed", **extra, **_ids(node))
        else:
            self.hot.info(f"node {status}", error=error, **extra, **_ids(node))

    def taken_over(self, member: str) -> None:
        self._count("takeovers")
        wid, _, idx = member.rpartition("|")
        self.log.warning("node taken over (lease expired)", workflow_id=wid, index=int(idx))

    def lease_lost(self, member: str, owner: str | None) -> None:
        self._count("leases_lost")
        wid, _, idx = member.rpartition("|")
        self.log.warning("lease lost to another worker", workflow_id=wid, index=int(idx), owner=owner)

    def stop_sent(self, node: Any, ok: bool | None = None) -> None:
        self.log.info("stop sent", delivered=ok, service=node.base, **_ids(node))


def api_event(r: redis.Redis, prefix: str, action: str, workflow_id: str, user: str | None, **extra: Any) -> None:
    """Log and count one user action on a workflow (submitted, cancelled, retried, deleted)."""
    try:
        pipe = r.pipeline(transaction=False)
        add_count(pipe, MetricsKeys(prefix), f"workflows:{action}")
        pipe.execute()
    except redis.RedisError:
        pass
    api_log.info(f"workflow {action}", workflow_id=workflow_id, user=user or "anonymous", **extra)


def user_of(request: Any) -> str:
    """Who asked: the authenticated user when auth names one, else `X-User`, else the client address."""
    user = getattr(request.state, "user", None)
    if user:
        return str(user)
    header = request.headers.get("x-user")
    if header:
        return header[:128]
    return f"anonymous@{request.client.host}" if request.client else "anonymous"
