"""The RQ jobs that start nodes (`start_node`, `start_nodes`, `start_ready`) and how they are enqueued.

An RQ job only *starts* nodes: it claims their leases and hands them to the
asyncio monitor of the worker process it runs in (see `runner.Runner`), which
sends `execute`, long-polls the service and, on completion, starts or enqueues
the downstream nodes. A long node therefore never holds an RQ worker.

A few nodes to start on the shared queue (the roots of a submitted workflow,
a retry's) are not given an RQ job each: an RQ job costs a worker several
milliseconds of bookkeeping, more than a whole quick node. They are pushed, as
one entry `{workflow_id}|{i},{j},...`, onto the list `{prefix}:ready:{queue}`,
and one `start_ready` job drains it, starting the nodes of every workflow
submitted meanwhile with one claim script. The key `{prefix}:ready_job:{queue}`
says such a job is queued (whoever sets it enqueues the job; the job deletes it
before draining, so an entry pushed later gets a job of its own); it expires
after a lease, so a lost job is replaced. A node is scheduled with a lease
before it is pushed, so one lost with its job is taken over by the reapers.
A wide fan-out goes through RQ in chunks (`start_nodes`): every worker gets a share.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import redis
from rq import Queue

from orchestrator.settings import Settings
from orchestrator.store import Store
from orchestrator.workers import WorkerRegistry

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


def start_ready(queue: str) -> str:
    """RQ job: start the nodes pushed onto the queue's ready list (see the module docstring).

    It first waits `COALESCE` seconds, so that the roots of workflows submitted meanwhile (a
    burst of submissions) are started by this one job instead of a job each."""
    if _runner is None:
        raise RuntimeError("start_ready must run inside `python -m worker` (orchestrator.worker)")
    time.sleep(COALESCE)
    return _runner.start_ready(queue)


# seconds a `start_ready` job waits before it takes its share of the ready list, and the most entries
# it takes (the rest goes to another job, so other workers share a burst)
COALESCE = 0.03
READY_MAX = 32

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
        self._workers_key = WorkerRegistry(store.r, settings.prefix, settings.worker_ttl).index_key

    def _queue(self, name: str) -> Queue:
        q = self._queues.get(name)
        if q is None:
            if len(self._queues) > 1000:
                self._queues.clear()
            q = self._queues[name] = Queue(name, connection=self.rq)
        return q

    def ready_key(self, queue: str) -> str:
        """The list of node starts waiting for a `start_ready` job of `queue`."""
        return f"{self.settings.prefix}:ready:{queue}"

    def _ready_job_key(self, queue: str) -> str:
        return f"{self.settings.prefix}:ready_job:{queue}"

    def _arm(self, queue: str) -> None:
        """Enqueue a `start_ready` job for `queue` unless one is queued already."""
        if self.store.r.set(self._ready_job_key(queue), "1", nx=True, px=int(self.settings.lease_ttl * 1000)):
            self._enqueue_start_ready(queue)

    def _enqueue_start_ready(self, queue: str) -> None:
        self._queue(queue).enqueue_many([
            Queue.prepare_data(start_ready, args=(queue,), result_ttl=0, failure_ttl=3600, timeout=120,
                               description=f"start the ready nodes of {queue}")])

    def push_ready(self, workflow_id: str, indexes: list[int]) -> None:
        """Queue a few node starts on the shared queue's ready list (see the module docstring)."""
        queue = self.settings.queue
        pipe = self.store.r.pipeline(transaction=False)
        pipe.rpush(self.ready_key(queue), f"{workflow_id}|{','.join(str(i) for i in indexes)}")
        pipe.set(self._ready_job_key(queue), "1", nx=True, px=int(self.settings.lease_ttl * 1000))
        if pipe.execute()[1]:
            self._enqueue_start_ready(queue)

    def take_ready(self, queue: str) -> list[tuple[str, list[int]]]:
        """This worker's share of the ready list, as (workflow id, indexes): the waiting entries
        divided by the registered workers (at most READY_MAX); when more wait, another
        `start_ready` job is enqueued for them, which another worker takes (a burst of
        submissions is spread over the workers, as one job per root was)."""
        pipe = self.store.r.pipeline(transaction=False)
        pipe.llen(self.ready_key(queue))
        pipe.zcard(self._workers_key)
        waiting, workers = pipe.execute()
        share = max(1, min(READY_MAX, -(-int(waiting) // max(1, int(workers)))))
        pipe = self.store.r.pipeline(transaction=True)
        pipe.delete(self._ready_job_key(queue))
        pipe.lpop(self.ready_key(queue), share)
        pipe.llen(self.ready_key(queue))
        _, items, left = pipe.execute()
        if left:
            self._arm(queue)
        out: list[tuple[str, list[int]]] = []
        for item in items or ():
            wid, _, idx = item.rpartition("|")
            out.append((wid, [int(i) for i in idx.split(",") if i]))
        return out

    def enqueue(self, workflow_id: str, indexes: list[int], dedicated: bool | None = None) -> None:
        """`dedicated`: whether a dedicated worker serves the workflow, if the caller knows (None: look)."""
        if not indexes:
            return
        if dedicated is None:
            dedicated = bool(self.store.r.exists(self.store.dedicated_key(workflow_id)))
        if not dedicated and len(indexes) < CHUNK_MIN:
            self.push_ready(workflow_id, indexes)
            return
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
