"""What can go wrong with a task request; the HTTP layer turns each into its 4xx (or 503)."""

from __future__ import annotations

from .models import TaskStatus


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


class TaskLocked(TaskError):
    """A stop asked of a task whose method declared it must not be interrupted (HTTP 423)."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} is not cancellable: its method must not be interrupted")
        self.task_id = task_id
