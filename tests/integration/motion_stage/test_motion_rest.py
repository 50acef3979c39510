"""The EW51 daemon's REST API and /ws stream, served by the motion-stage service (a real process)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from tests.support import ROOT, ServiceProcess, wait_until

FAST = {"MOTION_SIM__LINEAR_ACCEL": "20000", "MOTION_SIM__ANGLE_ACCEL": "400", "MOTION_SIM__LINEAR_LIMIT": "500",
        "MOTION_SIM__CONNECT_DELAY": "0.01", "MOTION_SIM__SAMPLE_RATE": "2000", "MOTION_POLL_INTERVAL": "0.01",
        "MOTION_SIM__PEAK_X": "3", "MOTION_SIM__PEAK_Y": "-2", "MOTION_SIM__PEAK_Z": "4",
        "MOTION_WS_RATE_HZ": "20", "MOTION_SERVO_READY_TIMEOUT": "1", "SERVICE_SHUTDOWN_GRACE": "5"}
ALL = list(range(1, 13))
FINISHED = ("completed", "failed", "cancelled")


def _service(tmp_path_factory, name: str, headers: dict | None = None, **extra: str) -> httpx.Client:
    env = {**FAST, "SERVICE_DATA_DIR": str(tmp_path_factory.mktemp(name)), **extra}
    proc = ServiceProcess(ROOT / "services/motion_stage", env=env, name=name)
    client = httpx.Client(base_url=proc.url, timeout=30, headers=headers)
    client.proc = proc  # type: ignore[attr-defined]
    assert client.post("/servo/batch/on", json={"axis_ids": ALL}).json()["success"]
    return client


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    client = _service(tmp_path_factory, "motion-rest")
    yield client
    client.close()
    client.proc.stop()


def wait_done(c: httpx.Client, prefix: str, task_id: str, timeout: float = 60) -> dict:
    """Poll the daemon-style status route until the task ends (as the daemon's clients do)."""
    def done():
        body = c.get(f"{prefix}/status/{task_id}").json()
        return body if body["status"] in FINISHED else None
    return wait_until(done, timeout=timeout, interval=0.05, what=f"task {task_id}")


def position(c: httpx.Client, axis: int) -> float:
    return c.get(f"/position/{axis}").json()["actual_position"]


# ------------------------------------------------------------------------------------------- motion
def test_move_relative_task_shape_and_result(api):
    start = position(api, 1)
    r = api.post("/move/relative", json={"axis_id": 1, "distance": 40.0, "speed": 400.0})
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"task_id", "operation_type", "status", "status_url", "message"}
    assert body["operation_type"] == "axis_movement" and body["status"] in ("pending", "running")
    assert body["status_url"] == f"/move/status/{body['task_id']}"
    done = wait_done(api, "/move", body["task_id"])
    assert done["status"] == "completed", done
    assert set(done) >= {"task_id", "operation_type", "status", "progress", "result", "error", "created_at",
                         "started_at", "completed_at"}
    assert done["result"]["success"] is True
    assert done["result"]["final_position"] == pytest.approx(start + 40.0, abs=1e-3)
    assert done["progress"]["progress_percent"] == 100.0
    assert position(api, 1) == pytest.approx(start + 40.0, abs=1e-3)


def test_move_absolute_and_stop_task(api):
    r = api.post("/move/absolute", json={"axis_id": 2, "position": 400.0, "speed": 50.0})
    assert r.status_code == 202
    tid = r.json()["task_id"]
    wait_until(lambda: api.get(f"/move/status/{tid}").json()["progress"].get("current_position", 0) > 1,
               what="axis 2 moving")
    stop = api.post(f"/move/stop/{tid}")
    assert stop.status_code == 200
    assert stop.json()["success"] is True and stop.json()["task_id"] == tid
    done = wait_done(api, "/move", tid)
    assert done["status"] == "cancelled"
    rest = position(api, 2)
    assert 0 < rest < 400 and not api.get("/position/2").json()["is_moving"]
    assert api.post(f"/move/stop/{tid}").status_code == 400          # already finished
    assert api.post("/move/stop/no-such-task").status_code == 404
    assert api.get("/move/status/no-such-task").status_code == 404


@pytest.mark.parametrize("route,body,field", [
    ("/move/relative", {"axis": 3, "distance": 1.0}, "axis_id"),
    ("/move/absolute", {"axis_id": 13, "position": 1.0}, "axis_id"),
    ("/move/absolute", {"axis_id": 1, "position": 1.0, "speed": 0}, "speed"),
    ("/move/2d", {"axis1": 1, "axis2": 2, "x": 1.0}, "y"),
    ("/servo/on", {}, "axis_id"),
    ("/servo/batch/on", {"axis_ids": [0]}, "axis_ids"),
    ("/io/digital/output", {"channel": 3, "value": True}, "channel"),
    ("/profile/measure/execute", {"scan_axis": 4}, "scan_axis"),
    ("/angle-adjustment/execute", {"stage": 3}, "stage"),
    ("/connection/connect", {"ads_address": "not-an-address"}, "ads_address"),
])
def test_bad_input_is_422_naming_the_field(api, route, body, field):
    r = api.post(route, json=body)
    assert r.status_code == 422, r.text
    assert field in {str(loc) for err in r.json()["detail"] for loc in err["loc"]}


def test_interpolated_moves_follow_a_line(api):
    r = api.post("/move/2d", json={"axis1": 7, "axis2": 8, "x": 30.0, "y": -40.0, "speed": 500.0})
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    assert (position(api, 7), position(api, 8)) == (pytest.approx(30.0, abs=1e-3), pytest.approx(-40.0, abs=1e-3))
    r = api.post("/move/2d", json={"axis1": 7, "axis2": 8, "x": -30.0, "y": 40.0, "relative": True})
    assert r.json()["success"] is True
    assert (position(api, 7), position(api, 8)) == (pytest.approx(0.0, abs=1e-3), pytest.approx(0.0, abs=1e-3))
    r = api.post("/move/3d", json={"axis1": 7, "axis2": 8, "axis3": 9, "x": 10.0, "y": 20.0, "z": -30.0})
    assert r.json()["success"] is True and r.json()["axes"] == [7, 8, 9]
    assert [position(api, n) for n in (7, 8, 9)] == [pytest.approx(v, abs=1e-3) for v in (10.0, 20.0, -30.0)]
    # a cross-stage interpolation is refused before anything moves
    assert api.post("/move/3d", json={"axis1": 1, "axis2": 2, "axis3": 9, "x": 0, "y": 0, "z": 0}).status_code == 422
    # the moves were tasks of the template like any other
    methods = {t["method"] for t in api.get("/control/tasks", params={"limit": 200}).json()["tasks"]}
    assert {"Move2D", "Move3D"} <= methods


def test_direct_axis_stop_and_positions(api):
    tid = api.post("/move/relative", json={"axis_id": 3, "distance": 300.0, "speed": 30.0}).json()["task_id"]
    wait_until(lambda: api.get("/position/3").json()["is_moving"], what="axis 3 moving")
    r = api.post("/move/stop", json={"axis_id": 3})
    assert r.json() == {"success": True, "axis_id": 3, "message": "Axis stopped"}
    done = wait_done(api, "/move", tid)
    assert done["status"] == "failed" and "Stop from elsewhere" in done["error"]
    every = api.get("/position/all").json()
    assert sorted(every, key=int) == [str(n) for n in ALL]
    assert set(every["1"]) >= {"axis_number", "actual_position", "is_moving", "is_servo_on", "is_error", "error_code"}
    assert api.get("/position/13").status_code == 400


# ------------------------------------------------------------------------------- one task system
def test_rest_and_control_share_tasks_and_the_stage_rule(api):
    tid = api.post("/move/relative", json={"axis_id": 4, "distance": 2.0, "speed": 0.5}).json()["task_id"]
    listed = api.get("/control/tasks", params={"status": "running,pending"}).json()["tasks"]
    assert tid in {t["task_id"] for t in listed}
    clash = api.post("/control/execute", json={"method": "MoveAbsolute",
                                               "parameters": {"axis": 5, "position": 1.0, "speed": 1.0}})
    assert clash.status_code == 409 and tid in clash.json()["running_task_ids"]
    other_stage = api.post("/move/relative", json={"axis_id": 10, "distance": 0.1, "speed": 1.0})
    assert other_stage.status_code == 202                  # MOTION_EXCLUSIVITY=stage: the right stage is free
    assert api.post("/control/stop/" + tid).status_code == 200   # stop a REST task through /control
    assert wait_done(api, "/move", tid)["status"] == "cancelled"
    wait_done(api, "/move", other_stage.json()["task_id"])

    ctl = api.post("/control/execute", json={"method": "MoveRelative",
                                              "parameters": {"axis": 1, "distance": 100.0, "speed": 20.0}})
    assert ctl.status_code == 202
    ctl_id = ctl.json()["task_id"]
    busy = api.post("/move/relative", json={"axis_id": 2, "distance": 1.0})
    assert busy.status_code == 409 and ctl_id in busy.json()["detail"]
    assert api.get(f"/move/status/{ctl_id}").json()["operation_type"] == "axis_movement"
    assert api.post(f"/move/stop/{ctl_id}").status_code == 200   # stop a /control task through the REST API
    rec = api.get(f"/control/status/{ctl_id}", params={"wait": 10}).json()
    wait_until(lambda: api.get(f"/control/status/{ctl_id}").json()["status"] == "cancelled", what="cancelled")
    assert rec["method"] == "MoveRelative"


def test_emergency_stop_cancels_tasks_and_stops_everything(api):
    a = api.post("/move/relative", json={"axis_id": 1, "distance": 300.0, "speed": 20.0}).json()["task_id"]
    b = api.post("/move/relative", json={"axis_id": 7, "distance": 300.0, "speed": 20.0}).json()["task_id"]
    wait_until(lambda: api.get("/position/7").json()["is_moving"], what="axis 7 moving")
    r = api.post("/move/emergency_stop")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and set(body["cancelled_tasks"]) >= {a, b} and body["still_moving"] == []
    assert not any(s["is_moving"] for s in api.get("/position/all").json().values())
    assert wait_done(api, "/move", a)["status"] == "cancelled"
    assert wait_done(api, "/move", b)["status"] == "cancelled"


# ------------------------------------------------------------------------------------- servo and io
def test_servo_routes(api):
    assert api.post("/servo/off", json={"axis_id": 6}).json()["success"] is True
    assert api.get("/position/6").json()["is_servo_on"] is False
    r = api.post("/move/relative", json={"axis_id": 6, "distance": 0.1})
    done = wait_done(api, "/move", r.json()["task_id"])
    assert done["status"] == "failed" and "ServoOff" in done["error"]
    ready = api.post("/servo/wait_ready", json={"axis_id": 6}).json()
    assert ready["success"] is False
    assert api.post("/servo/on", json={"axis_id": 6}).json() == {
        "success": True, "axis_id": 6, "message": "Servo turned on for axis 6"}
    assert api.post("/servo/wait_ready", json={"axis_id": 6}).json()["success"] is True
    assert api.post("/servo/batch/off", json={"axis_ids": [11, 12]}).json()["success"] is True
    assert api.post("/servo/batch/on", json={"axis_ids": [11, 12]}).json()["success"] is True
    batch = api.post("/servo/batch/wait_ready", json={"axis_ids": ALL}).json()
    assert batch["success"] is True and batch["axis_ids"] == ALL


def test_io_routes(api):
    assert api.post("/io/digital/output", json={"channel": 2, "value": True}).json() == {
        "success": True, "channel": 2, "value": True}
    assert api.get("/io/digital/output/2").json()["value"] is True
    assert api.post("/io/digital/output", json={"channel": 2, "value": False}).json()["value"] is False
    assert api.get("/io/digital/output/2").json()["value"] is False
    assert api.get("/io/digital/output/3").status_code == 400
    volts = api.get("/io/analog/input/5").json()
    assert volts["success"] is True and volts["voltage"] >= 0.0
    assert api.get("/io/analog/input/1").status_code == 400
    assert api.get("/io/analog/input/x").status_code == 422


# ------------------------------------------------------------------------------- procedures
@pytest.mark.parametrize("group,phases", [("alignment", 8), ("angle-adjustment", 5), ("profile", 0)])
def test_code_tables(api, group, phases):
    errors = api.get(f"/{group}/error-codes").json()
    assert errors[0] == {"error": "None", "value": 0, "description": "Normal"}
    statuses = api.get(f"/{group}/status-codes").json()
    assert [s["value"] for s in statuses] == list(range(len(statuses)))
    assert statuses[1]["status"] == "Success"
    r = api.get(f"/{group}/phase-codes")
    assert (r.status_code == 200 and len(r.json()) == phases) if phases else r.status_code == 404
    if group == "angle-adjustment":
        assert "CouldnotContact" in {s["status"] for s in statuses}   # the DLL's spelling


def test_power_meter(api):
    r = api.get("/alignment/power", params={"channel": 1})
    assert r.status_code == 200 and set(r.json()) == {"channel", "value_dbm", "timestamp"}
    assert api.get("/alignment/power", params={"channel": 3}).status_code == 422
    out = api.post("/control/execute", json={"method": "PowerMeter",
                                             "parameters": {"channel": 2, "range": "Minus20", "wavelength": 1550}})
    data = out.json()["output"]["data"]
    assert data["range"] == "Minus20" and data["wavelength_nm"] == 1550.0


FLAT = {"mainStageNumberX": 1, "mainStageNumberY": 2, "searchRangeX": 40.0, "searchRangeY": 40.0,
        "fieldSearchPitchX": 4.0, "fieldSearchPitchY": 4.0, "fieldSearchSpeedX": 2000.0, "fieldSearchSpeedY": 2000.0,
        "peakSearchSpeedX": 400.0, "peakSearchSpeedY": 400.0, "convergentRangeX": 0.5, "convergentRangeY": 0.5}


def test_flat_and_focus_alignment(api):
    # earlier tests stopped axes at timing-dependent places: start both stages from a known spot
    for axes in ((1, 2, 3), (7, 8, 9)):
        r = api.post("/move/3d", json={"axis1": axes[0], "axis2": axes[1], "axis3": axes[2], "x": 0, "y": 0, "z": 0})
        assert r.json()["success"] is True, r.text
    r = api.post("/alignment/flat/execute", json=FLAT)
    assert r.status_code == 202 and r.json()["operation_type"] == "flat_alignment"
    done = wait_done(api, "/alignment", r.json()["task_id"])
    assert done["status"] == "completed", done
    res = done["result"]
    assert res["success"] is True and res["final_power"] > -3
    assert res["peak_search_x_profile_points"] == len(res["peak_search_x_profile"]) > 0
    assert done["progress"]["message"].endswith("finished: Success")
    r = api.post("/alignment/focus/execute", json={**FLAT, "zMode": "Round", "peakSearchSpeedZ": 400.0})
    done = wait_done(api, "/alignment", r.json()["task_id"])
    assert done["status"] == "completed" and "peak_position_z" in done["result"], done
    r = api.post("/alignment/flat/execute", json={**FLAT, "fieldSearchSpeedX": 20.0, "peakSearchSpeedX": 5.0})
    tid = r.json()["task_id"]
    assert api.post(f"/alignment/stop/{tid}").json()["success"] is True
    assert wait_done(api, "/alignment", tid)["status"] == "cancelled"


ANGLE = {"stage": 2, "contact_search_speed": 500.0, "angle_search_speed_tx": 20.0, "angle_search_speed_ty": 20.0,
         "contact_search_range": 200.0, "angle_search_range_tx": 2.0, "angle_search_range_ty": 2.0}


def test_angle_adjustment(api):
    r = api.post("/angle-adjustment/execute", json=ANGLE)
    assert r.status_code == 202 and r.json()["operation_type"] == "angle_adjustment"
    assert r.json()["message"].startswith("RIGHT")
    done = wait_done(api, "/angle-adjustment", r.json()["task_id"])
    assert done["status"] == "completed", done
    assert done["result"]["success"] is True and done["progress"]["message"] == "Angle adjustment finished: Success"
    r = api.post("/angle-adjustment/execute", json={**ANGLE, "contact_search_speed": 5.0})
    tid = r.json()["task_id"]
    assert api.post(f"/angle-adjustment/stop/{tid}").json()["success"] is True
    assert wait_done(api, "/angle-adjustment", tid)["status"] == "cancelled"
    assert api.post("/angle-adjustment/stop", json={"stage": 2}).json()["success"] is True


def test_profile_measurement_sync_and_task(api):
    r = api.post("/profile/measure", json={"scan_axis": 8, "scan_range": 20.0, "scan_speed": 200.0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["total_points"] == len(body["data_points"]) > 10
    assert body["data_points"][body["peak_index"]]["signal"] == body["peak_value"]
    r = api.post("/profile/measure/execute", json={"scan_axis": 8, "scan_range": 20.0, "scan_speed": 200.0})
    assert r.status_code == 202 and r.json()["status_url"].startswith("/profile/status/")
    done = wait_done(api, "/profile", r.json()["task_id"])
    assert done["status"] == "completed" and done["progress"]["progress_percent"] == 100.0
    tid = api.post("/profile/measure/execute", json={"scan_axis": 8, "scan_range": 200.0, "scan_speed": 10.0}).json()
    assert api.post(f"/profile/stop/{tid['task_id']}").json()["success"] is True
    assert wait_done(api, "/profile", tid["task_id"])["status"] == "cancelled"
    api.post("/servo/off", json={"axis_id": 9})
    failed = api.post("/profile/measure", json={"scan_axis": 9})
    api.post("/servo/on", json={"axis_id": 9})
    assert failed.status_code == 422 and failed.json()["success"] is False


# ----------------------------------------------------------------------------------------- stream
async def _collect(url: str, seconds: float, during=None) -> list[dict]:
    messages: list[dict] = []
    async with websockets.connect(url) as ws:
        if during is not None:
            await asyncio.to_thread(during)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                messages.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
            except TimeoutError:
                break
        await ws.send("ping")
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if msg["type"] == "echo":
                assert msg["message"] == "ping"
                break
    return messages


def test_ws_stream_rate_and_content(api):
    url = api.base_url.copy_with(scheme="ws", path="/ws")

    def move() -> None:
        api.post("/move/relative", json={"axis_id": 12, "distance": 0.2, "speed": 1.0})

    msgs = asyncio.run(_collect(str(url), 2.0, during=move))
    updates = [m for m in msgs if m["type"] == "position_update"]
    assert len(updates) >= 10              # MOTION_WS_RATE_HZ=20 for 2 s; generous under load
    first = updates[0]
    assert sorted(first["positions"], key=int) == [str(n) for n in ALL]
    assert set(first["positions"]["12"]) >= {"axis_number", "actual_position", "is_moving", "is_servo_on"}
    assert set(first["digital_outputs"]) == {"1", "2"} and set(first["analog_inputs"]) == {str(c) for c in range(1, 7)}
    assert set(first["power_meter"]) == {"channel", "value_dbm", "enabled"}
    progress = [m for m in msgs if m["type"] == "task_progress"]
    assert progress and progress[0]["operation_type"] == "axis_movement"
    assert any(m["positions"]["12"]["is_moving"] for m in updates)


# --------------------------------------------------------------------------------------- connection
def test_disconnect_answers_503_until_reconnected(api):
    tid = api.post("/move/relative", json={"axis_id": 8, "distance": 300.0, "speed": 20.0}).json()["task_id"]
    r = api.post("/connection/disconnect")
    assert r.json() == {"success": True, "message": "Disconnected successfully"}
    assert wait_done(api, "/move", tid)["status"] == "cancelled"
    assert api.get("/health").json()["controller_connected"] is False
    assert api.get("/connection/status").json()["is_connected"] is False
    for method, route, body in [("GET", "/position/all", None), ("POST", "/move/relative", {"axis_id": 1, "distance": 1}),
                                ("POST", "/servo/on", {"axis_id": 1}), ("GET", "/alignment/power", None),
                                ("GET", "/io/digital/output/1", None), ("POST", "/move/emergency_stop", None),
                                ("POST", "/alignment/flat/execute", FLAT)]:
        r = api.request(method, route, json=body)
        assert r.status_code == 503, (route, r.text)
        assert "disconnected" in r.json()["detail"]
    for method, params in [("MoveRelative", {"axis": 1, "distance": 1.0, "speed": 10.0}), ("GetPositions", {})]:
        r = api.post("/control/execute", json={"method": method, "parameters": params})   # the other API too
        assert r.status_code == 503 and "disconnected" in r.json()["detail"], r.text
    assert api.post("/control/execute", json={"method": "ConnectionStatus"}).json()["output"]["data"][
        "is_connected"] is False
    r = api.post("/connection/connect", json={"ads_address": "5.146.68.190.1.1"})
    assert r.json() == {"success": True, "message": "Connected successfully", "connected": True}
    assert api.post("/connection/connect", json={}).json()["message"] == "Already connected"
    status = api.get("/connection/status").json()
    assert status["is_connected"] is True and status["is_emergency_asserted"] is False and status["dll_version"]
    assert api.get("/health").json()["controller_connected"] is True
    assert api.get("/position/1").status_code == 200


# ------------------------------------------------------------------------------------ station rule
def test_station_exclusivity_and_the_api_key(tmp_path_factory):
    c = _service(tmp_path_factory, "motion-station", headers={"Authorization": "Bearer s3cret"},
                 MOTION_EXCLUSIVITY="station", SERVICE_API_KEY="s3cret")
    try:
        assert c.get("/health").json()["exclusivity"] == "station"
        # the daemon's routes and /ws need the service's key like /control does
        assert httpx.get(f"{c.base_url}/position/all").status_code == 401
        assert httpx.post(f"{c.base_url}/move/relative", json={"axis_id": 1, "distance": 1.0}).status_code == 401

        async def refused() -> bool:
            try:
                async with websockets.connect(str(c.base_url.copy_with(scheme="ws", path="/ws"))):
                    return False
            except websockets.InvalidStatus as exc:
                return exc.response.status_code in (401, 403)
        assert asyncio.run(refused())
        tid = c.post("/move/relative", json={"axis_id": 1, "distance": 2.0, "speed": 0.5}).json()["task_id"]
        right = c.post("/move/relative", json={"axis_id": 7, "distance": 1.0})
        assert right.status_code == 409 and tid in right.json()["detail"]
        ctl = c.post("/control/execute", json={"method": "AngleAdjustment", "parameters": {"stage": "right"}})
        assert ctl.status_code == 409
        c.post(f"/move/stop/{tid}")
        assert wait_done(c, "/move", tid)["status"] == "cancelled"
        assert c.post("/move/relative", json={"axis_id": 7, "distance": 1.0}).status_code == 202
    finally:
        c.close()
        c.proc.stop()
