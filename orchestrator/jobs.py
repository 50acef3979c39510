"""The one RQ job (`start_node`) and how it is enqueued.

An RQ job only *starts* a node: it claims the node's lease and hands it to the
asyncio monitor of the worker process it runs in (see `runner.Runner`), which
sends `execute`, long-polls the service and, on completion, enqueues the
downstream nodes. A long node therefore never holds an RQ worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from rq import Queue

from orchestrator.settings import Settings
from orchestrator.store import Store

if TYPE_CHECKING:
    from orchestrator.runner import Runner

_runner: Runner | None = None


def bind(runner: Runner | None) -> None:
    """Attach the worker process's runner (done once by `python -m worker`)."""
    global _runner
    _runner = runner


def start_node(workflow_id: str, index: int) -> str:
    """RQ job: claim node `index` of `workflow_id` and hand it to this process's monitor."""
    if _runner is None:
        raise RuntimeError("start_node must run inside `python -m worker` (orchestrator.worker)")
    return _runner.start(workflow_id, int(index))


def start_nodes(workflow_id: str, indexes: list[int]) -> str:
    """RQ job: start several nodes of one workflow (a wide fan-out is shared out in chunks,
    so a node costs a claim, not a whole RQ job)."""
    if _runner is None:
        raise RuntimeError("start_nodes must run inside `python -m worker` (orchestrator.worker)")
    return ",".join(_runner.start_many(workflow_id, [int(i) for i in indexes]))


# a fan-out is cut into at most about this many jobs (so every worker gets a share) of at least
# CHUNK_MIN and at most CHUNK_MAX nodes each (an RQ job costs a worker and Redis far more than a
# node's claim: a chunk of a few nodes would cost more in RQ's bookkeeping than in the nodes)
SHARES = 16
CHUNK_MIN = 16
CHUNK_MAX = 50


def dedicated_queue_name(settings: Settings, workflow_id: str) -> str:
    return f"{settings.queue}-{workflow_id}"


class Jobs:
    """Enqueues node starts on the shared queue, or on a dedicated worker's queue."""

    def __init__(self, store: Store, rq_connection: redis.Redis, settings: Settings) -> None:
        self.store = store
        self.rq = rq_connection
        self.settings = settings
        self._queues: dict[str, Queue] = {}

    def _queue(self, name: str) -> Queue:
        q = self._queues.get(name)
        if q is None:
            if len(self._queues) > 1000:
                self._queues.clear()
            q = self._queues[name] = Queue(name, connection=self.rq)
        return q

    def enqueue(self, workflow_id: str, indexes: list[int], dedicated: bool | None = None) -> None:
        """`dedicated`: whether a dedicated worker serves the workflow, if the caller knows (None: look)."""
        if not indexes:
            return
        if dedicated is None:
            dedicated = bool(self.store.r.exists(self.store.dedicated_key(workflow_id)))
        name = dedicated_queue_name(self.settings, workflow_id) if dedicated else self.settings.queue
        q = self._queue(name)
        size = max(CHUNK_MIN, min(CHUNK_MAX, -(-len(indexes) // SHARES)))
        chunks = [indexes[k:k + size] for k in range(0, len(indexes), size)]
        q.enqueue_many([
            Queue.prepare_data(start_node, args=(workflow_id, c[0]), result_ttl=0, failure_ttl=3600,
                               timeout=120, description=f"start {workflow_id} node {c[0]}")
            if len(c) == 1 else
            Queue.prepare_data(start_nodes, args=(workflow_id, c), result_ttl=0, failure_ttl=3600,
                               timeout=120, description=f"start {workflow_id} nodes {c[0]}..{c[-1]}")
            for c in chunks
        ])
