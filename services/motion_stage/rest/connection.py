"""/connection: connect, disconnect, system status (these answer while disconnected)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from .bridge import call
from .models import ConnectionRequest

router = APIRouter(prefix="/connection", tags=["connection"])


@router.post("/connect")
async def connect(body: ConnectionRequest, request: Request) -> dict[str, Any]:
    """Connect to the controller at `ads_address` (no-op when already connected)."""
    out = await call(request.app, "Connect", address=body.ads_address)
    return {"success": out["success"], "message": out["message"], "connected": out["connected"]}


@router.post("/disconnect")
async def disconnect(request: Request) -> dict[str, Any]:
    """Cancel running tasks, stop every axis and disconnect; hardware routes answer 503 afterwards."""
    out = await call(request.app, "Disconnect")
    return {"success": out["success"], "message": out["message"]}


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """Connected or not, DLL/controller versions, controller error, emergency-stop input."""
    out = await call(request.app, "ConnectionStatus")
    return {**out, "timestamp": datetime.now().isoformat()}
