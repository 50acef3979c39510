"""The worker-side monitor: drives many node tasks at once in one asyncio loop.

`Runner` lives in every worker process, in a thread beside RQ's work loop.
For each node it holds the lease of, it sends `execute` (idempotent by task
id), long-polls `/control/status/{task_id}?wait=` with one shared httpx
client, records progress, fetches the output and advances the workflow with
one atomic script that also schedules the downstream nodes exactly once.

Crash safety: leases are renewed by a heartbeat; a reaper in every worker
takes over leases that expired (a worker SIGKILLed) and re-sends `execute`
with the same task id, which re-attaches to the running service task.

Outages are not failures. Redis away (restart, pause, failover): the driving
of a node waits until Redis answers and goes on from what Redis holds. A
service away (unreachable, 5xx, reset, a task it lost in a restart or
interrupted in a shutdown): tolerated while the outage lasts less than
`outage_tolerance` seconds, counted from the first failed contact and reset by
any successful one; a lost or interrupted task is executed again as a new
attempt with a new task id. Only the service saying `failed` on its own is a
node failure, retried while `options.max_attempts` allows. Whenever the
orchestrator gives up on a task that may still run, it sends stop for it (kept
pending in Redis until the service answers, see `orchestrator.stops`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from orchestrator import fastjson, stops
from orchestrator.connections import describe, is_outage, redis_client
from orchestrator.control import ControlClient, Reply, normalize_status
from orchestrator.jobs import Jobs
from orchestrator.observe import NodeObserver
from orchestrator.settings import Settings
from orchestrator.store import ACTIVE_NODE, Claim, LeaseLost, Store, now_iso, task_id_for
from taskservice.models import TaskStatus

log = logging.getLogger("orchestrator.runner")

FINAL = {"complete", "failed", "cancelled"}
# children made ready by a node's completion that the finishing worker claims and drives itself (a
# chain or a DAG never queues a node; a wider fan-out shares the rest through RQ)
CLAIM_AT_FINISH = 16


class NodeFailed(Exception):
    """A node that cannot go on: its error message ends the node as failed.

    `failure`: the service itself said `failed` (another attempt may be allowed);
    `stop`: the task may still run on its service, so it is sent stop.
    """

    def __init__(self, message: str, *, failure: bool = False, stop: bool = False) -> None:
        super().__init__(message)
        self.failure = failure
        self.stop = stop


class NewAttempt(Exception):
    """The service lost or interrupted the task: execute the node again under a new task id."""


class Node:
    """Everything needed to drive one vertex of one workflow run."""

    def __init__(self, claim: Claim, run: str, spec: dict[str, Any], api_key: str | None,
                 settings: Settings) -> None:
        self.claim = claim
        self.wid = claim.workflow_id
        self.index = claim.index
        v = spec["graph"]["vertices"][claim.index]
        self.vertex = v
        self.name = f"{v['container']}.{v['operation']}"
        host = v["host"]
        host = f"[{host}]" if ":" in host else host
        self.base = f"{v.get('scheme', 'http')}://{host}:{v['port']}"
        self.run = run
        self.attempt = claim.attempt
        self.task_id = task_id_for(self.wid, run, claim.index, v["container"], v["operation"], claim.attempt)
        self.api_key = api_key or settings.services_api_key
        opts = spec.get("options") or {}
        self.timeout = ((opts.get("node_timeouts") or {}).get(v["container"])
                        or (opts.get("node_timeouts") or {}).get(self.name)
                        or opts.get("node_timeout") or settings.node_timeout)
        per_node = opts.get("node_max_attempts") or {}
        self.max_attempts = int(per_node.get(v["container"]) or per_node.get(self.name)
                                or opts.get("max_attempts") or 1)
        self.outage_since: float | None = None  # first failed contact of the current outage
        self.outage_tries = 0
        ff = opts.get("fail_fast")
        self.fail_fast = settings.fail_fast if ff is None else bool(ff)
        params = dict((spec.get("parameters") or {}).get(v["container"]) or {})
        params.update((spec.get("parameters") or {}).get(self.name) or {})
        inputs = claim.parent_outputs if v["parents"] else (spec.get("inputs") or [])
        self.inputs = [x for x in inputs if x is not None]
        self.body = {"method": v["operation"], "task_id": self.task_id, "workflow_id": self.wid,
                     "inputs": self.inputs, "parameters": params}
        self.retries = claim.retries
        self.started_ts = claim.started_ts
        self.stop_sent = claim.stop_sent
        self.token = claim.token  # fences every write of ours to this node
        self.paused_since: float | None = None  # the service reports the task paused since then
        self.paused_total = 0.0  # seconds paused so far: they do not count against the timeout

    def pause_changed(self, paused: bool) -> bool:
        """Note whether the service reports the task paused; True when that changed."""
        if paused == (self.paused_since is not None):
            return False
        now = time.time()
        if paused:
            self.paused_since = now
        else:
            self.paused_total += now - (self.paused_since or now)
            self.paused_since = None
        return True

    def next_attempt(self, attempt: int) -> None:
        v = self.vertex
        self.attempt = attempt
        self.task_id = task_id_for(self.wid, self.run, self.index, v["container"], v["operation"], attempt)
        self.body["task_id"] = self.task_id
        self.stop_sent = False

    @property
    def member(self) -> str:
        return f"{self.wid}|{self.index}"


class Runner:
    def __init__(self, settings: Settings, workflow_id: str | None = None) -> None:
        self.settings = settings
        self.store = Store(redis_client(settings), settings.prefix)
        self.rq_connection = redis_client(settings, decode_responses=False, blocking=True)
        self.where = describe(settings)
        self.jobs = Jobs(self.store, self.rq_connection, settings)
        self.only = workflow_id
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}  # lease member -> driving task (loop thread only)
        self.on_workflow_end: Callable[[], None] | None = None
        self._stop: asyncio.Event | None = None
        self.control: ControlClient | None = None
        self.observer = NodeObserver(self.store.r, settings.prefix, self.worker_id, settings.worker_ttl)
        self._execute_slots: asyncio.Semaphore | None = None

    # lifecycle ------------------------------------------------------------------
    def start_thread(self) -> None:
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._thread_main, args=(ready,), name="orch-monitor",
                                       daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("monitor thread did not start")

    def _thread_main(self, ready: threading.Event) -> None:
        assert self.loop is not None
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self.control = ControlClient.from_settings(self.settings)
        self._execute_slots = asyncio.Semaphore(self.settings.execute_concurrency)
        self._stop = asyncio.Event()
        if self.only:
            try:
                self._refresh_dedicated()
            except redis.RedisError as exc:  # the heartbeat sets it once Redis answers
                log.warning("Redis unavailable at start (%s): %r", self.where, exc)
        ready.set()
        loops = [asyncio.create_task(self._every(self.settings.heartbeat_interval, self._heartbeat)),
                 asyncio.create_task(self._every(self.settings.reaper_interval, self._reap)),
                 asyncio.create_task(self._every(self.settings.maintenance_interval, self._maintain)),
                 asyncio.create_task(self._every(self.settings.stop_retry_interval, self._retry_stops))]
        if self.only:
            loops.append(asyncio.create_task(self._every(0.2, self._watch_workflow)))
        await self._stop.wait()
        for t in loops:
            t.cancel()
        members = list(self.tasks)
        for t in list(self.tasks.values()):
            t.cancel()
        await asyncio.gather(*self.tasks.values(), *loops, return_exceptions=True)
        self.observer.flush()
        try:
            self.store.release(self.worker_id, members)  # others take over at once
            if self.only:
                self.store.r.delete(self.store.dedicated_key(self.only))
        except redis.RedisError:
            pass
        await self.control.aclose()

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and self.thread and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(15)

    async def _every(self, interval: float, fn: Callable[[], Any]) -> None:
        while True:
            try:
                res = fn()
                if asyncio.iscoroutine(res):
                    await res
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep the loop alive through Redis hiccups
                name = getattr(fn, "__name__", fn)
                if is_outage(exc):
                    log.warning("background step %s waits for Redis (%s): %r", name, self.where, exc)
                else:
                    log.exception("background step %s failed", name)
            await asyncio.sleep(interval)

    # starting nodes ---------------------------------------------------------------
    def start(self, workflow_id: str, index: int) -> str:
        """Called by the RQ job in the main thread: claim, then hand over to the loop."""
        return self.start_many(workflow_id, [index])[0]

    def start_many(self, workflow_id: str, indexes: list[int]) -> list[str]:
        """`start` for a chunk of a fan-out: one claim script for all, one hand-over to the loop."""
        claims = self.store.claim_many(workflow_id, indexes, self.worker_id, self.settings.lease_ttl)
        self._hand_over(claims)
        return ["skipped" if c is None else "started" for c in claims]

    def start_ready(self, queue: str) -> str:
        """Called by the `start_ready` RQ job: claim what waits on the queue's ready list (one script
        for every workflow in it), then hand over to the loop."""
        groups = self.jobs.take_ready(queue)
        claims = self.store.claim_batch(groups, self.worker_id, self.settings.lease_ttl)
        return f"{self._hand_over(claims)} of {len(claims)} started"

    def _hand_over(self, claims: list[Claim | None]) -> int:
        """Give the claimed nodes (None: not claimed) to the loop thread to drive; how many."""
        taken = [c for c in claims if c is not None]
        if taken:
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self._spawn_all, taken)
        return len(taken)

    def _spawn_all(self, claims: list[Claim]) -> None:
        for claim in claims:
            self._spawn(claim)

    def _spawn(self, claim: Claim) -> None:
        member = f"{claim.workflow_id}|{claim.index}"
        current = self.tasks.get(member)
        if current is not None and not current.done():
            return
        task = asyncio.get_running_loop().create_task(self._drive(claim))
        self.tasks[member] = task

        def forget(t: asyncio.Task[None], m: str = member) -> None:
            if self.tasks.get(m) is t:
                del self.tasks[m]
        task.add_done_callback(forget)

    # background duties ---------------------------------------------------------------
    def _heartbeat(self) -> None:
        self.observer.beat(list(self.tasks))
        lost = self.store.heartbeat(self.worker_id, list(self.tasks), self.settings.lease_ttl)
        for m in lost:
            t = self.tasks.get(m)
            if t is not None:
                self.observer.lease_lost(m, self.store.lease_owner(*m.rsplit("|", 1)))
                t.cancel()
        if self.only:
            self._refresh_dedicated()

    def _refresh_dedicated(self) -> None:
        assert self.only
        self.store.r.set(self.store.dedicated_key(self.only), self.worker_id,
                         ex=max(int(self.settings.heartbeat_interval * 3), 5))

    def _reap(self) -> None:
        members = self.store.expired_leases()
        # a dedicated worker also picks up its workflow's nodes queued before it started: looked for
        # (a read of every node) only while the workflow has more live nodes than this worker drives
        if self.only and self.store.counters(self.only)["active"] > len(self.tasks):
            members += self.store.queued_members(self.only)
        for member in members:
            wid, _, idx = member.rpartition("|")
            if (self.only and wid != self.only) or member in self.tasks:
                continue
            claim = self.store.claim(wid, int(idx), self.worker_id, self.settings.lease_ttl)
            if claim is not None:
                self.observer.taken_over(member)
                self._spawn(claim)

    def _maintain(self) -> None:
        lock = f"{self.settings.prefix}:maintenance"
        if self.store.r.set(lock, self.worker_id, nx=True, ex=max(int(self.settings.maintenance_interval), 1)):
            self.store.prune(self.settings.retention_seconds, self.settings.max_finished,
                             max_bytes=int(self.settings.retention_max_mb * 1024 * 1024))

    async def _retry_stops(self) -> None:
        assert self.control is not None
        await stops.retry_due(self.store, self.control, self.settings)

    _seen_workflow = False

    def _watch_workflow(self) -> None:
        assert self.only
        wf = self.store.r.hget(self.store.wf_key(self.only), "status")
        if wf is not None:
            self._seen_workflow = True
        ended = (wf in FINAL) or (wf is None and self._seen_workflow)
        if ended and not self.tasks and self.on_workflow_end is not None:
            cb, self.on_workflow_end = self.on_workflow_end, None
            cb()

    # driving one node -------------------------------------------------------------------
    async def _drive(self, claim: Claim) -> None:
        """Drive a claimed node; while Redis is away, wait, then claim it again and go on."""
        while True:
            try:
                await self._drive_once(claim)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - outages only; _drive_once handles the rest
                if not is_outage(exc):
                    raise
                log.warning("Redis unavailable while driving %s|%s (%r); waiting for it",
                            claim.workflow_id, claim.index, exc)
            again = await self._when_redis_answers(self.store.claim, claim.workflow_id, claim.index,
                                                   self.worker_id, self.settings.lease_ttl)
            if again is None:  # finished meanwhile, or another worker holds it now
                return
            claim = again

    async def _when_redis_answers(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)`, retried with capped backoff for as long as Redis is away."""
        delay = 0.05
        while True:
            try:
                return fn(*args)
            except Exception as exc:  # noqa: BLE001
                if not is_outage(exc):
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_backoff_max)

    async def _drive_once(self, claim: Claim) -> None:
        spec = self.store.spec(claim.workflow_id)
        if spec is None:
            return
        run, spec_d, api_key = spec
        node = Node(claim, run, spec_d, api_key, self.settings)
        self.observer.claimed(node)
        try:
            try:
                if claim.status == "stopping" or claim.workflow_status not in ("pending", "running"):
                    await self._wind_down(node)
                    return
                await self._run(node)
            except NodeFailed as exc:
                if exc.stop and not node.stop_sent:
                    await self._send_stop(node)  # we stop caring: the work must stop too
                await self._finish(node, TaskStatus.FAILED, {"error": str(exc)}, f"node {node.name} failed: {exc}")
            except (asyncio.CancelledError, LeaseLost):
                raise
            except Exception as exc:  # noqa: BLE001 - never leave a node hanging on a bug
                if is_outage(exc):
                    raise  # Redis is away: `_drive` waits for it
                log.exception("driving %s failed", node.name)
                await self._finish(node, TaskStatus.FAILED, {"error": f"orchestrator error: {exc!r}"},
                                   f"node {node.name} failed: orchestrator error: {exc!r}")
        except LeaseLost:
            # a newer owner took the node over: stop driving it at once, write nothing more
            log.warning("lease %s lost to a newer owner; letting go", node.member)

    def _backoff(self, n: int) -> float:
        return min(self.settings.retry_backoff * 2 ** min(max(n - 1, 0), 30), self.settings.retry_backoff_max)

    async def _outage(self, node: Node, what: str) -> None:
        """One failed contact with the service: wait, or give up once the outage lasts too long."""
        now = time.time()
        if node.outage_since is None:
            node.outage_since, node.outage_tries = now, 0
        node.outage_tries += 1
        node.retries += 1
        self.store.patch(node.wid, node.index, {"retries": node.retries, "last_error": what,
                                                "updated_at": now_iso()}, allowed=ACTIVE_NODE, token=node.token)
        lasted = now - node.outage_since
        tolerance = self.settings.outage_tolerance
        if lasted >= tolerance:
            raise NodeFailed(f"service outage: {node.base} unavailable for {lasted:.1f} s "
                             f"(outage tolerance {tolerance:g} s): {what}", stop=True)
        delay = min(self._backoff(node.outage_tries), max(tolerance - lasted, 0.01))
        self.observer.retried(node, what, node.retries, delay)
        await asyncio.sleep(delay)

    @staticmethod
    def _contact(node: Node) -> None:
        """The service answered: the current outage (if any) is over."""
        node.outage_since = None
        node.outage_tries = 0

    async def _failure_attempt(self, node: Node, exc: NodeFailed) -> str:
        """The service said `failed`: back off for another attempt if allowed, else re-raise."""
        key = self.store.node_key(node.wid, node.index)
        failures = int(self.store.r.hget(key, "failures") or 0) + 1
        if failures >= node.max_attempts:
            if node.max_attempts > 1:
                raise NodeFailed(f"{exc} (attempt {failures} of {node.max_attempts})") from exc
            raise exc
        self.store.patch(node.wid, node.index, {"failures": failures, "last_error": str(exc)},
                         allowed=ACTIVE_NODE, token=node.token)
        log.warning("node %s of %s failed on attempt %d of %d: %s; trying again", node.name, node.wid,
                    failures, node.max_attempts, exc)
        await asyncio.sleep(self._backoff(failures))
        return f"attempt {node.attempt} failed: {exc}"

    async def _next_attempt(self, node: Node, why: str) -> bool:
        """Move the node to a new attempt (new task id). False: it is no longer ours to run."""
        attempt = self.store.new_attempt(node.wid, node.index, node.token, why)
        if not attempt:
            if self.store.node_status(node.wid, node.index) == "stopping":
                await self._finish(node, TaskStatus.CANCELLED, {"error": why}, "")
            return False
        log.info("node %s of %s: attempt %d (%s)", node.name, node.wid, attempt, why)
        node.next_attempt(attempt)
        return True

    async def _execute(self, node: Node) -> Reply:
        assert self.control is not None
        while True:
            assert self._execute_slots is not None
            async with self._execute_slots:  # a wide fan-out must not flood its service with executes
                reply = await self.control.execute(node.base, node.body, node.api_key)
            if reply.transient or (reply.status_code == 409 and not reply.body.get("task_id")):
                await self._outage(node, f"execute: {reply.detail()}")
                continue
            if reply.status_code in (200, 201, 202) and not reply.invalid:
                self.observer.executed(node, reply.status_code, reply.body.get("status"))
                return reply
            raise NodeFailed(f"execute rejected: {reply.detail()}")

    async def _run(self, node: Node) -> None:
        """One pass per attempt: a lost, interrupted or (if allowed) failed task runs again."""
        while True:
            try:
                if await self._attempt(node):
                    return
                why = "task vanished from its service (restarted?)"
                await self._outage(node, why)
            except NewAttempt as exc:
                why = str(exc)
                await self._outage(node, why)
            except NodeFailed as exc:
                if not exc.failure:
                    raise
                why = await self._failure_attempt(node, exc)
            if not await self._next_attempt(node, why):
                return

    async def _attempt(self, node: Node) -> bool:
        """Execute and follow one task. False: it vanished (execute it again)."""
        reply = await self._execute(node)
        st = normalize_status(reply.body.get("status"))
        if st is TaskStatus.FAILED:
            self._check_failed(reply.body)
        self._contact(node)
        if st is TaskStatus.COMPLETE and "output" in reply.body:
            # answered inside execute: one script records both the start and the end
            await self._complete(node, reply.body.get("output"), self._start_fields(node))
            return True
        if not await self._mark_running(node):
            return True
        if st is TaskStatus.CANCELLED:
            await self._finish(node, TaskStatus.CANCELLED, {"error": "cancelled by the service"},
                               f"node {node.name} was cancelled by its service")
            return True
        return await self._monitor(node, known="running")

    @staticmethod
    def _check_failed(body: dict[str, Any]) -> None:
        """A `failed` task: interrupted by its service going away (outage), or a node failure."""
        error = str(body.get("error") or "failed on its service")
        if body.get("interrupted") is True:
            raise NewAttempt(f"task interrupted on its service: {error}")
        raise NodeFailed(error, failure=True)

    @staticmethod
    def _start_fields(node: Node) -> dict[str, Any]:
        # no copy of the inputs: they are the parents' outputs, stored once on the parents
        fields: dict[str, Any] = {"task_id": node.task_id, "updated_at": now_iso()}
        if node.started_ts is None:
            node.started_ts = time.time()
            fields.update(started_at=now_iso(), started_ts=repr(node.started_ts))
        return fields

    async def _mark_running(self, node: Node) -> bool:
        fields = self._start_fields(node)
        prev = self.store.patch(node.wid, node.index, fields, allowed=("pending", "running", "paused"),
                                new_status="running", token=node.token)
        if prev is None:
            # cancelled (or deleted) while we were sending execute: stop what we started
            await self._send_stop(node)
            await self._finish(node, TaskStatus.CANCELLED, {}, "")
            return False
        return True

    async def _monitor(self, node: Node, known: str | None = None) -> bool:
        """Follow the task to its end. False: it vanished and must be executed again.

        Each pass starts from the node's status in Redis. `known` is that status when the
        caller has just read or written it (`_mark_running`), and a progress patch returns
        it too, so only passes without such a store call read it (one round trip fewer).
        """
        assert self.control is not None
        last: Any = None
        delay = self.settings.poll_min_interval
        while True:
            nst, known = known or self.store.node_status(node.wid, node.index), None
            if nst is None or nst in FINAL:
                if nst is None:
                    await self._send_stop(node)
                return True
            if nst == "stopping" and not node.stop_sent:
                await self._send_stop(node)
            wait = self.settings.poll_wait
            if node.timeout and node.paused_since is None:  # a paused task's clock stands still
                remaining = (node.started_ts + node.paused_total  # type: ignore[operator]
                             + float(node.timeout) - time.time())
                if remaining <= 0:
                    await self._send_stop(node)
                    raise NodeFailed(f"timed out after {float(node.timeout):g} s")
                wait = min(wait, remaining)
            t0 = time.monotonic()
            reply = await self.control.status(node.base, node.task_id, wait, node.api_key)
            elapsed = time.monotonic() - t0
            if nst == "stopping" and (reply.transient or reply.status_code == 404):
                # we asked it to stop; the stop stays pending until the service answers
                await self._finish(node, TaskStatus.CANCELLED, {"error": f"stopped: {reply.detail()}"}, "")
                return True
            if reply.status_code == 404:
                return False
            if reply.transient:
                await self._outage(node, f"status: {reply.detail()}")
                continue
            if not reply.ok:
                raise NodeFailed(f"status: {reply.detail()}")
            self._contact(node)
            body = reply.body
            st = normalize_status(body.get("status"))
            if st is TaskStatus.COMPLETE:
                extra = {"details": fastjson.dumps(body["details"])} if body.get("details") else {}
                await self._complete(node, await self._output(node), extra)
                return True
            if st is TaskStatus.FAILED:
                if nst == "stopping":
                    await self._finish(node, TaskStatus.CANCELLED, {"error": body.get("error") or "stopped"}, "")
                    return True
                self._check_failed(body)
            if st is TaskStatus.CANCELLED:
                await self._finish(node, TaskStatus.CANCELLED, {"error": body.get("error") or "cancelled"},
                                   f"node {node.name} was cancelled")
                return True
            seen = (body.get("status"), body.get("progress"), body.get("details"))
            if seen != last:
                last = seen
                delay = self.settings.poll_min_interval
                fields: dict[str, Any] = {"updated_at": now_iso()}
                if body.get("progress") is not None:
                    fields["progress"] = body.get("progress")
                if body.get("details"):
                    fields["details"] = fastjson.dumps(body.get("details"))
                if node.pause_changed(st is TaskStatus.PAUSED):
                    # shown as `paused`; the lease is kept (the heartbeat renews it whatever the status)
                    new = "running" if node.paused_since is None else "paused"
                    if self.store.patch(node.wid, node.index, fields, allowed=("running", "paused"),
                                        new_status=new, token=node.token) is not None:
                        known = new
                        continue
                # the status before the patch is the next pass's status (None: not running/stopping, so read it)
                known = self.store.patch(node.wid, node.index, fields, allowed=("running", "stopping", "paused"),
                                         token=node.token)
            elif wait > 0.2 and elapsed < min(wait / 2, 0.5):
                await asyncio.sleep(delay)  # the service ignores ?wait: poll with backoff
                delay = min(delay * 2, self.settings.poll_max_interval)

    async def _output(self, node: Node) -> Any:
        assert self.control is not None
        while True:
            reply = await self.control.output(node.base, node.task_id, node.api_key)
            if reply.ok:
                self._contact(node)
                return reply.body.get("output", reply.body)
            if reply.status_code == 404:
                raise NewAttempt(f"output vanished from its service: {reply.detail()}")
            if reply.transient or reply.status_code == 409:
                await self._outage(node, f"output: {reply.detail()}")
                continue
            raise NodeFailed(f"output: {reply.detail()}")

    async def _complete(self, node: Node, output: Any, extra: dict[str, Any] | None = None) -> None:
        fields = {"output": fastjson.dumps(output), "progress": 100, **(extra or {})}
        await self._finish(node, TaskStatus.COMPLETE, fields, "")

    async def _finish(self, node: Node, status: TaskStatus, fields: dict[str, Any], wf_error: str) -> None:
        res = self.store.finish(node.wid, node.index, status.value, fields,
                                retention=self.settings.retention_seconds, fail_fast=node.fail_fast,
                                lease_ttl=self.settings.lease_ttl, wf_error=wf_error, token=node.token,
                                claim_as=self.worker_id, claim_max=CLAIM_AT_FINISH)
        if not res.changed:
            if status is TaskStatus.COMPLETE:
                await self._start_queued_children(node)
            return
        # The children made ready continue here at once, claimed by the finish script itself (no queue,
        # no extra round trip), up to CLAIM_AT_FINISH; the rest of a wide fan-out goes through RQ, so
        # every worker shares it. They start before this node's own bookkeeping below.
        for claim in res.claims:
            self._spawn(claim)
        if res.queued:
            self.jobs.enqueue(node.wid, res.queued, dedicated=res.dedicated)
        if res.claims:
            await asyncio.sleep(0)  # let the children send their executes first
        self.observer.ended(node, status.value, fields.get("error"), workflow_ended=res.workflow_status in FINAL)
        if res.to_stop:
            await asyncio.gather(*(self.stop_node(node.wid, j) for j in res.to_stop))

    async def _start_queued_children(self, node: Node) -> None:
        """The node was already complete: our finish was applied before Redis went away and its answer
        lost. Its children were scheduled then; start those nobody claimed yet (else the reaper would,
        after a lease)."""
        children = self.store.r.hget(self.store.node_key(node.wid, node.index), "children") or ""
        for c in (int(x) for x in children.split(",") if x):
            claim = self.store.claim(node.wid, c, self.worker_id, self.settings.lease_ttl)
            if claim is not None:
                self._spawn(claim)

    async def _send_stop(self, node: Node) -> None:
        """Stop the node's task now, or keep the stop pending until its service answers."""
        assert self.control is not None
        await stops.send_stop(self.store, self.control, self.settings, node.wid, node.index, node.task_id,
                              node.base, node.api_key, token=node.token)
        self.observer.stop_sent(node)
        node.stop_sent = True

    async def stop_node(self, wid: str, index: int) -> None:
        """Send /control/stop to node `index` (driven by any worker)."""
        assert self.control is not None
        await stop_node_task(self.store, self.control, self.settings, wid, index)

    async def _wind_down(self, node: Node) -> None:
        """The workflow no longer wants this node: stop it on its service and wait for the end."""
        if node.claim.status == "pending":
            await self._finish(node, TaskStatus.CANCELLED, {}, "")
            return
        if not node.stop_sent:
            await self._send_stop(node)
        try:
            await self._monitor(node)
        except NodeFailed as exc:
            await self._finish(node, TaskStatus.CANCELLED, {"error": str(exc)}, "")


async def stop_node_task(store: Store, control: ControlClient, settings: Settings, wid: str,
                         index: int) -> bool:
    """`/control/stop` for a node's current task (API and runner); pending while the service is away."""
    spec = store.spec(wid)
    if spec is None:
        return False
    run, spec_d, _ = spec
    n = store.node(wid, index)
    if not n:
        return False
    v = spec_d["graph"]["vertices"][index]
    tid = n.get("task_id") or task_id_for(wid, run, index, v["container"], v["operation"],
                                           int(n.get("attempt", 1)))
    reply = await stops.send_stop(store, control, settings, wid, index, tid)
    return reply.ok
