"""The reusable core of the concurrent service template.

Write plain `execute_<Method>` functions; `create_app`/`run` serve them behind
`POST /control/execute`, `GET /control/status`, `GET /control/output` and
friends, on a bounded thread pool with cancellation, progress, long-poll,
timeouts, retention and callbacks.
"""

from .manager import TaskConflict, TaskLocked, TaskManager, TaskNotFound
from .methods import method
from .models import (Callback, DataReference, ExecuteRequest, ExecuteResponse, OutputResponse, TaskRecord,
                     TaskStatus)
from .settings import ServiceSettings
from .task import Task, TaskCancelled

#: The manager `create_app` uses by default; explicit-style (seed) methods import it.
task_manager = TaskManager()


def run_in_background(task_id: str, worker_fn, request) -> None:
    """Run `worker_fn(task_id, request, task_manager)` on the pool (seed API)."""
    task_manager.run_in_background(task_id, worker_fn, request)


from .app import create_app  # noqa: E402  (needs task_manager defined)
from .runner import run  # noqa: E402

__all__ = [
    "Callback", "DataReference", "ExecuteRequest", "ExecuteResponse", "OutputResponse", "ServiceSettings",
    "Task", "TaskCancelled", "TaskConflict", "TaskLocked", "TaskManager", "TaskNotFound", "TaskRecord", "TaskStatus",
    "create_app", "method", "run", "run_in_background", "task_manager",
]
