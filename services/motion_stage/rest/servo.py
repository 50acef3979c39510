"""/servo: servo on/off for one axis or a batch, and waiting until axes are ready (InPosition)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .bridge import call
from .models import AxesRequest, AxisRequest

router = APIRouter(prefix="/servo", tags=["servo"])


async def _one(request: Request, axis: int, on: bool) -> dict[str, Any]:
    out = await call(request.app, "SetServoBatch", axes=[axis], on=on)
    word = "on" if on else "off"
    return {"success": out["success"], "axis_id": axis,
            "message": f"Servo turned {word} for axis {axis}" if out["success"]
            else f"Failed to turn {word} servo: vendor error {out['failed'].get(axis)}"}


async def _batch(request: Request, axes: list[int], on: bool) -> dict[str, Any]:
    out = await call(request.app, "SetServoBatch", axes=axes, on=on)
    word = "on" if on else "off"
    return {"success": out["success"], "axis_ids": axes, "failed": out["failed"],
            "message": f"Servos turned {word} for {len(axes)} axes" if out["success"]
            else f"Failed to turn {word} some servos"}


@router.post("/on")
async def servo_on(body: AxisRequest, request: Request) -> dict[str, Any]:
    return await _one(request, body.axis_id, True)


@router.post("/off")
async def servo_off(body: AxisRequest, request: Request) -> dict[str, Any]:
    return await _one(request, body.axis_id, False)


@router.post("/batch/on")
async def batch_on(body: AxesRequest, request: Request) -> dict[str, Any]:
    return await _batch(request, body.axis_ids, True)


@router.post("/batch/off")
async def batch_off(body: AxesRequest, request: Request) -> dict[str, Any]:
    return await _batch(request, body.axis_ids, False)


def _ready_timeout(request: Request) -> float:
    return float(getattr(request.app.state, "servo_ready_timeout", 10.0))


@router.post("/batch/wait_ready")
async def batch_wait_ready(body: AxesRequest, request: Request) -> dict[str, Any]:
    """Wait until every axis is InPosition (servo on, at rest), up to MOTION_SERVO_READY_TIMEOUT."""
    out = await call(request.app, "WaitServoReady", axes=body.axis_ids, timeout=_ready_timeout(request))
    n = len(body.axis_ids)
    return {"success": out["success"], "axis_ids": body.axis_ids, "not_ready": out["not_ready"],
            "message": f"All {n} axes are ready" if out["success"] else "Some axes did not reach ready state"}


@router.post("/wait_ready")
async def wait_ready(body: AxisRequest, request: Request) -> dict[str, Any]:
    out = await call(request.app, "WaitServoReady", axes=[body.axis_id], timeout=_ready_timeout(request))
    a = body.axis_id
    return {"success": out["success"], "axis_id": a,
            "message": f"Axis {a} is ready (InPosition)" if out["success"]
            else f"Axis {a} did not reach ready state: {out['not_ready'].get(a)}"}
