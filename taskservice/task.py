"""The handle a background method receives: progress, details, cancellation, pause."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .models import DataReference, ExecuteRequest

if TYPE_CHECKING:
    from .inputs import InputPolicy
    from .manager import TaskManager, _Entry


class TaskCancelled(Exception):
    """Raised by `Task.check_cancelled()`; ends the task as `cancelled`."""


class Task:
    """What a method needs to report on itself and to notice a stop request.

    Cancellation is cooperative: the method checks `task.cancelled` (or sleeps
    with `task.sleep`, which wakes at once on a stop) and returns or raises
    `TaskCancelled` once its work has really stopped.
    """

    __slots__ = ("id", "workflow_id", "request", "params", "_entry", "_manager")

    def __init__(self, manager: TaskManager, request: ExecuteRequest, params: Any, entry: _Entry) -> None:
        self.id: str = request.task_id or ""
        self.workflow_id: str | None = request.workflow_id
        self.request = request
        self.params = params
        self._entry = entry
        self._manager = manager

    @property
    def cancelled(self) -> bool:
        """True once a stop (or the timeout) was requested."""
        return self._entry.cancel_reason is not None

    @property
    def cancel_event(self) -> threading.Event:
        """A `threading.Event` set on a stop request, for code that waits on one."""
        return self._manager.cancel_event(self._entry)

    @property
    def paused(self) -> bool:
        """True while a pause is asked (methods declared `@method(pausable=True)`)."""
        return self._manager.is_paused(self._entry)

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while the task is paused, waking at once on resume or stop; True when cancelled.

        A pausable method calls it between steps (or when `task.paused` turns
        true, after bringing its hardware to a safe halt).
        """
        return self._manager.wait_while_paused(self._entry, timeout)

    def check_cancelled(self) -> None:
        if self._entry.cancel_reason is not None:
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

    # -- inputs, read under the service's rules (taskservice.inputs) --------------------------

    @property
    def inputs(self) -> InputPolicy:
        """Where this service may read inputs from (file roots, allowed hosts, size bound)."""
        return input_policy(self._manager)

    def open_input(self, ref: DataReference, max_bytes: int | None = None) -> BinaryIO:
        """A binary file object over an input; InputRefused names the rule when it may not be read."""
        return self.inputs.open(ref, max_bytes)

    def read_input(self, ref: DataReference, max_bytes: int | None = None) -> bytes:
        """An input's bytes, at most `max_bytes`."""
        return self.inputs.read_bytes(ref, max_bytes)

    def load_input(self, ref: DataReference, max_bytes: int | None = None) -> Any:
        """An input's value: inline data as is, JSON parsed, other formats as text."""
        return self.inputs.load(ref, max_bytes)


def input_policy(manager: Any) -> InputPolicy:
    """The manager's input rules (set by `create_app`), else those of the default settings."""
    policy = getattr(manager, "input_policy", None)
    if policy is None:
        from .inputs import InputPolicy
        from .settings import ServiceSettings
        policy = InputPolicy.from_settings(ServiceSettings())
        manager.input_policy = policy
    return policy
