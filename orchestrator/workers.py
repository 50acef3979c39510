"""Worker presence in Redis: who runs, where, what each drives now, and what it has done.

Each worker process registers a hash `{prefix}:worker:{id}` (host, pid,
queues, start time, last heartbeat, the nodes it drives now, nodes done) with
a TTL, and scores itself in the zset `{prefix}:workers` by its last
heartbeat. A worker whose heartbeat is older than `ORCHESTRATOR_WORKER_TTL`
is gone, whether it exited cleanly (it unregisters) or was killed.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone
from typing import Any

import redis


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


class WorkerRegistry:
    """Read and write worker presence (used by workers to beat, by the API to list)."""

    def __init__(self, r: redis.Redis, prefix: str, ttl: float) -> None:
        self.r = r
        self.p = prefix
        self.ttl = ttl

    @property
    def index_key(self) -> str:
        return f"{self.p}:workers"

    def key(self, worker_id: str) -> str:
        return f"{self.p}:worker:{worker_id}"

    def register(self, worker_id: str, queues: list[str]) -> None:
        now = time.time()
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(self.key(worker_id), mapping={
            "id": worker_id, "host": socket.gethostname(), "pid": os.getpid(), "queues": json.dumps(queues),
            "started_at": _iso(now), "last_heartbeat": _iso(now), "last_heartbeat_ts": repr(now),
            "nodes": "[]", "nodes_done": 0})
        pipe.expire(self.key(worker_id), max(int(self.ttl * 3), 5))
        pipe.zadd(self.index_key, {worker_id: now})
        pipe.execute()

    def beat(self, worker_id: str, nodes: list[str]) -> None:
        """Refresh the heartbeat and the list of nodes (`{workflow_id}|{index}`) driven now."""
        now = time.time()
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(self.key(worker_id), mapping={"last_heartbeat": _iso(now), "last_heartbeat_ts": repr(now),
                                                "nodes": json.dumps(sorted(nodes))})
        pipe.expire(self.key(worker_id), max(int(self.ttl * 3), 5))
        pipe.zadd(self.index_key, {worker_id: now})
        pipe.execute()

    def node_done(self, worker_id: str, pipe: Any, n: int = 1) -> None:
        pipe.hincrby(self.key(worker_id), "nodes_done", n)

    def unregister(self, worker_id: str) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.delete(self.key(worker_id))
        pipe.zrem(self.index_key, worker_id)
        pipe.execute()

    def live(self) -> list[dict[str, Any]]:
        """Every worker with a heartbeat younger than the TTL, oldest start first."""
        horizon = time.time() - self.ttl
        self.r.zremrangebyscore(self.index_key, "-inf", repr(horizon))
        ids = self.r.zrange(self.index_key, 0, -1)
        pipe = self.r.pipeline(transaction=False)
        for wid in ids:
            pipe.hgetall(self.key(_text(wid)))
        out = []
        for raw in pipe.execute():
            h = {_text(k): _text(v) for k, v in raw.items()}
            if not h or float(h.get("last_heartbeat_ts", 0)) < horizon:
                continue
            nodes = [_node(m) for m in json.loads(h.get("nodes") or "[]")]
            out.append({"id": h["id"], "host": h.get("host"), "pid": int(h.get("pid", 0)),
                        "queues": json.loads(h.get("queues") or "[]"), "started_at": h.get("started_at"),
                        "last_heartbeat": h.get("last_heartbeat"), "nodes": nodes,
                        "nodes_running": len(nodes), "nodes_done": int(h.get("nodes_done", 0))})
        out.sort(key=lambda w: w["started_at"] or "")
        return out

    def serving(self, queue: str, workers: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Live workers listening on `queue`."""
        return [w for w in (self.live() if workers is None else workers) if queue in w["queues"]]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _node(member: str) -> dict[str, Any]:
    wid, _, idx = member.rpartition("|")
    return {"workflow_id": wid, "index": int(idx) if idx.isdigit() else idx}
