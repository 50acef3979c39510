"""The EW51 daemon's REST API and position stream, served by the motion-stage service beside /control.

`mount(app)` adds the routers (connection, servo, move, position, alignment, angle-adjustment, profile,
io, /ws) and maps the controller's errors: disconnected -> 503, a vendor refusal -> 409.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..controller import VendorError
from ..errors import ControllerUnavailable
from ..settings import MotionSettings
from . import connection, io, motion, position, procedures, servo, stream


def mount(app: FastAPI, settings: MotionSettings | None = None) -> None:
    settings = settings or MotionSettings()
    app.state.servo_ready_timeout = settings.servo_ready_timeout
    app.state.ws_rate_hz = settings.ws_rate_hz
    dependencies = list(getattr(app.state, "dependencies", []))

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        status = exc.status if isinstance(exc, VendorError) else None
        return JSONResponse({"detail": str(exc), "vendor_status": status}, status_code=409)

    app.add_exception_handler(ControllerUnavailable, unavailable)
    app.add_exception_handler(VendorError, refused)
    for router in (connection.router, servo.router, motion.router, position.router, *procedures.routers, io.router):
        app.include_router(router, dependencies=dependencies)
    app.include_router(stream.router)   # authenticates in the handshake itself (see stream.py)
