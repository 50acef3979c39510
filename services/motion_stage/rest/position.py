"""/position: actual position and state of one axis or all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from .bridge import call

router = APIRouter(prefix="/position", tags=["position"])


def axis_status(state: dict[str, Any]) -> dict[str, Any]:
    """The daemon's AxisStatus from our axis state."""
    return {"axis_number": state["axis"], "actual_position": state["position"], "is_moving": state["moving"],
            "is_servo_on": state["servo_on"], "is_error": state["error_code"] != "None",
            "error_code": state["error_value"], "status": state["status"], "name": state["name"]}


@router.get("/all")
async def all_positions(request: Request) -> dict[str, dict[str, Any]]:
    out = await call(request.app, "GetAxisStatus")
    return {str(s["axis"]): axis_status(s) for s in out["axes"]}


@router.get("/{axis_number}")
async def one_position(axis_number: int, request: Request) -> dict[str, Any]:
    if not 1 <= axis_number <= 12:
        raise HTTPException(400, "Invalid axis number (must be 1-12)")
    out = await call(request.app, "GetAxisStatus", axis=axis_number)
    return axis_status(out["axes"][0])
