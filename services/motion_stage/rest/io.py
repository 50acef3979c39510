"""/io: digital outputs (contact-sensor locks 1-2) and analog inputs (contact sensors 5-6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from .bridge import call
from .models import DigitalOutputRequest

router = APIRouter(prefix="/io", tags=["io"])


@router.post("/digital/output")
async def set_digital_output(body: DigitalOutputRequest, request: Request) -> dict[str, Any]:
    """Set a digital output (true = LOCKED) and return the state read back."""
    out = await call(request.app, "DigitalOutput", channel=body.channel, value=body.value)
    return {"success": out["value"] == body.value, "channel": body.channel, "value": out["value"]}


@router.get("/digital/output/{channel}")
async def get_digital_output(channel: int, request: Request) -> dict[str, Any]:
    if channel not in (1, 2):
        raise HTTPException(400, "Invalid channel. Only channels 1 and 2 are supported for digital output.")
    out = await call(request.app, "DigitalOutput", channel=channel)
    return {"success": True, "channel": channel, "value": out["value"]}


@router.get("/analog/input/{channel}")
async def get_analog_input(channel: int, request: Request) -> dict[str, Any]:
    """Contact-sensor volts: 5 left, 6 right (photodiodes 1-4 are read with the AnalogInput operation)."""
    if channel not in (5, 6):
        raise HTTPException(400, "Invalid channel. Only channels 5 and 6 are supported for analog input.")
    out = await call(request.app, "AnalogInput", channel=channel)
    return {"success": True, "channel": channel, "voltage": out["voltage"]}
