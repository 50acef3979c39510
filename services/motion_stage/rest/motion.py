"""/move: single-axis moves as tasks, 2D/3D interpolated moves, stops and the emergency stop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .bridge import accepted, call, finished, require_connected, stop_task, submit, task_status
from .models import AxisRequest, Move2DRequest, Move3DRequest, MoveAbsoluteRequest, MoveRelativeRequest

router = APIRouter(prefix="/move", tags=["motion"])


@router.post("/absolute", status_code=202)
async def move_absolute(body: MoveAbsoluteRequest, request: Request) -> dict[str, Any]:
    """Start a move to `position`; poll /move/status/{task_id}, stop with /move/stop/{task_id}."""
    await require_connected(request.app)
    record = submit(request, "MoveAbsolute", body.to_params())
    return accepted(record, "/move", "Movement task created and execution started")


@router.post("/relative", status_code=202)
async def move_relative(body: MoveRelativeRequest, request: Request) -> dict[str, Any]:
    await require_connected(request.app)
    record = submit(request, "MoveRelative", body.to_params())
    return accepted(record, "/move", "Movement task created and execution started")


@router.get("/status/{task_id}")
async def move_status(task_id: str, request: Request) -> dict[str, Any]:
    return task_status(request.app, task_id)


@router.post("/stop/{task_id}")
async def stop_move_task(task_id: str, request: Request) -> dict[str, Any]:
    """Stop a task (any task of the service): it stays `stopping` until the axis is at rest."""
    return stop_task(request.app, task_id, "movement")


@router.post("/stop")
async def stop_axis(body: AxisRequest, request: Request) -> dict[str, Any]:
    """Stop one axis now, outside the task system (a task moving it then fails with the rest position)."""
    out = await call(request.app, "StopAxis", axis=body.axis_id)
    return {"success": out["success"], "axis_id": body.axis_id,
            "message": "Axis stopped" if out["success"] else f"Failed to stop axis: {out['error_code']}"}


@router.post("/emergency_stop")
async def emergency_stop(request: Request) -> dict[str, Any]:
    """Cancel every running task and stop every axis and procedure; answers once all is at rest."""
    out = await call(request.app, "EmergencyStop")
    return {"success": out["success"], "cancelled_tasks": out["cancelled_tasks"], "still_moving": out["still_moving"],
            "message": "Emergency stop executed" if out["success"] else "Some axes are still moving"}


async def _interpolated(request: Request, method: str, params: dict[str, Any]) -> dict[str, Any]:
    await require_connected(request.app)
    record = submit(request, method, params)
    done = await finished(request.app, record["task_id"])
    return {"success": done["status"] == "completed", "task_id": record["task_id"], "status": done["status"],
            "error": done["error"], "axes": params["axes"]}


@router.post("/2d")
async def move_2d(body: Move2DRequest, request: Request) -> dict[str, Any]:
    """Interpolated move of two axes; answers when it has finished (it runs as a task meanwhile)."""
    out = await _interpolated(request, "Move2D", body.to_params())
    return {**out, "x": body.x, "y": body.y, "relative": body.relative}


@router.post("/3d")
async def move_3d(body: Move3DRequest, request: Request) -> dict[str, Any]:
    out = await _interpolated(request, "Move3D", body.to_params())
    return {**out, "x": body.x, "y": body.y, "z": body.z}
