"""TaskManager: the lifecycle and scheduling of a service's tasks.

One lock guards every live record (`taskservice.entry.Entry`). Tasks are
registered before they run (a status call right after execute never sees
404), started on a bounded thread pool when a worker and their resource are
free, stopped through a cooperative token, timed out by one watchdog thread,
and forgotten by a retention policy with a TTL refreshed on every read and a
count bound. Every change goes to the record store (`taskservice.records`:
memory only, or an SQLite file that survives restarts) and to the query index
(`taskservice.index`). A final state becomes visible only once the store has
made it durable. Long-poll waiters on the event loop are woken with
`call_soon_threadsafe`, never touched from a thread.

Beside it: `entry` (one record), `records`/`sqlite_records` (where records
outlive the process), `index` (queries), `outputs` (results, spilled to
files), `pool` (threads), `seed_api` (the seed template's explicit API),
`task_errors` (what the HTTP layer answers 4xx for).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .entry import (ACTIVE, ACTIVE_VALUES, CANCELLED, COMPLETE, FAILED, PAUSED, PENDING, RUNNING, STOPPING, Entry,
                    dumps, fingerprint, iso, loads, micros_or_none, new_task_id)
from .ids import task_file
from .index import TaskIndex
from .models import ExecuteRequest, ExecuteResponse, TaskStatus
from .outputs import store_output, wire_output
from .pool import Pool
from .query import Condition, matcher, to_micros
from .records import MEMORY, RecordStore, Row
from .seed_api import SeedAPI
from .task_errors import ShuttingDown, TaskConflict, TaskError, TaskLocked, TaskNotFound
from .sqlite_records import open_store
from .task import Task, TaskCancelled

logger = logging.getLogger(__name__)

__all__ = ["ACTIVE", "ACTIVE_VALUES", "ShuttingDown", "TaskConflict", "TaskError", "TaskLocked", "TaskManager",
           "TaskNotFound", "fingerprint", "iso", "new_task_id"]

_Entry = Entry  # the name other modules used before records had a module of their own

#: The stop reason of tasks the service stops because it is going away (never a cancellation).
SHUTDOWN_REASON = "interrupted: the service shut down before the task finished"
#: The error of tasks an earlier process left unfinished (found in the store at start).
RESTART_ERROR = "interrupted: the previous service process ended before the task finished"
#: After the grace period, how long stopped tasks get to notice their token.
STOP_WINDOW = 2.0


class TaskManager(SeedAPI):
    """Registry, scheduler and lifecycle of tasks. Thread-safe.

    The seed's explicit API (`register_task`, `update_progress`,
    `complete_task`, `fail_task`, `get_status`, `get_output`) is kept so
    services written for it port by changing one import.
    """

    def __init__(self, max_workers: int = 32, retention_ttl: float = 3600, retention_max: int = 10_000,
                 data_dir: Path | str = "var/data", state_db: Path | str = MEMORY,
                 inline_max_bytes: int = 1 << 20) -> None:
        self._lock = threading.RLock()
        self._last_created = 0  # microseconds of the newest task made: each new one comes later
        self._store: RecordStore = RecordStore()
        self._state_db: str = MEMORY
        self._index = TaskIndex(self._lock)
        self._entries: dict[str, _Entry] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # by last read, oldest first
        self._pending: deque[_Entry] = deque()
        self._holders: dict[str, list[_Entry]] = {}  # resource -> pending/running entries holding it
        self._active_jobs = 0
        self._started_total = 0
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: list[tuple[float, str]] = []
        self._watchdog_cv = threading.Condition(self._lock)
        self._watchdog: threading.Thread | None = None
        self._accepting = True
        self._closed = False
        self.observer: Any = None  # observe.TaskObserver: a log line and metrics per lifecycle step
        self._pause_cv = threading.Condition(self._lock)
        self.result_max_bytes = 64 * 1024
        self.configure(max_workers=max_workers, retention_ttl=retention_ttl, retention_max=retention_max,
                       data_dir=data_dir, state_db=state_db, inline_max_bytes=inline_max_bytes)

    # -- configuration ---------------------------------------------------------------------

    def configure(self, *, max_workers: int | None = None, retention_ttl: float | None = None,
                  retention_max: int | None = None, data_dir: Path | str | None = None,
                  state_db: Path | str | None = None, inline_max_bytes: int | None = None,
                  result_max_bytes: int | None = None) -> None:
        """Apply settings; the pool is (re)made only while idle, the store opened once per location."""
        with self._lock:
            if result_max_bytes is not None:
                self.result_max_bytes = result_max_bytes
            if max_workers is not None:
                if self._active_jobs:
                    raise RuntimeError("cannot resize the pool while tasks run")
                self.max_workers = max_workers
                old = getattr(self, "_pool", None)
                self._pool = Pool(max_workers)
                if old is not None:
                    old.shutdown()
            if retention_ttl is not None:
                self.retention_ttl = retention_ttl
            if retention_max is not None:
                self.retention_max = retention_max
            if data_dir is not None:
                self.data_dir = Path(data_dir)
            if inline_max_bytes is not None:
                self.inline_max_bytes = inline_max_bytes
            if state_db is not None and str(state_db) != self._state_db:
                self._open_store(str(state_db))

    def _open_store(self, location: str) -> None:
        """Switch to the store at `location` and take over the records an earlier process left."""
        old, self._store = self._store, open_store(location)
        self._state_db = location
        old.close()
        rows = self._store.load()
        recovered: list[Row] = []
        now = time.time()
        for row in rows:
            self._last_created = max(self._last_created, row.created)
            if row.task_id in self._entries:
                continue
            entry = Entry.from_row(row)
            if not entry.status.finished:  # pending, running, stopping (or paused) when the process ended
                record = json.loads(row.record)
                record.update(status=FAILED.value, error=RESTART_ERROR, interrupted=True, finished_at=iso(now))
                entry.status, entry.error, entry.interrupted = FAILED, RESTART_ERROR, True
                entry.finished = entry.touched = now
                entry.final, entry.output = dumps(record), None
                recovered.append(Entry.to_row(entry))
            self._entries[entry.task_id] = entry
            self._finished[entry.task_id] = None
            self._index.add(entry)
        if recovered:
            logger.warning("%d task(s) left unfinished by the previous process are now failed (interrupted)",
                           len(recovered))
            self._store.save_now(recovered)
        self._store.bind(self._rows_of, self._lock)
        self._prune(now)

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop long-poll waiters live on."""
        self._loop = loop

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener(record)` (under the lock, so keep it quick) on every change."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # -- registration and scheduling -----------------------------------------------------

    def lookup(self, task_id: str) -> _Entry | None:
        """The task's entry, if retained (a dict read is atomic: no lock for the execute hot path)."""
        return self._entries.get(task_id)

    def _create(self, task_id: str, method: str, workflow_id: str | None, fp: bytes | None,
                user: str | None = None) -> _Entry:
        if not self._accepting:
            raise ShuttingDown("service is shutting down")
        existing = self._entries.get(task_id)
        if existing is not None:
            raise TaskConflict(f"task {task_id!r} already exists", task_id=task_id, status=existing.status)
        entry = _Entry(task_id, method, workflow_id, fp, user)
        created = to_micros(entry.created)
        if created <= self._last_created:  # creation times are unique: they key the stored rows
            created = self._last_created + 1
            entry.created = entry.touched = created / 1_000_000
        self._last_created = created
        self._entries[task_id] = entry
        self._index.add(entry)
        if self.observer is not None:
            self.observer.accepted(entry)
        return entry

    def submit(self, request: ExecuteRequest, job: Callable[[Task], Any], *, params: Any = None,
               resource: str | None = None, limit: int | None = None, queue: bool = False,
               timeout: float | None = None, fp: bytes | None = None,
               callback: dict[str, Any] | None = None, user: str | None = None,
               spill: bool = True, cancellable: bool = True, pausable: bool = False) -> dict[str, Any]:
        """Register a background task and start it when a worker and its resource are free.

        Raises TaskConflict naming the tasks holding `resource` when it is at
        `limit` and `queue` is false. Waiting tasks start by `request.priority`
        (higher first), in arrival order among equals.
        """
        task_id = request.task_id or new_task_id()
        with self._lock:
            if not queue:
                self._check_resource(resource, limit)
            entry = self._create(task_id, request.method, request.workflow_id, fp, user)
            entry.resource, entry.limit, entry.timeout = resource, limit, timeout
            entry.callback, entry.spill = callback, spill
            entry.cancellable, entry.pausable = cancellable, pausable
            entry.priority = getattr(request, "priority", 0) or 0
            handle = Task(self, request, params, entry)
            entry.job = lambda: job(handle)
            if resource is not None:
                self._holders.setdefault(resource, []).append(entry)
            self._enqueue(entry)
            self._schedule()
            self._changed(entry)
            return entry.record()

    def _enqueue(self, entry: _Entry) -> None:
        """Put a waiting task behind every task of the same or higher priority."""
        pending = self._pending
        index = len(pending)
        while index and pending[index - 1].priority < entry.priority:
            index -= 1
        pending.insert(index, entry)

    def _resource_free(self, entry: _Entry) -> bool:
        if entry.resource is None or entry.limit is None:
            return True
        running = sum(1 for h in self._holders.get(entry.resource, ()) if h.status is not PENDING)
        return running < entry.limit

    def _schedule(self) -> None:
        """Start pending tasks, oldest first, while workers and resources allow."""
        if not self._pending or self._closed:
            return
        blocked: set[str] = set()
        for entry in list(self._pending):
            if self._active_jobs >= self.max_workers:
                break
            if entry.resource in blocked:
                continue  # keep FIFO order within one resource
            if not self._resource_free(entry):
                if entry.resource is not None:
                    blocked.add(entry.resource)
                continue
            self._pending.remove(entry)
            self._start(entry)

    def _start(self, entry: _Entry) -> None:
        entry.status = RUNNING
        entry.started = time.time()  # it has a worker: never `running` with no start time
        self._active_jobs += 1
        self._started_total += 1
        self._pool.submit(self._run, entry)

    def _run(self, entry: _Entry) -> None:
        """Body of a pool thread: run the job, then record how it ended."""
        with self._lock:
            if entry.status not in (RUNNING, PAUSED):  # stopped between scheduling and start
                if entry.live:
                    self._finish(entry, *self._stopped_outcome(entry))
                self._release(entry)
                return
            if entry.timeout:
                self._arm_deadline(entry)
            job, entry.job = entry.job, None  # the record is as `_start` left it: nothing to announce
            if self.observer is not None:
                self.observer.started(entry)
        status, output, error = COMPLETE, None, None
        try:
            output = job() if job is not None else None
            if isinstance(output, ExecuteResponse) and output.status is FAILED:
                status, error = FAILED, output.error or "failed"
        except TaskCancelled:
            status = CANCELLED
        except Exception as exc:  # noqa: BLE001 - the task fails, the service lives on
            logger.exception("task %s (%s) failed", entry.task_id, entry.method)
            status, error = FAILED, f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        with self._lock:
            self._finish(entry, status, output, error)
            self._release(entry)

    def _release(self, entry: _Entry) -> None:
        self._active_jobs -= 1
        self._schedule()

    def _arm_deadline(self, entry: _Entry) -> None:
        heap = self._deadlines
        if len(heap) > 1024 and len(heap) > 4 * self._active_jobs:  # drop deadlines of finished tasks
            self._deadlines = heap = [d for d in heap if self._is_active(d[1])]
            heapq.heapify(heap)
        deadline = entry.started + entry.paused_total + entry.timeout  # type: ignore[operator]
        heapq.heappush(heap, (deadline, entry.task_id))
        self.start_watchdog()
        if heap[0][1] == entry.task_id:  # a new earliest deadline: the watchdog must re-arm
            self._watchdog_cv.notify()

    def _is_active(self, task_id: str) -> bool:
        entry = self._entries.get(task_id)
        return entry is not None and entry.status in ACTIVE

    def start_watchdog(self) -> None:
        """Start the thread that enforces timeouts and sweeps expired tasks."""
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="task-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """One thread for every timeout, plus periodic retention sweeps."""
        with self._lock:
            while not self._closed:
                now = time.time()
                while self._deadlines and self._deadlines[0][0] <= now:
                    _, task_id = heapq.heappop(self._deadlines)
                    entry = self._entries.get(task_id)
                    if entry is not None and entry.status is RUNNING and entry.live and entry.timeout:
                        # (a paused task's clock stands still; resume arms its deadline again)
                        if entry.started is not None and entry.started + entry.paused_total + entry.timeout <= now + 1e-3:
                            self._request_stop(entry, f"timed out after {entry.timeout:g} s")
                self._prune(now)
                wait = min(self._deadlines[0][0] - now, 30.0) if self._deadlines else 30.0
                self._watchdog_cv.wait(max(wait, 0.001))

    # -- progress and the stop token ------------------------------------------------------

    def cancel_event(self, entry: _Entry) -> threading.Event:
        """The task's cancellation event, made on first use (already set if a stop came first)."""
        with self._lock:
            event = entry.cancel_event
            if event is None:
                event = threading.Event()
                if entry.cancel_reason is not None or entry.status not in ACTIVE:
                    event.set()
                elif entry.status in ACTIVE:
                    entry.cancel_event = event
            return event

    def update_progress(self, task_id: str, progress: float | None = None,
                        details: dict[str, Any] | None = None) -> None:
        """Set progress (clamped to 0-100) and merge details; safe from any thread."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or not entry.live:
                return
            if progress is not None:
                entry.progress = min(max(float(progress), 0.0), 100.0)
            if details:
                if entry.details is None:
                    entry.details = {}
                entry.details.update(details)
            self._changed(entry)

    def output_json(self, task_id: str) -> bytes | None:
        """The output as JSON bytes when complete, else None; refreshes retention."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.status is not COMPLETE:
                return None
            self._touch(entry)
            return wire_output(entry.output, entry.output_inline) if entry.output else None

    # -- quick methods -------------------------------------------------------------------

    def reserve(self, request: ExecuteRequest, fp: bytes | None, callback: dict[str, Any] | None = None, *,
                resource: str | None = None, limit: int | None = None,
                timeout: float | None = None, user: str | None = None, spill: bool = True,
                cancellable: bool = True) -> _Entry:
        """Register a quick task before its method runs; an explicit-style method may adopt it."""
        with self._lock:
            self._check_resource(resource, limit)
            entry = self._create(request.task_id or new_task_id(), request.method, request.workflow_id, fp, user)
            entry.spill, entry.cancellable = spill, cancellable
            entry.status, entry.started, entry.adoptable = RUNNING, entry.created, True
            entry.callback, entry.resource, entry.limit, entry.timeout = callback, resource, limit, timeout
            if resource is not None:
                self._holders.setdefault(resource, []).append(entry)
            self._changed(entry)
            return entry

    def _check_resource(self, resource: str | None, limit: int | None) -> None:
        if resource is not None and limit is not None:
            holders = self._holders.get(resource, [])
            if len(holders) >= limit:
                ids = [h.task_id for h in holders]
                raise TaskConflict(
                    f"{resource} is busy with task(s) {', '.join(ids)}; try again when it has finished",
                    running_task_ids=ids,
                )

    def settle(self, task_id: str, response: ExecuteResponse | None, error: str | None = None,
               output: Any = None) -> dict[str, Any]:
        """Record how a quick method ended; explicit-style background work is left running."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                raise TaskNotFound(task_id)
            if entry.live:
                if error is not None:
                    self._finish(entry, FAILED, None, error)
                elif response is not None and response.status is FAILED:
                    self._finish(entry, FAILED, None, response.error or "failed")
                elif response is not None and response.status in ACTIVE:
                    if entry.adoptable:  # the method said 'running' but registered nothing itself
                        entry.adoptable = False
                elif response is not None and response.output is None and output is None:
                    self._finish(entry, COMPLETE, None, None)
                else:
                    self._finish(entry, COMPLETE, output if response is None else response, None)
            return entry.record()

    async def settled(self, task_id: str, timeout: float = 60.0) -> None:
        """Wait until a final state handed to the store is durable and visible."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                entry = self._entries.get(task_id)
                if entry is None or not entry.closing:
                    return
                version = entry.version
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await self.wait_for_change(task_id, version, left)

    # -- stopping ---------------------------------------------------------------------------

    def stop(self, task_id: str, reason: str = "cancelled") -> dict[str, Any]:
        """Cancel a task: a pending one at once, a running one through its token."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                raise TaskNotFound(task_id)
            if entry.status not in ACTIVE:
                raise TaskConflict(f"task {task_id!r} has already finished ({entry.status.value})",
                                   task_id=task_id, status=entry.status)
            if not entry.cancellable:
                raise TaskLocked(task_id)
            if entry.live:
                self._request_stop(entry, reason)
            return entry.record()

    # -- pause and resume -----------------------------------------------------------------

    def pause(self, task_id: str) -> dict[str, Any]:
        """Ask a running task of a pausable method to pause; it reads `paused` until resumed."""
        with self._lock:
            entry = self._live_entry(task_id, "paused")
            if not entry.pausable:
                raise TaskConflict(f"task {task_id!r} cannot be paused: method {entry.method} is not pausable",
                                   task_id=task_id, status=entry.status)
            if entry.status is RUNNING:
                entry.status, entry.paused_at = PAUSED, time.time()
                self._changed(entry)
            elif entry.status is not PAUSED:
                raise TaskConflict(f"task {task_id!r} is {entry.status.value}; only a running task can be paused",
                                   task_id=task_id, status=entry.status)
            return entry.record()

    def resume(self, task_id: str) -> dict[str, Any]:
        """Let a paused task go on (`running`); resuming a running task changes nothing."""
        with self._lock:
            entry = self._live_entry(task_id, "resumed")
            if entry.status is PAUSED:
                entry.status = RUNNING
                self._unpause(entry)
                self._changed(entry)
            elif entry.status is not RUNNING:
                raise TaskConflict(f"task {task_id!r} is {entry.status.value}, not paused",
                                   task_id=task_id, status=entry.status)
            return entry.record()

    def _unpause(self, entry: _Entry) -> None:
        """Wake a paused task's waits; the time it was paused does not count against its timeout."""
        if entry.paused_at is not None:
            entry.paused_total += time.time() - entry.paused_at
            entry.paused_at = None
            if entry.timeout and entry.started is not None:
                self._arm_deadline(entry)
        self._pause_cv.notify_all()

    def _live_entry(self, task_id: str, action: str) -> _Entry:
        entry = self._entries.get(task_id)
        if entry is None:
            raise TaskNotFound(task_id)
        if not entry.live:
            raise TaskConflict(f"task {task_id!r} has finished ({entry.status.value}) and cannot be {action}",
                               task_id=task_id, status=entry.status)
        return entry

    def is_paused(self, entry: _Entry) -> bool:
        return entry.status is PAUSED

    def wait_while_paused(self, entry: _Entry, timeout: float | None = None) -> bool:
        """Block while `entry` is paused (up to `timeout`); True when a stop was asked."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while entry.status is PAUSED and entry.cancel_reason is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._pause_cv.wait(left)
            return entry.cancel_reason is not None

    def forget_finished(self, task_id: str) -> bool:
        """Drop a finished task's record so its id can name fresh work; False while it is active."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                return True
            if entry.status in ACTIVE:
                return False
            del self._entries[task_id]
            self._finished.pop(task_id, None)
            self._index.forget([entry])
            self._store.forget([entry])
            return True

    def _request_stop(self, entry: _Entry, reason: str) -> None:
        if self.observer is not None and entry.cancel_reason is None:
            self.observer.stop_requested(entry, reason)
        if entry.cancel_reason is None:
            entry.cancel_reason = reason
        if entry.cancel_event is not None:
            entry.cancel_event.set()
        if entry.status is PENDING:
            if entry in self._pending:
                self._pending.remove(entry)
            self._finish(entry, *self._stopped_outcome(entry))
            self._schedule()
        elif entry.status in (RUNNING, PAUSED):
            entry.status = STOPPING
            self._unpause(entry)
            self._changed(entry)

    @staticmethod
    def _stopped_outcome(entry: _Entry) -> tuple[TaskStatus, None, str | None]:
        reason = entry.cancel_reason or "cancelled"
        if reason.startswith("timed out") or reason == SHUTDOWN_REASON:
            return FAILED, None, reason
        return CANCELLED, None, None if reason == "cancelled" else reason

    # -- ending -----------------------------------------------------------------------------

    def _finish(self, entry: _Entry, status: TaskStatus, output: Any, error: str | None) -> None:
        """End a task: hand its final row to the store; it becomes visible once durable (`_publish`)."""
        if not entry.live:
            return
        if entry.cancel_reason is not None:  # ended because a stop was asked (or despite it)
            status, output, error = self._stopped_outcome(entry)
        stored, inline = None, False
        if status is COMPLETE:
            try:
                stored, inline = store_output(output, inline_max=self.inline_max_bytes, spill=entry.spill,
                                              path_for=lambda name: self.output_path(entry.task_id, name))
            except Exception as exc:  # noqa: BLE001 - an unusable result fails the task, not the service
                logger.exception("task %s (%s): its result cannot be stored", entry.task_id, entry.method)
                status, error = FAILED, f"the result cannot be stored: {type(exc).__name__}: {exc}"
        interrupted = entry.cancel_reason == SHUTDOWN_REASON
        entry.closing = True
        if entry.resource is not None:
            holders = self._holders.get(entry.resource)
            if holders is not None:
                if entry in holders:
                    holders.remove(entry)
                if not holders:
                    del self._holders[entry.resource]
        now = time.time()
        result = self._result(stored, inline)
        record = entry.build()
        record.update(status=status._value_, error=error, interrupted=interrupted, finished_at=iso(now),
                      details=dict(entry.details) if entry.details else {}, result=result)
        if status is COMPLETE:
            record["progress"] = 100
        final = dumps(record)
        row = Row(task_id=entry.task_id, status=status._value_, method=entry.method, workflow_id=entry.workflow_id,
                  user=entry.user, created=to_micros(entry.created), started=micros_or_none(entry.started),
                  finished=to_micros(now), touched=now, record=final, output=stored,
                  output_inline=inline, fingerprint=entry.fingerprint)
        self._store.finish(row, lambda: self._publish(entry, status, stored, inline, error, interrupted, now,
                                                      result, final))

    def _publish(self, entry: _Entry, status: TaskStatus, output: bytes | None, inline: bool, error: str | None,
                 interrupted: bool, now: float, result: Any = None, final: bytes | None = None) -> None:
        """Make a durable final state visible: waiters, listeners, callbacks, retention.

        `final`: the record JSON the store just wrote; it is the sealed record
        unless a callback adds its state (then the store gets the change too).
        """
        with self._lock:
            if entry.status not in ACTIVE:
                return
            entry.closing = False
            entry.status = status
            entry.output, entry.output_inline = output, inline
            entry.result = result
            entry.error = error
            entry.interrupted = interrupted
            if status is COMPLETE:
                entry.progress = 100.0
            entry.finished = entry.touched = now
            entry.cancel_event = None
            entry.job = None
            entry.adoptable = False
            if self._entries.get(entry.task_id) is entry:
                self._finished[entry.task_id] = None
            if self.observer is not None:
                self.observer.finished(entry)
            if entry.callback is not None:
                self._changed(entry)
                self._fire_callback(entry)
                self._seal(entry)
            else:  # the row the store holds is this final state: nothing more to write
                entry.final = final if final is not None else dumps(entry.build())
                entry.details = None
                self._changed(entry, persist=False)
            self._prune(now)

    def _result(self, stored: bytes | None, inline: bool) -> Any:
        """What a record shows as `result`: an inline output's value, when it is small."""
        if stored is None or not inline or len(stored) > self.result_max_bytes:
            return None
        return loads(stored)

    @staticmethod
    def _seal(entry: _Entry) -> None:
        """Freeze a finished record as JSON: cheap to serve, nothing left for the GC to trace."""
        entry.final = None
        entry.final = dumps(entry.build())
        entry.details = None

    def _rows_of(self, task_ids: list[str]) -> list[Row]:
        """Current rows of changed tasks, for a store that writes behind (not those still closing)."""
        with self._lock:
            entries = (self._entries.get(t) for t in task_ids)
            return [Entry.to_row(e) for e in entries if e is not None and not e.closing]

    def _fire_callback(self, entry: _Entry) -> None:
        """Hook for callbacks on terminal states; see taskservice.callbacks."""
        from .callbacks import deliver  # local import: only services using callbacks pay for it

        entry.callback_info = {"status": "pending", "attempts": 0}
        deliver(self, entry.task_id, entry.callback, entry.record())  # type: ignore[arg-type]

    def record_callback(self, task_id: str, info: dict[str, Any]) -> None:
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is not None:
                entry.callback_info = info
                if entry.final is not None:
                    record = json.loads(entry.final)
                    record["callback_info"] = dict(info)
                    entry.final = dumps(record)
                self._changed(entry)

    def _touch(self, entry: _Entry) -> None:
        self._touch_many([entry])

    def _touch_many(self, entries: list[_Entry]) -> None:
        """A read of finished records starts their retention TTL again; one call into the store."""
        now = time.time()
        finished = self._finished
        read = []
        for entry in entries:
            if entry.status not in ACTIVE and entry.task_id in finished:
                entry.touched = now
                finished.move_to_end(entry.task_id)
                read.append(entry)
        if read:
            self._store.touched(read)

    def _prune(self, now: float) -> None:
        """Forget finished tasks past their TTL or over the count bound; never active ones."""
        finished = self._finished
        dropped: list[_Entry] = []
        while finished and len(finished) > self.retention_max:
            task_id, _ = finished.popitem(last=False)
            entry = self._entries.pop(task_id, None)
            if entry is not None:
                dropped.append(entry)
        horizon = now - self.retention_ttl
        while finished:
            task_id = next(iter(finished))
            entry = self._entries.get(task_id)
            if entry is not None and entry.touched > horizon:
                break
            finished.popitem(last=False)
            if entry is not None:
                del self._entries[task_id]
                dropped.append(entry)
        if dropped:
            self._index.forget(dropped)
            self._store.forget(dropped)

    def prune(self) -> None:
        with self._lock:
            self._prune(time.time())

    # -- change notification -------------------------------------------------------------

    def _changed(self, entry: _Entry, persist: bool = True) -> None:
        entry.version += 1
        self._index.changed(entry)
        if persist:
            self._store.changed(entry)
        waiters = self._waiters.pop(entry.task_id, None)
        if waiters and self._loop is not None:
            for fut in waiters:
                self._loop.call_soon_threadsafe(_wake, fut)
        if self._listeners:
            record = entry.record()
            for listener in self._listeners:
                try:
                    listener(record)
                except Exception:  # noqa: BLE001 - a broken subscriber must not break tasks
                    logger.exception("task listener failed")

    def snapshot(self, task_id: str) -> tuple[dict[str, Any], int]:
        """The record and its version; refreshes retention."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                raise TaskNotFound(task_id)
            self._touch(entry)
            return entry.record(), entry.version

    def snapshot_json(self, task_id: str) -> tuple[bytes, int, bool]:
        """The record as JSON bytes, its version, and whether the task is still active."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                raise TaskNotFound(task_id)
            self._touch(entry)
            return entry.record_json(), entry.version, entry.status in ACTIVE

    async def wait_for_change(self, task_id: str, version: int, timeout: float) -> None:
        """Return when the task's version moves past `version`, it ends, or `timeout` passes."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.version != version or entry.status not in ACTIVE or not self._accepting:
                return
            if self._loop is None:
                self._loop = loop
            fut = loop.create_future()
            self._waiters.setdefault(task_id, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            if not fut.done():
                fut.cancel()
            with self._lock:
                waiters = self._waiters.get(task_id)
                if waiters and fut in waiters:
                    waiters.remove(fut)
                    if not waiters:
                        del self._waiters[task_id]

    def _wake_all(self) -> None:
        waiters, self._waiters = self._waiters, {}
        if self._loop is not None:
            for futs in waiters.values():
                for fut in futs:
                    self._loop.call_soon_threadsafe(_wake, fut)

    # -- queries ---------------------------------------------------------------------------

    def entries(self) -> list[_Entry]:
        """All retained entries, oldest first (a snapshot of references)."""
        with self._lock:
            return list(self._entries.values())

    def query(self, conds: list[Condition], limit: int, offset: int = 0,
              user: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Matching records, newest first, and how many match in all; reads refresh retention.

        Served by the index (about O(limit + log n)); conditions it cannot
        serve filter the index-narrowed set. Call it off the event loop.
        """
        parts, total = self.query_json(conds, limit, offset, user)
        return [json.loads(p) for p in parts], total

    def query_json(self, conds: list[Condition], limit: int, offset: int = 0,
                   user: str | None = None) -> tuple[list[bytes], int]:
        """`query`, with each record as the JSON bytes it is kept as (nothing parsed again)."""
        if user is not None:  # only the tasks of this user
            conds = [*conds, ("user", "eq", user)]
        match = matcher(conds)
        entries = self._entries

        def test(task_id: str) -> bool:
            entry = entries.get(task_id)
            return entry is not None and match(entry)

        with self._lock:
            ids, total = self._index.query(conds, limit, offset, test)
            chosen = [entries[t] for t in ids if t in entries]
            self._touch_many(chosen)
            return [entry.record_json() for entry in chosen], total

    def records(self, entries: Iterable[_Entry]) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for entry in entries:
                if entry.task_id in self._entries:
                    self._touch(entry)
                out.append(entry.record())
            return out

    def output_path(self, task_id: str, name: str) -> Path:
        """A path for file `name` in task `task_id`'s own folder; no id or name leads out of it."""
        return task_file(self.data_dir, task_id, name)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "accepting": self._accepting,
                "active": len(self._entries) - len(self._finished),
                "running_jobs": self._active_jobs,
                "pending": len(self._pending),
                "retained": len(self._finished),
                "started_total": self._started_total,
                "max_workers": self.max_workers,
            }

    # -- shutdown ---------------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        return self._accepting

    def begin_shutdown(self) -> None:
        """Stop taking work; tasks that never started end interrupted; release long-poll waiters.

        Running tasks go on: `shutdown` gives them the grace period.
        """
        with self._lock:
            if not self._accepting:
                return
            self._accepting = False
            for entry in list(self._pending):
                if entry.live:
                    self._request_stop(entry, SHUTDOWN_REASON)
            self._wake_all()

    def shutdown(self, grace: float) -> bool:
        """Let running tasks finish within `grace` seconds, then stop the rest as interrupted.

        True when every task ended on its own or on its stop token; records of
        tasks that ignore it are written as interrupted all the same.
        """
        self.begin_shutdown()
        deadline = time.monotonic() + grace
        with self._lock:
            while self._running() and time.monotonic() < deadline:
                self._watchdog_cv.wait(min(0.05, max(deadline - time.monotonic(), 0)))
            for entry in list(self._entries.values()):
                if entry.live:
                    self._request_stop(entry, SHUTDOWN_REASON)
            deadline = time.monotonic() + min(STOP_WINDOW, max(grace, 0.5))
            while self._active_jobs and time.monotonic() < deadline:
                self._watchdog_cv.wait(min(0.05, max(deadline - time.monotonic(), 0)))
            clean = self._active_jobs == 0
            for entry in list(self._entries.values()):
                if entry.live:  # ignored the stop (or explicit-style work nobody runs any more)
                    self._finish(entry, FAILED, None, SHUTDOWN_REASON)
            self._closed = True
            self._watchdog_cv.notify_all()
        self._pool.shutdown()
        self._store.close()
        if not clean:
            logger.warning("%d task(s) still running after the %.1f s grace period", self._active_jobs, grace)
        return clean

    def _running(self) -> bool:
        """Is any task still at work (pool jobs, or explicit-style tasks run by their own code)?"""
        return self._active_jobs > 0 or any(e.live for e in self._entries.values())


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
