"""WebSocket /ws: `position_update` at MOTION_WS_RATE_HZ plus a `task_progress` message on every task change.

One loop per client: it sends a snapshot each period (ticks are scheduled from the first one, so a slow
snapshot does not make the rate drift) and, between ticks, forwards task changes that the manager hands
to the event loop through `call_soon_threadsafe`. Text from the client is echoed, as the daemon does.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ..controller import VendorError
from ..errors import ControllerUnavailable
from .bridge import OPERATION_TYPES, STATUS_WORDS, call
from .position import axis_status

router = APIRouter(tags=["stream"])
QUEUE_LIMIT = 1000   # task changes buffered for a slow client; beyond this the oldest are dropped


def position_update(snap: dict[str, Any]) -> dict[str, Any]:
    pm = snap["power_meter"]
    return {"type": "position_update", "timestamp": datetime.now().isoformat(),
            "positions": {k: axis_status(s) for k, s in snap["axes"].items()},
            "digital_outputs": snap["digital_outputs"], "analog_inputs": snap["analog_inputs"],
            "power_meter": {"channel": pm["channel"], "value_dbm": pm["value_dbm"], "enabled": True}}


def task_progress(record: dict[str, Any]) -> dict[str, Any]:
    return {"type": "task_progress", "task_id": record["task_id"],
            "operation_type": OPERATION_TYPES.get(record["method"], record["method"].lower()),
            "status": STATUS_WORDS.get(record["status"], record["status"]), "progress": record.get("details") or {}}


async def _echo(ws: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            text = await ws.receive_text()
            await ws.send_json({"type": "echo", "message": text, "timestamp": datetime.now().isoformat()})


@router.websocket("/ws")
async def stream(ws: WebSocket) -> None:
    app = ws.app
    manager = app.state.manager
    period = 1.0 / float(app.state.ws_rate_hz)
    access = getattr(app.state, "access", None)
    if access is not None:
        access.ws_principal(ws)   # the service's key, as for /control/ws: refused before the handshake
    await ws.accept()
    loop = asyncio.get_running_loop()
    changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def put(record: dict[str, Any]) -> None:
        if changes.qsize() >= QUEUE_LIMIT:
            changes.get_nowait()
        changes.put_nowait(record)

    def listener(record: dict[str, Any]) -> None:   # manager thread, under its lock: hand over only
        loop.call_soon_threadsafe(put, record)

    manager.add_listener(listener)
    receiver = asyncio.create_task(_echo(ws))
    connected: bool | None = None
    try:
        tick = loop.time()
        while not receiver.done():
            if loop.time() >= tick:
                try:
                    message = position_update(await call(app, "StationSnapshot"))
                    state = True
                except (ControllerUnavailable, VendorError):
                    message, state = None, False
                if state != connected:
                    await ws.send_json({"type": "connection_status", "connected": state,
                                        "timestamp": datetime.now().isoformat()})
                    connected = state
                if message is not None:
                    await ws.send_json(message)
                tick += period
                if tick < loop.time():       # fell behind (a stalled client): skip, don't burst
                    tick = loop.time() + period
            with contextlib.suppress(TimeoutError):
                record = await asyncio.wait_for(changes.get(), max(0.0, tick - loop.time()))
                await ws.send_json(task_progress(record))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        manager.remove_listener(listener)
        receiver.cancel()
