"""How the daemon-style routes reach the service's own operations and its one task system.

Routes never import `service.py` (it runs as `__main__`): they call the `execute_<Method>` functions the
template discovered (`app.state.methods`) and submit long ones to the template's `TaskManager`, so a task
started here is a task like any other (listed in /control/tasks, stoppable from either API, subject to
the same per-stage or per-station exclusivity). Records are shown in the daemon's shape and spelling.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from taskservice import ExecuteRequest
from taskservice.manager import ACTIVE_VALUES, ShuttingDown, fingerprint, new_task_id

from ..errors import ControllerUnavailable

#: our method -> the daemon's operation_type
OPERATION_TYPES = {"MoveAbsolute": "axis_movement", "MoveRelative": "axis_movement", "Move2D": "axis_movement",
                   "Move3D": "axis_movement", "FlatAlignment": "flat_alignment", "FocusAlignment": "focus_alignment",
                   "AngleAdjustment": "angle_adjustment", "ProfileMeasurement": "profile_measurement"}
#: our status spelling -> the daemon's
STATUS_WORDS = {"complete": "completed"}
FINISHED = ("completed", "failed", "cancelled")


def _invalid(exc: ValidationError, prefix: tuple[str, ...] = ("body",)) -> RequestValidationError:
    errors = exc.errors(include_url=False, include_context=False)
    for err in errors:
        err["loc"] = (*prefix, *err["loc"])
    return RequestValidationError(errors)


def _params(app: FastAPI, method: str, params: dict[str, Any]) -> tuple[Any, ExecuteRequest]:
    spec = app.state.methods[method]
    request = ExecuteRequest(method=method, parameters=params)
    model: type[BaseModel] | None = spec.options.parameters
    try:
        validated = model.model_validate(params) if model is not None else params
    except ValidationError as exc:
        raise _invalid(exc) from None
    return validated, request


async def call(app: FastAPI, method: str, **params: Any) -> Any:
    """Run a quick operation (off the event loop) and return its result."""
    _, execute = _params(app, method, params)
    return await run_in_threadpool(app.state.methods[method].fn, execute)


async def require_connected(app: FastAPI) -> None:
    """503 before a task is created when the controller is disconnected."""
    status = await call(app, "ConnectionStatus")
    if not status["is_connected"]:
        raise ControllerUnavailable("motion controller is disconnected; POST /connection/connect first")


def submit(request: Request, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Create a background task of `method` exactly as /control/execute would (owned by the caller)."""
    app = request.app
    user = getattr(request.scope.get("principal"), "user", None)
    manager = app.state.manager
    spec = app.state.methods[method]
    validated, execute = _params(app, method, params)
    if not manager.accepting:
        raise ShuttingDown("service is shutting down")
    execute.task_id = new_task_id()
    settings = app.state.settings
    return manager.submit(execute, lambda task: spec.fn(execute, task), params=validated,
                          resource=spec.resource_key(execute, validated), limit=spec.options.concurrency,
                          queue=spec.options.queue, timeout=spec.options.timeout or settings.task_timeout,
                          fp=fingerprint(execute), callback=None, user=user, spill=spec.options.spill)


def accepted(record: dict[str, Any], status_prefix: str, message: str) -> dict[str, Any]:
    """The daemon's 202 body (TaskResponse)."""
    task_id = record["task_id"]
    return {"task_id": task_id, "operation_type": OPERATION_TYPES.get(record["method"], record["method"].lower()),
            "status": STATUS_WORDS.get(record["status"], record["status"]),
            "status_url": f"{status_prefix}/status/{task_id}", "message": message}


_PROFILE_NAMES = {"FieldSearch": "field_search", "PeakSearchX": "peak_search_x", "PeakSearchY": "peak_search_y",
                  "PeakSearchZ": "peak_search_z"}


def _profiles(output: dict[str, Any]) -> dict[str, Any]:
    """The daemon's `<segment>_profile` lists of {position, signal}, read from the alignment's JSON file."""
    if output.get("format") != "json" or not str(output.get("uri", "")).startswith("file:"):
        return {}
    try:
        doc = json.loads(Path(unquote(urlparse(output["uri"]).path)).read_text())
    except (OSError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for kind, seg in doc.get("segments", {}).items():
        name = _PROFILE_NAMES.get(kind)
        if name:
            points = [{"position": x, "signal": v} for x, v in zip(seg["main_position"], seg["power_dbm"])]
            out[f"{name}_profile"], out[f"{name}_profile_points"] = points, len(points)
    return out


def _not_found(task_id: str) -> HTTPException:
    return HTTPException(404, f"Task {task_id} not found")


def task_status(app: FastAPI, task_id: str) -> dict[str, Any]:
    """The daemon's TaskStatusResponse for any task of the service."""
    manager = app.state.manager
    record = manager.get_status(task_id)
    if record is None:
        raise _not_found(task_id)
    status = STATUS_WORDS.get(record["status"], record["status"])
    result = None
    if status == "completed":
        output = manager.get_output(task_id) or {}
        result = output.get("data") if isinstance(output, dict) else None
        if not isinstance(result, dict):
            result = {"value": result}
        if record["method"] in ("FlatAlignment", "FocusAlignment"):
            result = {**result, **_profiles(output)}
    return {"task_id": task_id, "operation_type": OPERATION_TYPES.get(record["method"], record["method"].lower()),
            "status": status, "progress": record.get("details") or {}, "result": result, "error": record.get("error"),
            "created_at": record.get("created_at"), "started_at": record.get("started_at"),
            "completed_at": record.get("finished_at")}


def stop_task(app: FastAPI, task_id: str, what: str) -> dict[str, Any]:
    """Stop any task of the service (404 unknown, 400 already finished), as the daemon answers."""
    manager = app.state.manager
    entry = manager.lookup(task_id)
    if entry is None:
        raise _not_found(task_id)
    if entry.status.value not in ACTIVE_VALUES or entry.status.value == "stopping":
        word = STATUS_WORDS.get(entry.status.value, entry.status.value)
        raise HTTPException(400, f"Task {task_id} is {word} and cannot be cancelled")
    record = manager.stop(task_id)
    return {"success": True, "task_id": task_id, "status": STATUS_WORDS.get(record["status"], record["status"]),
            "message": f"Cancellation requested, {what} stopping"}


async def finished(app: FastAPI, task_id: str) -> dict[str, Any]:
    """Wait (without polling) until the task ends; returns its daemon-shaped status."""
    manager = app.state.manager
    while True:
        _, version, active = manager.snapshot_json(task_id)
        if not active:
            return task_status(app, task_id)
        await manager.wait_for_change(task_id, version, 30.0)
        await asyncio.sleep(0)
