"""A typed client for template services: execute, status, wait, stop, stream, list.

    client = ServiceClient("http://127.0.0.1:8080")
    task = client.execute("LongProcess", parameters={"duration": 5})
    final = client.wait(task.task_id, on_progress=lambda r: print(r.progress))
    print(client.output(task.task_id).data)

`wait` long-polls (`?wait=`), so it learns of completion within milliseconds
without hammering the service.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from .models import DataReference, TaskRecord, TaskStatus

FINISHED = {TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.CANCELLED}


class ServiceError(Exception):
    """An error answer from the service, with its HTTP status and body."""

    def __init__(self, status_code: int, body: Any) -> None:
        detail = body.get("detail", body) if isinstance(body, dict) else body
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.body = body


class ExecuteResult(TaskRecord):
    """What execute answered: the task's record, plus the output of a quick method."""

    output: DataReference | None = None
    # quick methods answer only status/task_id/output|error; fill the rest with neutral values
    method: str = ""
    created_at: str = ""


class ServiceClient:
    """Synchronous client of one service's control interface."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> Any:
        extra = {"timeout": timeout} if timeout is not None else {}
        response = self._http.request(method, path, **kwargs, **extra)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ServiceError(response.status_code, body)
        return body

    def execute(self, method: str, *, parameters: dict[str, Any] | None = None,
                inputs: list[DataReference | dict[str, Any]] | None = None, task_id: str | None = None,
                workflow_id: str | None = None, callback: dict[str, Any] | None = None,
                priority: int | None = None) -> ExecuteResult:
        """Start `method`; returns at once (202) or with the output of a quick method (200)."""
        body: dict[str, Any] = {"method": method, "parameters": parameters or {},
                                "inputs": [i.model_dump(exclude_none=True) if isinstance(i, DataReference) else i
                                           for i in inputs or []]}
        if task_id:
            body["task_id"] = task_id
        if workflow_id:
            body["workflow_id"] = workflow_id
        if callback:
            body["callback"] = callback
        if priority is not None:
            body["priority"] = priority
        return ExecuteResult.model_validate(self._call("POST", "/control/execute", json=body))

    def status(self, task_id: str, wait: float = 0) -> TaskRecord:
        """The task's record; with `wait`, long-poll until it changes."""
        params = {"wait": wait} if wait else None
        return TaskRecord.model_validate(self._call("GET", f"/control/status/{task_id}", params=params,
                                                    timeout=(wait + 10) if wait else None))

    def output(self, task_id: str) -> DataReference:
        return DataReference.model_validate(self._call("GET", f"/control/output/{task_id}")["output"])

    def stop(self, task_id: str) -> TaskRecord:
        return TaskRecord.model_validate(self._call("POST", f"/control/stop/{task_id}"))

    def pause(self, task_id: str) -> TaskRecord:
        """Pause a task of a pausable method (ServiceError 409 for others)."""
        return TaskRecord.model_validate(self._call("POST", f"/control/pause/{task_id}"))

    def resume(self, task_id: str) -> TaskRecord:
        return TaskRecord.model_validate(self._call("POST", f"/control/resume/{task_id}"))

    def wait(self, task_id: str, *, timeout: float | None = None, poll: float = 30.0,
             on_progress: Callable[[TaskRecord], None] | None = None) -> TaskRecord:
        """Block until the task ends, calling `on_progress` on every change."""
        deadline = None if timeout is None else time.monotonic() + timeout
        record = self.status(task_id)
        while True:
            if on_progress is not None:
                on_progress(record)
            if record.status in FINISHED:
                return record
            left = poll if deadline is None else min(poll, deadline - time.monotonic())
            if left <= 0:
                raise TimeoutError(f"task {task_id} still {record.status.value} after {timeout} s")
            record = self.status(task_id, wait=left)

    def run(self, method: str, **kwargs: Any) -> DataReference:
        """Execute and wait; the output, or ServiceError-like RuntimeError when it did not complete."""
        on_progress = kwargs.pop("on_progress", None)
        timeout = kwargs.pop("timeout", None)
        started = self.execute(method, **kwargs)
        if started.status is TaskStatus.COMPLETE and started.output is not None:
            return started.output
        if started.status is TaskStatus.FAILED:
            raise RuntimeError(f"{method} failed: {started.error}")
        final = self.wait(started.task_id, timeout=timeout, on_progress=on_progress)
        if final.status is not TaskStatus.COMPLETE:
            raise RuntimeError(f"{method} {final.status.value}: {final.error or ''}".strip())
        return self.output(started.task_id)

    def tasks(self, *, limit: int = 50, offset: int = 0, **filters: str) -> dict[str, Any]:
        """List tasks, newest first; filters as `status="running,pending"`, `method=`, `workflow_id=`."""
        body = self._call("GET", "/control/tasks", params={"limit": limit, "offset": offset, **filters})
        body["tasks"] = [TaskRecord.model_validate(t) for t in body["tasks"]]
        return body

    def methods(self) -> list[dict[str, Any]]:
        return self._call("GET", "/control/methods")["methods"]

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def events(self, task_id: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Server-Sent Events as (event, data) pairs: a snapshot first, then changes."""
        params = {"task_id": task_id} if task_id else None
        with self._http.stream("GET", "/control/events", params=params, timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                raise ServiceError(response.status_code, response.json())
            yield from parse_sse(response.iter_lines())


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Decode an SSE line stream into (event, JSON data) pairs."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
