"""The handle a background method receives: progress, details, cancellation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .models import ExecuteRequest

if TYPE_CHECKING:
    from .manager import TaskManager


class TaskCancelled(Exception):
    """Raised by `Task.check_cancelled()`; ends the task as `cancelled`."""


class Task:
    """What a method needs to report on itself and to notice a stop request.

    Cancellation is cooperative: the method checks `task.cancelled` (or sleeps
    with `task.sleep`, which wakes at once on a stop) and returns or raises
    `TaskCancelled` once its work has really stopped.
    """

    __slots__ = ("id", "workflow_id", "request", "params", "cancel_event", "_manager")

    def __init__(self, manager: TaskManager, request: ExecuteRequest, params: Any,
                 cancel_event: threading.Event) -> None:
        self.id: str = request.task_id or ""
        self.workflow_id: str | None = request.workflow_id
        self.request = request
        self.params = params
        self.cancel_event = cancel_event
        self._manager = manager

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise TaskCancelled(f"task {self.id} was cancelled")

    def sleep(self, seconds: float) -> bool:
        """Sleep, waking early on a stop request; True when cancelled."""
        return self.cancel_event.wait(seconds)

    def progress(self, percent: float | None = None, **details: Any) -> None:
        """Report progress (0-100) and merge `details`; safe from any thread."""
        self._manager.update_progress(self.id, percent, details or None)

    def output_path(self, name: str) -> Path:
        """A file path for this task's output, in the service's data directory."""
        return self._manager.output_path(self.id, name)
