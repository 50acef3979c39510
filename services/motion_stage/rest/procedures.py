"""/alignment, /angle-adjustment and /profile: the controller's procedures as tasks, plus their code tables."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from fastapi import Query, Request, Response

from .bridge import accepted, call, finished, require_connected, stop_task, submit, task_status
from .codes import codes_router
from .models import AngleAdjustmentRequest, FlatAlignmentRequest, FocusAlignmentRequest, ProfileMeasurementRequest, \
    StageRequest

alignment = codes_router("alignment")
angle = codes_router("angle-adjustment")
profile = codes_router("profile")


# ------------------------------------------------------------------------------------------ alignment
@alignment.get("/power")
async def power(request: Request, channel: int = Query(1, ge=1, le=2)) -> dict[str, Any]:
    """Power meter reading at the current positions, dBm (channel 1 or 2)."""
    out = await call(request.app, "PowerMeter", channel=channel)
    return {"channel": channel, "value_dbm": out["value_dbm"], "timestamp": datetime.now().isoformat()}


@alignment.post("/flat/execute", status_code=202)
async def flat(body: FlatAlignmentRequest, request: Request) -> dict[str, Any]:
    await require_connected(request.app)
    record = submit(request, "FlatAlignment", body.to_params())
    return accepted(record, "/alignment", "Flat alignment task created and execution started")


@alignment.post("/focus/execute", status_code=202)
async def focus(body: FocusAlignmentRequest, request: Request) -> dict[str, Any]:
    await require_connected(request.app)
    record = submit(request, "FocusAlignment", body.to_params())
    return accepted(record, "/alignment", f"Focus alignment task created and execution started (zMode={body.zMode})")


@alignment.get("/status/{task_id}")
async def alignment_status(task_id: str, request: Request) -> dict[str, Any]:
    return task_status(request.app, task_id)


@alignment.post("/stop/{task_id}")
async def alignment_stop(task_id: str, request: Request) -> dict[str, Any]:
    return stop_task(request.app, task_id, "alignment")


# ----------------------------------------------------------------------------------- angle adjustment
@angle.post("/execute", status_code=202)
async def adjust(body: AngleAdjustmentRequest, request: Request) -> dict[str, Any]:
    await require_connected(request.app)
    record = submit(request, "AngleAdjustment", body.to_params())
    return accepted(record, "/angle-adjustment",
                    f"{body.stage.name} angle adjustment task created and execution started")


@angle.get("/status/{task_id}")
async def angle_status(task_id: str, request: Request) -> dict[str, Any]:
    return task_status(request.app, task_id)


@angle.post("/stop/{task_id}")
async def angle_stop(task_id: str, request: Request) -> dict[str, Any]:
    return stop_task(request.app, task_id, "angle adjustment")


@angle.post("/stop")
async def angle_stop_stage(body: StageRequest, request: Request) -> dict[str, Any]:
    """Stop the stage's angle adjustment at the controller, outside the task system."""
    await call(request.app, "StopProcedure", stage=body.stage.key, procedure="angle_adjustment")
    return {"success": True, "message": f"{body.stage.name} angle adjustment stop command sent"}


# -------------------------------------------------------------------------------------------- profile
@profile.post("/measure")
async def measure(body: ProfileMeasurementRequest, request: Request, response: Response) -> dict[str, Any]:
    """Measure a profile and answer with the data (it runs as a task meanwhile); 422 when it fails."""
    await require_connected(request.app)
    record = submit(request, "ProfileMeasurement", body.to_params())
    done = await finished(request.app, record["task_id"])
    base = {"main_axis_number": body.scan_axis, "signal_ch_number": body.signal_ch1_number,
            "scan_range": body.scan_range, "scan_speed": body.scan_speed, "task_id": record["task_id"]}
    if done["status"] != "completed":
        response.status_code = 422
        return {**base, "success": False, "data_points": None, "total_points": None,
                "status_code": done["status"], "status_description": done["error"] or done["status"],
                "error_description": done["error"]}
    output = request.app.state.manager.get_output(record["task_id"]) or {}
    try:
        trace = json.loads(Path(unquote(urlparse(output.get("uri", "")).path)).read_text())   # the profile (JSON)
        points = [{"position": x, "signal": s} for x, s in zip(trace["position"], trace["signal"])]
    except (OSError, ValueError, KeyError, TypeError):   # the file was removed meanwhile: the summary still holds
        points = []
    return {**base, **done["result"], "data_points": points}


@profile.post("/measure/execute", status_code=202)
async def measure_task(body: ProfileMeasurementRequest, request: Request) -> dict[str, Any]:
    await require_connected(request.app)
    record = submit(request, "ProfileMeasurement", body.to_params())
    return accepted(record, "/profile", f"Profile measurement task created on axis {body.scan_axis}")


@profile.get("/status/{task_id}")
async def profile_status(task_id: str, request: Request) -> dict[str, Any]:
    return task_status(request.app, task_id)


@profile.post("/stop/{task_id}")
async def profile_stop(task_id: str, request: Request) -> dict[str, Any]:
    return stop_task(request.app, task_id, "profile measurement")


routers = (alignment, angle, profile)
