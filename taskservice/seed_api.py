"""The seed template's explicit task API, kept so AI-Effect services port by changing one import.

Services written for the seed register a task under the orchestrator's id,
run a worker function in the background and end the task themselves
(`register_task`, `run_in_background`, `update_progress`, `complete_task`,
`fail_task`, `get_status`, `get_output`). `TaskManager` takes these methods
from `SeedAPI`; they act on its records under its lock like every other
transition.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .entry import ACTIVE, CANCELLED, COMPLETE, FAILED, PENDING, RUNNING, fingerprint
from .models import ExecuteRequest, TaskStatus
from .outputs import wire_output
from .task import TaskCancelled
from .task_errors import TaskNotFound

if TYPE_CHECKING:
    from .manager import TaskManager


class SeedAPI:
    """Mixed into `TaskManager` (whose lock, records and transitions these methods use)."""

    def register_task(self: TaskManager, task_id: str, request: ExecuteRequest | None = None, user: str | None = None) -> None:
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
            entry = self._create(task_id, method, workflow_id, fp, user)
            entry.status, entry.started = RUNNING, entry.created
            self._changed(entry)

    def run_in_background(self: TaskManager, task_id: str, worker_fn: Callable[[str, Any, TaskManager], None],
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
                    if entry.live:
                        if entry.cancel_reason is not None:
                            raise TaskCancelled(entry.cancel_reason)
                        raise RuntimeError("worker returned without completing the task")

            entry.job = job
            entry.status, entry.started = PENDING, None
            self._enqueue(entry)
            self._schedule()
            self._changed(entry)

    def sleep(self: TaskManager, task_id: str, seconds: float) -> bool:
        """Sleep, waking early on a stop request; True when the task was stopped (seed-style workers)."""
        entry = self.lookup(task_id)
        if entry is None:
            return True
        return self.cancel_event(entry).wait(seconds)

    def complete_task(self: TaskManager, task_id: str, output: Any) -> None:
        """Mark a task complete with its output (seed API)."""
        self._end_explicit(task_id, COMPLETE, output, None)

    def fail_task(self: TaskManager, task_id: str, error: str) -> None:
        """Mark a task failed with an error message (seed API)."""
        self._end_explicit(task_id, FAILED, None, error)

    def _end_explicit(self: TaskManager, task_id: str, status: TaskStatus, output: Any, error: str | None) -> None:
        """End a task as its worker says, unless a stop was asked: then it ends stopped."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or not entry.live:
                return
            if entry.cancel_reason is not None:
                self._finish(entry, *self._stopped_outcome(entry))
            elif status is COMPLETE:
                self._finish(entry, COMPLETE, output, None)
            else:
                self._finish(entry, FAILED, None, error)

    def is_cancelled(self: TaskManager, task_id: str) -> bool:
        """Has a stop been requested? For explicit-style workers to check."""
        with self._lock:
            entry = self._entries.get(task_id)
            return entry is None or entry.cancel_reason is not None or entry.status is CANCELLED

    def get_status(self: TaskManager, task_id: str) -> dict[str, Any] | None:
        """The task's record, or None when unknown (seed API); refreshes retention."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                return None
            self._touch(entry)
            return entry.record()

    def get_output(self: TaskManager, task_id: str) -> dict[str, Any] | None:
        """The output when complete, else None (seed API)."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.status is not COMPLETE:
                return None
            self._touch(entry)
            return json.loads(wire_output(entry.output, entry.output_inline)) if entry.output else None
