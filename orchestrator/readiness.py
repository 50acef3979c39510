"""Is there anyone to run the work? `/ready`'s verdict and a workflow's no-worker warnings."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import redis

from orchestrator.settings import Settings
from orchestrator.store import Store
from orchestrator.workers import WorkerRegistry


def readiness(r: redis.Redis, registry: WorkerRegistry, settings: Settings) -> tuple[bool, dict[str, Any]]:
    """(ready, body): ready when Redis answers and a live worker serves the shared queue."""
    try:
        r.ping()
    except redis.RedisError as exc:
        return False, {"status": "unavailable", "redis": f"unavailable: {exc}", "workers": 0,
                       "reason": f"Redis does not answer: {exc}"}
    live = registry.live()
    serving = registry.serving(settings.queue, live)
    body: dict[str, Any] = {"status": "ready", "redis": "ok", "workers": len(live),
                            "workers_on_shared_queue": len(serving), "queue": settings.queue}
    if not serving:
        body.update(status="unavailable",
                    reason=f"no live worker serves the shared queue {settings.queue!r} "
                           f"({len(live)} live worker(s)); start one with `orchestrator-worker`")
        return False, body
    return True, body


def _age(iso: str | None, now: float) -> float:
    if not iso:
        return 0.0
    try:
        return now - datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def workflow_warnings(r: redis.Redis, registry: WorkerRegistry, settings: Settings, wf: dict[str, Any],
                      nodes: list[dict[str, Any]], dedicated_key: str) -> list[str]:
    """Warnings for a workflow whose ready nodes wait with no live worker to take them.

    A node is ready when it is scheduled (queued) but not yet claimed; the wait is
    counted from the workflow's last change, since nothing changes while no worker runs.
    """
    if wf.get("status") not in ("pending", "running"):
        return []
    ready = sum(1 for n in nodes if n.get("status") == "pending" and n.get("scheduled") == "1")
    if not ready:
        return []
    waited = _age(wf.get("updated_at") or wf.get("created_at"), time.time())
    if waited < settings.no_worker_warning:
        return []
    try:
        if r.exists(dedicated_key):
            return []
        if registry.serving(settings.queue):
            return []
    except redis.RedisError:
        return []
    return [f"no live worker: {ready} ready node(s) have waited {waited:.0f} s with no worker serving "
            f"the queue {settings.queue!r}; start one with `orchestrator-worker`"]


def stalled_warnings(store: Store, registry: WorkerRegistry, settings: Settings, wid: str) -> list[str]:
    """`workflow_warnings` read fresh from Redis (for the event stream of a workflow where nothing runs)."""
    wf = store.workflow(wid)
    if not wf:
        return []
    pipe = store.r.pipeline(transaction=False)
    for i in range(int(wf.get("total") or 0)):
        pipe.hmget(store.node_key(wid, i), "status", "scheduled")
    rows = [{"status": st, "scheduled": sc} for st, sc in pipe.execute()]
    return workflow_warnings(store.r, registry, settings, wf, rows, store.dedicated_key(wid))
