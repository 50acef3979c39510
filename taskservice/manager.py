"""TaskManager: the thread-safe registry and scheduler of a service's tasks.

One lock guards every record. Tasks are registered before they run (a status
call right after execute never sees 404), started on a bounded thread pool
when a worker and their resource are free, stopped through a cooperative
token, timed out by one watchdog thread, and forgotten by a retention policy
with a TTL refreshed on every read and a count bound. Long-poll waiters on the
event loop are woken with `call_soon_threadsafe`, never touched from a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
import queue
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .models import DataReference, ExecuteRequest, ExecuteResponse, TaskStatus, inline_reference
from .query import to_micros
from .task import Task, TaskCancelled

logger = logging.getLogger(__name__)

PENDING, RUNNING, STOPPING = TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.STOPPING
COMPLETE, FAILED, CANCELLED = TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.CANCELLED
ACTIVE = frozenset({PENDING, RUNNING, STOPPING})
ACTIVE_VALUES = frozenset(s.value for s in ACTIVE)  # the same, as spelled in records


class TaskError(Exception):
    """Base of the errors the HTTP layer turns into 4xx answers."""


class TaskNotFound(TaskError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} not found")
        self.task_id = task_id


class TaskConflict(TaskError):
    """A task id reused for different work, or an action a task's state forbids."""

    def __init__(self, message: str, task_id: str | None = None, status: TaskStatus | None = None,
                 running_task_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.status = status
        self.running_task_ids = running_task_ids or []


class ShuttingDown(TaskError):
    pass


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC with a `Z`, as protobuf's Timestamp JSON expects."""
    global _ISO_SECOND
    if ts is None:
        return None
    second, micros = divmod(to_micros(ts), 1_000_000)
    cached = _ISO_SECOND
    if cached[0] != second:  # format the date and time once per second, not once per call
        cached = _ISO_SECOND = (second, (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{cached[1]}.{micros:06d}Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO_SECOND: tuple[int, str] = (-1, "")


def fingerprint(request: ExecuteRequest) -> bytes:
    """What makes two executes 'the same work': method, parameters and inputs."""
    if not request.parameters and not request.inputs:
        return request.method.encode()
    body = [request.method, request.parameters, [i.model_dump(mode="json") for i in request.inputs]]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def new_task_id() -> str:
    return uuid.uuid4().hex


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class _Pool:
    """A minimal thread pool: the manager never hands it more jobs than threads.

    Lighter than ThreadPoolExecutor (no Future, no idle semaphore): a job is a
    queue put and one thread wake-up. Threads are made on demand, up to
    `max_workers`, and are daemons so a task that ignores cancellation cannot
    keep the process alive past the shutdown grace period.
    """

    def __init__(self, max_workers: int, name: str = "task") -> None:
        self.max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            else:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self._threads}", daemon=True).start()
        self._queue.put((fn, args))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - a job's failure is its own business
                logger.exception("pool job failed")
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        with self._lock:
            threads, self._threads, self._idle = self._threads, 0, 0
        for _ in range(threads):
            self._queue.put(None)


class _Entry:
    """One task's record. Slots keep 100,000 retained tasks well under 2 KB each."""

    __slots__ = (
        "task_id", "method", "workflow_id", "status", "progress", "details", "error",
        "created", "started", "finished", "touched", "output", "fingerprint", "version",
        "cancel_event", "cancel_reason", "resource", "limit", "timeout", "job", "adoptable",
        "callback", "callback_info", "final",
    )

    def __init__(self, task_id: str, method: str, workflow_id: str | None, fp: bytes | None) -> None:
        self.task_id = task_id
        self.method = method
        self.workflow_id = workflow_id
        self.status = PENDING
        self.progress = 0.0
        self.details: dict[str, Any] | None = None
        self.error: str | None = None
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self.touched = self.created
        self.output: bytes | None = None  # JSON of the DataReference, once complete
        self.final: bytes | None = None  # JSON of the whole record, once finished (it no longer changes)
        self.fingerprint = fp
        self.version = 0
        self.cancel_event: threading.Event | None = None  # made on demand: most tasks never wait on it
        self.cancel_reason: str | None = None
        self.resource: str | None = None
        self.limit: int | None = None
        self.timeout: float | None = None
        self.job: Callable[[], None] | None = None
        self.adoptable = False
        self.callback: dict[str, Any] | None = None
        self.callback_info: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        if self.final is not None:
            return json.loads(self.final)
        return self._build()

    def record_json(self) -> bytes:
        if self.final is not None:
            return self.final
        return _dumps(self._build())

    def _build(self) -> dict[str, Any]:
        rec = {
            "task_id": self.task_id,
            "method": self.method,
            "workflow_id": self.workflow_id,
            "status": self.status.value,
            "progress": int(self.progress),
            "details": dict(self.details) if self.details else {},
            "error": self.error,
            "created_at": iso(self.created),
            "started_at": iso(self.started),
            "finished_at": iso(self.finished),
        }
        if self.callback_info is not None:
            rec["callback_info"] = dict(self.callback_info)
        return rec


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def normalize_output(value: Any, task_id: str) -> dict[str, Any]:
    """Whatever a method returned, as a DataReference dict (inline JSON if need be)."""
    if isinstance(value, ExecuteResponse):
        value = value.output
    if isinstance(value, DataReference):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict) and {"protocol", "uri", "format"} <= value.keys():
        return DataReference.model_validate(value).model_dump(mode="json", exclude_none=True)
    return inline_reference(value)


class TaskManager:
    """Registry, scheduler and lifecycle of tasks. Thread-safe.

    The seed's explicit API (`register_task`, `update_progress`,
    `complete_task`, `fail_task`, `get_status`, `get_output`) is kept so
    services written for it port by changing one import.
    """

    def __init__(self, max_workers: int = 32, retention_ttl: float = 3600, retention_max: int = 10_000,
                 data_dir: Path | str = "var/data") -> None:
        self._lock = threading.RLock()
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
        self.configure(max_workers=max_workers, retention_ttl=retention_ttl,
                       retention_max=retention_max, data_dir=data_dir)

    # -- configuration ---------------------------------------------------------------------

    def configure(self, *, max_workers: int | None = None, retention_ttl: float | None = None,
                  retention_max: int | None = None, data_dir: Path | str | None = None) -> None:
        """Apply settings; the pool is (re)made only while idle."""
        with self._lock:
            if max_workers is not None:
                if self._active_jobs:
                    raise RuntimeError("cannot resize the pool while tasks run")
                self.max_workers = max_workers
                old = getattr(self, "_pool", None)
                self._pool = _Pool(max_workers)
                if old is not None:
                    old.shutdown()
            if retention_ttl is not None:
                self.retention_ttl = retention_ttl
            if retention_max is not None:
                self.retention_max = retention_max
            if data_dir is not None:
                self.data_dir = Path(data_dir)

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
        with self._lock:
            return self._entries.get(task_id)

    def _create(self, task_id: str, method: str, workflow_id: str | None, fp: bytes | None) -> _Entry:
        if not self._accepting:
            raise ShuttingDown("service is shutting down")
        existing = self._entries.get(task_id)
        if existing is not None:
            raise TaskConflict(f"task {task_id!r} already exists", task_id=task_id, status=existing.status)
        entry = _Entry(task_id, method, workflow_id, fp)
        self._entries[task_id] = entry
        if self.observer is not None:
            self.observer.accepted(entry)
        return entry

    def submit(self, request: ExecuteRequest, job: Callable[[Task], Any], *, params: Any = None,
               resource: str | None = None, limit: int | None = None, queue: bool = False,
               timeout: float | None = None, fp: bytes | None = None,
               callback: dict[str, Any] | None = None) -> dict[str, Any]:
        """Register a background task and start it when a worker and its resource are free.

        Raises TaskConflict naming the tasks holding `resource` when it is at
        `limit` and `queue` is false.
        """
        task_id = request.task_id or new_task_id()
        with self._lock:
            if not queue:
                self._check_resource(resource, limit)
            entry = self._create(task_id, request.method, request.workflow_id, fp)
            entry.resource, entry.limit, entry.timeout = resource, limit, timeout
            entry.callback = callback
            handle = Task(self, request, params, entry)
            entry.job = lambda: job(handle)
            if resource is not None:
                self._holders.setdefault(resource, []).append(entry)
            self._pending.append(entry)
            self._schedule()
            self._changed(entry)
            return entry.record()

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
        self._active_jobs += 1
        self._started_total += 1
        self._pool.submit(self._run, entry)

    def _run(self, entry: _Entry) -> None:
        """Body of a pool thread: run the job, then record how it ended."""
        with self._lock:
            if entry.status is not RUNNING:  # stopped between scheduling and start
                if entry.status in ACTIVE:
                    self._finish(entry, *self._stopped_outcome(entry))
                self._release(entry)
                return
            entry.started = time.time()
            if entry.timeout:
                self._arm_deadline(entry)
            job, entry.job = entry.job, None
            self._changed(entry)
            if self.observer is not None:
                self.observer.started(entry)
        status, output, error = COMPLETE, None, None
        try:
            result = job() if job is not None else None
            output = normalize_output(result, entry.task_id)
            if isinstance(result, ExecuteResponse) and result.status is FAILED:
                status, error = FAILED, result.error or "failed"
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
        heapq.heappush(heap, (entry.started + entry.timeout, entry.task_id))  # type: ignore[operator]
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
                    if entry is not None and entry.status in (RUNNING,) and entry.timeout:
                        if entry.started is not None and entry.started + entry.timeout <= now + 1e-3:
                            self._request_stop(entry, f"timed out after {entry.timeout:g} s")
                self._prune(now)
                wait = min(self._deadlines[0][0] - now, 30.0) if self._deadlines else 30.0
                self._watchdog_cv.wait(max(wait, 0.001))

    # -- the seed's explicit API -------------------------------------------------------

    def register_task(self, task_id: str, request: ExecuteRequest | None = None) -> None:
        """Register a task for tracking under the orchestrator's task id (seed API)."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is not None and entry.adoptable:
                entry.adoptable = False
                entry.status = RUNNING
                entry.started = entry.started or time.time()
                self._changed(entry)
                return
            method = request.method if request is not None else "unknown"
            workflow_id = request.workflow_id if request is not None else None
            fp = fingerprint(request) if request is not None else None
            entry = self._create(task_id, method, workflow_id, fp)
            entry.status, entry.started = RUNNING, entry.created
            self._changed(entry)

    def run_in_background(self, task_id: str, worker_fn: Callable[[str, Any, TaskManager], None],
                          request: Any) -> None:
        """Run the seed's `worker_fn(task_id, request, manager)` on the pool.

        It waits in `pending` while the pool is full, and gets the method's
        timeout like any background task.
        """
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                raise TaskNotFound(task_id)
            if entry.status not in ACTIVE:
                return
            entry.adoptable = False

            def job() -> None:
                worker_fn(task_id, request, self)
                with self._lock:
                    if entry.status in ACTIVE:
                        if entry.cancel_reason is not None:
                            raise TaskCancelled(entry.cancel_reason)
                        raise RuntimeError("worker returned without completing the task")

            entry.job = job
            entry.status, entry.started = PENDING, None
            self._pending.append(entry)
            self._schedule()
            self._changed(entry)

    def sleep(self, task_id: str, seconds: float) -> bool:
        """Sleep, waking early on a stop request; True when the task was stopped (seed-style workers)."""
        entry = self.lookup(task_id)
        if entry is None:
            return True
        return self.cancel_event(entry).wait(seconds)

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
            if entry is None or entry.status not in ACTIVE:
                return
            if progress is not None:
                entry.progress = min(max(float(progress), 0.0), 100.0)
            if details:
                if entry.details is None:
                    entry.details = {}
                entry.details.update(details)
            self._changed(entry)

    def complete_task(self, task_id: str, output: Any) -> None:
        """Mark a task complete with its output (seed API)."""
        self._end_explicit(task_id, COMPLETE, output, None)

    def fail_task(self, task_id: str, error: str) -> None:
        """Mark a task failed with an error message (seed API)."""
        self._end_explicit(task_id, FAILED, None, error)

    def _end_explicit(self, task_id: str, status: TaskStatus, output: Any, error: str | None) -> None:
        """End a task as its worker says, unless a stop was asked: then it ends stopped."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.status not in ACTIVE:
                return
            if entry.cancel_reason is not None:
                self._finish(entry, *self._stopped_outcome(entry))
            elif status is COMPLETE:
                self._finish(entry, COMPLETE, normalize_output(output, task_id), None)
            else:
                self._finish(entry, FAILED, None, error)

    def is_cancelled(self, task_id: str) -> bool:
        """Has a stop been requested? For explicit-style workers to check."""
        with self._lock:
            entry = self._entries.get(task_id)
            return entry is None or entry.cancel_reason is not None or entry.status is CANCELLED

    def get_status(self, task_id: str) -> dict[str, Any] | None:
        """The task's record, or None when unknown (seed API); refreshes retention."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                return None
            self._touch(entry)
            return entry.record()

    def get_output(self, task_id: str) -> dict[str, Any] | None:
        """The output when complete, else None (seed API)."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.status is not COMPLETE:
                return None
            self._touch(entry)
            return json.loads(entry.output) if entry.output else None

    def output_json(self, task_id: str) -> bytes | None:
        """The output as JSON bytes when complete, else None; refreshes retention."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.status is not COMPLETE:
                return None
            self._touch(entry)
            return entry.output

    # -- quick methods -------------------------------------------------------------------

    def reserve(self, request: ExecuteRequest, fp: bytes | None, callback: dict[str, Any] | None = None, *,
                resource: str | None = None, limit: int | None = None,
                timeout: float | None = None) -> _Entry:
        """Register a quick task before its method runs; an explicit-style method may adopt it."""
        with self._lock:
            self._check_resource(resource, limit)
            entry = self._create(request.task_id or new_task_id(), request.method, request.workflow_id, fp)
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
            if entry.status in ACTIVE:
                if error is not None:
                    self._finish(entry, FAILED, None, error)
                elif response is not None and response.status is FAILED:
                    self._finish(entry, FAILED, None, response.error or "failed")
                elif response is not None and response.status in ACTIVE:
                    if entry.adoptable:  # the method said 'running' but registered nothing itself
                        entry.adoptable = False
                elif response is not None and response.output is None and output is None:
                    self._finish(entry, COMPLETE, normalize_output(None, task_id), None)
                else:
                    self._finish(entry, COMPLETE, normalize_output(output if response is None else response, task_id), None)
            return entry.record()

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
            self._request_stop(entry, reason)
            return entry.record()

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
        elif entry.status is RUNNING:
            entry.status = STOPPING
            self._changed(entry)

    @staticmethod
    def _stopped_outcome(entry: _Entry) -> tuple[TaskStatus, None, str | None]:
        reason = entry.cancel_reason or "cancelled"
        if reason.startswith("timed out"):
            return FAILED, None, reason
        return CANCELLED, None, None if reason == "cancelled" else reason

    # -- ending -----------------------------------------------------------------------------

    def _finish(self, entry: _Entry, status: TaskStatus, output: dict[str, Any] | None,
                error: str | None) -> None:
        if entry.status not in ACTIVE:
            return
        if entry.cancel_reason is not None:  # ended because a stop was asked (or despite it)
            status, output, error = self._stopped_outcome(entry)
        entry.status = status
        entry.output = _dumps(output) if status is COMPLETE and output is not None else None
        entry.error = error
        if status is COMPLETE:
            entry.progress = 100.0
        entry.finished = entry.touched = time.time()
        entry.cancel_event = None
        entry.job = None
        entry.adoptable = False
        if entry.resource is not None:
            holders = self._holders.get(entry.resource)
            if holders is not None:
                if entry in holders:
                    holders.remove(entry)
                if not holders:
                    del self._holders[entry.resource]
        self._finished[entry.task_id] = None
        if self.observer is not None:
            self.observer.finished(entry)
        self._changed(entry)
        if entry.callback is not None:
            self._fire_callback(entry)
        self._seal(entry)
        self._prune(entry.finished)

    @staticmethod
    def _seal(entry: _Entry) -> None:
        """Freeze a finished record as JSON: cheap to serve, nothing left for the GC to trace."""
        entry.final = None
        entry.final = _dumps(entry._build())
        entry.details = None

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
                    entry.final = _dumps(record)
                self._changed(entry)

    def _touch(self, entry: _Entry) -> None:
        if entry.status not in ACTIVE:
            entry.touched = time.time()
            self._finished.move_to_end(entry.task_id)

    def _prune(self, now: float) -> None:
        """Forget finished tasks past their TTL or over the count bound; never active ones."""
        finished = self._finished
        while finished and len(finished) > self.retention_max:
            task_id, _ = finished.popitem(last=False)
            self._entries.pop(task_id, None)
        horizon = now - self.retention_ttl
        while finished:
            task_id = next(iter(finished))
            entry = self._entries.get(task_id)
            if entry is not None and entry.touched > horizon:
                break
            finished.popitem(last=False)
            self._entries.pop(task_id, None)

    def prune(self) -> None:
        with self._lock:
            self._prune(time.time())

    # -- change notification -------------------------------------------------------------

    def _changed(self, entry: _Entry) -> None:
        entry.version += 1
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

    def records(self, entries: Iterable[_Entry]) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for entry in entries:
                if entry.task_id in self._entries:
                    self._touch(entry)
                out.append(entry.record())
            return out

    def output_path(self, task_id: str, name: str) -> Path:
        folder = self.data_dir / _SAFE_NAME.sub("_", task_id)
        folder.mkdir(parents=True, exist_ok=True)
        return (folder / _SAFE_NAME.sub("_", name)).resolve()

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
        """Stop taking work, cancel every active task, release long-poll waiters."""
        with self._lock:
            if not self._accepting:
                return
            self._accepting = False
            for entry in list(self._entries.values()):
                if entry.status in (PENDING, RUNNING):
                    self._request_stop(entry, "cancelled")
            self._wake_all()

    def shutdown(self, grace: float) -> bool:
        """Cancel everything and wait up to `grace` seconds; True when all stopped."""
        self.begin_shutdown()
        deadline = time.monotonic() + grace
        with self._lock:
            while self._active_jobs and time.monotonic() < deadline:
                self._watchdog_cv.wait(min(0.05, max(deadline - time.monotonic(), 0)))
            clean = self._active_jobs == 0
            self._closed = True
            self._watchdog_cv.notify_all()
        self._pool.shutdown()
        if not clean:
            logger.warning("%d task(s) still running after the %.1f s grace period", self._active_jobs, grace)
        return clean


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
