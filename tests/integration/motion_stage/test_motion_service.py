"""The motion-stage service as a real process (simulator backend) over HTTP."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.support import ROOT, ServiceProcess, wait_until

PEAK = (12.3, -7.8, 15.0)
FAST_ALIGN = {"field_search_speed_x": 4000, "field_search_speed_y": 4000, "peak_search_speed_x": 1000,
              "peak_search_speed_y": 1000}


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    env = {"MOTION_SIM__LINEAR_ACCEL": "20000", "MOTION_SIM__ANGLE_ACCEL": "400", "MOTION_SIM__LINEAR_LIMIT": "500",
           "MOTION_SIM__CONNECT_DELAY": "0.01", "MOTION_SIM__SAMPLE_RATE": "5000", "MOTION_POLL_INTERVAL": "0.01",
           "MOTION_SIM__PEAK_X": str(PEAK[0]), "MOTION_SIM__PEAK_Y": str(PEAK[1]), "MOTION_SIM__PEAK_Z": str(PEAK[2]),
           "SERVICE_DATA_DIR": str(tmp_path_factory.mktemp("motion-data")), "SERVICE_SHUTDOWN_GRACE": "5"}
    proc = ServiceProcess(ROOT / "services/motion_stage", env=env, name="motion-stage")
    client = httpx.Client(base_url=proc.url, timeout=30)
    client.proc = proc  # type: ignore[attr-defined]
    yield client
    client.close()
    proc.stop()


def execute(c, method, **parameters):
    return c.post("/control/execute", json={"method": method, "parameters": parameters})


def quick(c, method, **parameters):
    r = execute(c, method, **parameters)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "complete", body
    return body["output"]["data"]


def start(c, method, **parameters) -> str:
    r = execute(c, method, **parameters)
    assert r.status_code == 202, r.text
    return r.json()["task_id"]


def finish(c, task_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = c.get(f"/control/status/{task_id}", params={"wait": 5}).json()
        if rec["status"] in ("complete", "failed", "cancelled"):
            return rec
    raise TimeoutError(task_id)


def positions(c):
    return {int(k): v for k, v in quick(c, "GetPositions")["positions"].items()}


def test_move_with_progress(svc):
    tid = start(svc, "MoveAbsolute", axis=1, position=100.0, speed=200.0)
    seen = []
    version_rec = None
    while True:
        rec = svc.get(f"/control/status/{tid}", params={"wait": 2}).json()
        if rec["status"] == "running" and rec["details"]:
            seen.append(rec)
        if rec["status"] not in ("pending", "running"):
            version_rec = rec
            break
    assert version_rec["status"] == "complete", version_rec
    mid = [r for r in seen if 0 < r["progress"] < 100]
    assert mid, "no intermediate progress"
    d = mid[0]["details"]
    assert {"axis", "current_position", "target_position", "progress_percent", "elapsed_time", "message"} <= set(d)
    assert d["axis"] == 1 and d["target_position"] == 100.0 and 0 < d["current_position"] < 100
    out = svc.get(f"/control/output/{tid}").json()["output"]["data"]
    assert out["current_position"] == pytest.approx(100.0)
    assert positions(svc)[1] == pytest.approx(100.0)
    quick_back = start(svc, "MoveAbsolute", axis=1, position=0.0, speed=5000.0)
    assert finish(svc, quick_back)["status"] == "complete"


def test_cancel_mid_flight_stops_the_axis_and_reports_the_travel(svc):
    before = positions(svc)[3]
    t0 = time.monotonic()
    tid = start(svc, "MoveRelative", axis=3, distance=100.0, speed=50.0)
    time.sleep(max(0.0, 0.3 - (time.monotonic() - t0)))   # the scenario: cancel 0.3 s after the start
    r = svc.post(f"/control/stop/{tid}")
    assert r.status_code == 200 and r.json()["status"] in ("stopping", "cancelled")
    rec = finish(svc, tid)
    assert rec["status"] == "cancelled"
    d = rec["details"]
    assert 0 < d["travelled"] < 100.0
    assert "Cancelled" in d["message"] and d["status"] == "InPosition"
    after = positions(svc)[3]
    assert after - before == pytest.approx(d["travelled"], abs=1e-6)
    state = quick(svc, "GetAxisStatus", axis=3)["axes"][0]
    assert state["moving"] is False and state["status"] == "InPosition"
    print(f"\ntravel at cancellation: {d['travelled']:.2f} um of 100 um (cancelled at 0.3 s)")


def test_long_move_pauses_holding_the_axis_and_resumes_to_the_same_target(svc):
    before = positions(svc)[1]
    tid = start(svc, "MoveRelative", axis=1, distance=60.0, speed=40.0)
    wait_until(lambda: svc.get(f"/control/status/{tid}").json()["details"].get("travelled", 0) > 5, timeout=10)
    r = svc.post(f"/control/pause/{tid}")
    assert r.status_code == 200 and r.json()["status"] == "paused", r.text
    rec = wait_until(lambda: (x := svc.get(f"/control/status/{tid}").json())["details"]["message"].startswith("Paused")
                     and x, timeout=10, what="the axis held")
    assert rec["status"] == "paused"
    held = positions(svc)[1]
    assert 0 < held - before < 60.0
    state = quick(svc, "GetAxisStatus", axis=1)["axes"][0]
    assert state["moving"] is False
    assert positions(svc)[1] == held  # held at rest while paused
    r = svc.post(f"/control/resume/{tid}")
    assert r.status_code == 200 and r.json()["status"] == "running", r.text
    rec = finish(svc, tid)
    assert rec["status"] == "complete", rec
    assert positions(svc)[1] - before == pytest.approx(60.0, abs=1e-3)
    # a pause, then a stop while paused: cancelled, at rest where it was held
    tid = start(svc, "MoveRelative", axis=1, distance=-60.0, speed=40.0)
    wait_until(lambda: svc.get(f"/control/status/{tid}").json()["details"].get("travelled", 0) > 5, timeout=10)
    svc.post(f"/control/pause/{tid}")
    wait_until(lambda: svc.get(f"/control/status/{tid}").json()["details"]["message"].startswith("Paused"), timeout=10)
    assert svc.post(f"/control/stop/{tid}").status_code == 200
    assert finish(svc, tid)["status"] == "cancelled"
    align = start(svc, "FlatAlignment", stage="right", **FAST_ALIGN)
    r = svc.post(f"/control/pause/{align}")
    assert r.status_code == 409 and "not pausable" in r.text, r.text  # only the long moves are pausable
    svc.post(f"/control/stop/{align}")
    assert finish(svc, align)["status"] == "cancelled"


def test_second_task_on_a_busy_stage_is_409_naming_the_running_task(svc):
    busy = start(svc, "MoveRelative", axis=2, distance=50.0, speed=20.0)
    r = execute(svc, "MoveAbsolute", axis=5, position=0.1, speed=1.0)   # same (left) stage
    assert r.status_code == 409, r.text
    assert busy in r.text
    r = execute(svc, "FlatAlignment", stage="left")
    assert r.status_code == 409 and busy in r.text
    other = start(svc, "MoveRelative", axis=12, distance=0.01, speed=1.0)   # right stage is free
    assert finish(svc, other)["status"] == "complete"
    svc.post(f"/control/stop/{busy}")
    assert finish(svc, busy)["status"] == "cancelled"
    back = start(svc, "MoveAbsolute", axis=2, position=0.0, speed=5000.0)
    assert finish(svc, back)["status"] == "complete"


def test_vendor_errors_fail_the_task_naming_the_vendor_status(svc):
    quick(svc, "SetServo", axis=9, on=False)
    rec = finish(svc, start(svc, "MoveAbsolute", axis=9, position=10.0, speed=100.0))
    assert rec["status"] == "failed" and "ServoOff" in rec["error"], rec
    quick(svc, "SetServo", axis=9, on=True)

    rec = finish(svc, start(svc, "MoveAbsolute", axis=10, position=20.0, speed=50.0))   # angle limit 5 deg
    assert rec["status"] == "failed" and "CwLimit" in rec["error"] and "Limit" in rec["error"], rec
    back = finish(svc, start(svc, "MoveAbsolute", axis=10, position=0.0, speed=50.0))
    assert back["status"] == "complete"

    rec = finish(svc, start(svc, "FlatAlignment", stage="right", search_range_x=2, search_range_y=2,
                            field_search_pitch_x=1, field_search_pitch_y=1,
                            **FAST_ALIGN))
    assert rec["status"] == "failed" and "FieldSearchRangeOver" in rec["error"], rec

    rec = finish(svc, start(svc, "AngleAdjustment", stage="right", contact_search_range=5,
                            contact_search_speed=500))
    assert rec["status"] == "failed" and "CouldnotContact" in rec["error"], rec


@pytest.mark.parametrize("method,params,field", [
    ("MoveAbsolute", {"axis": 13, "position": 1.0, "speed": 10.0}, "axis"),
    ("MoveAbsolute", {"axis": 0, "position": 1.0, "speed": 10.0}, "axis"),
    ("MoveRelative", {"axis": 1, "distance": 1.0, "speed": 0}, "speed"),
    ("MoveRelative", {"axis": 1, "distance": 1.0, "speed": -5}, "speed"),
    ("MoveRelative", {"axis": 1, "speed": 5}, "distance"),
    ("AngleAdjustment", {"stage": "middle"}, "stage"),
    ("FlatAlignment", {"stage": "left", "search_range_x": -1}, "search_range_x"),
    ("ProfileMeasurement", {"axis": 1, "range": 0}, "range"),
    ("GetAxisStatus", {"axis": 99}, "axis"),
])
def test_bad_parameters_are_422_naming_the_field(svc, method, params, field):
    r = execute(svc, method, **params)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(loc[-1] == field for loc in locs), locs


def test_flat_and_focus_alignment_find_the_peak_and_write_the_scan(svc):
    pos = positions(svc)
    tid = start(svc, "FlatAlignment", stage="left", output_format="csv", **FAST_ALIGN)
    phases = []
    while True:
        rec = svc.get(f"/control/status/{tid}", params={"wait": 2}).json()
        ph = rec["details"].get("phase")
        if ph and (not phases or phases[-1] != ph):
            phases.append(ph)
        if rec["status"] not in ("pending", "running"):
            break
    assert rec["status"] == "complete", rec
    assert phases[:2] == ["Initializing", "FieldSearching"] or phases[0] == "FieldSearching", phases
    assert "PeakSearchingX" in phases and "PeakSearchingY" in phases
    assert rec["details"]["phase_description"]
    out = svc.get(f"/control/output/{tid}").json()["output"]
    assert out["protocol"] == "file" and out["format"] == "csv"
    summary = out["data"]
    true = (pos[7] + PEAK[0], pos[8] + PEAK[1])
    err = math.hypot(summary["final_positions"]["X1"] - true[0], summary["final_positions"]["Y1"] - true[1])
    assert err < 0.5
    path = Path(urlparse(out["uri"]).path)
    rows = list(csv.DictReader(path.open()))
    assert {r["segment"] for r in rows} >= {"FieldSearch", "PeakSearchX", "PeakSearchY"}
    assert len(rows) == sum(summary["points"].values())

    tid = start(svc, "FocusAlignment", stage="left", output_format="json", peak_search_speed_z=2000, **FAST_ALIGN)
    rec = finish(svc, tid)
    assert rec["status"] == "complete", rec
    out = svc.get(f"/control/output/{tid}").json()["output"]
    fp = out["data"]["final_positions"]
    assert abs(fp["Z1"] - (pos[9] + PEAK[2])) < 2.0
    assert out["data"]["peak_power_dbm"] > -0.2
    doc = json.loads(Path(urlparse(out["uri"]).path).read_text())
    assert "PeakSearchZ" in doc["segments"]
    print(f"\nflat alignment error: {err:.3f} um; focus peak power {out['data']['peak_power_dbm']:.3f} dBm")


def test_profile_measurement_joins_packets_into_a_file(svc):
    tid = start(svc, "ProfileMeasurement", axis=7, range=60.0, speed=200.0, output_format="json")
    rec = finish(svc, tid)
    assert rec["status"] == "complete", rec
    out = svc.get(f"/control/output/{tid}").json()["output"]
    assert out["protocol"] == "file" and out["format"] == "json"
    assert out["data"]["packets"] >= 2 and out["data"]["points"] > 1000
    doc = json.loads(Path(urlparse(out["uri"]).path).read_text())
    assert len(doc["position"]) == len(doc["signal"]) == out["data"]["points"]


def test_angle_adjustment_reports_its_phases(svc):
    tid = start(svc, "AngleAdjustment", stage="right", contact_search_speed=400, angle_search_speed_tx=4,
                angle_search_speed_ty=4)
    phases = []
    while True:
        rec = svc.get(f"/control/status/{tid}", params={"wait": 2}).json()
        ph = rec["details"].get("phase")
        if ph and (not phases or phases[-1] != ph):
            phases.append(ph)
        if rec["status"] not in ("pending", "running"):
            break
    assert rec["status"] == "complete", rec
    assert {"ContactingZ", "AdjustingTx", "AdjustingTy"} <= set(phases)
    assert rec["details"]["progress_percent"] == 100.0
    fp = svc.get(f"/control/output/{tid}").json()["output"]["data"]["final_positions"]
    assert fp["Tx2"] == pytest.approx(0.25, abs=0.01) and fp["Ty2"] == pytest.approx(-0.15, abs=0.01)


def test_quick_operations_and_stop_all(svc):
    states = quick(svc, "GetAxisStatus")["axes"]
    assert len(states) == 12 and {"status", "error_code", "moving", "servo_on", "position"} <= set(states[0])
    methods = {m["name"]: m for m in svc.get("/control/methods").json()["methods"]}
    assert {"MoveAbsolute", "MoveRelative", "AngleAdjustment", "FlatAlignment", "FocusAlignment",
            "ProfileMeasurement", "GetPositions", "GetAxisStatus", "StopAll"} <= set(methods)
    tid = start(svc, "MoveRelative", axis=11, distance=3.0, speed=0.5)
    wait_until(lambda: svc.get(f"/control/status/{tid}").json()["progress"] > 0, timeout=5)
    res = quick(svc, "StopAll")
    assert res["still_moving"] == []
    rec = finish(svc, tid)
    assert rec["status"] == "failed" and "stopped at" in rec["error"]


def test_shutdown_stops_running_work_before_exit(tmp_path):
    """SIGTERM: the move gets the grace period, is then stopped and recorded as interrupted (not cancelled)."""
    env = {"MOTION_SIM__CONNECT_DELAY": "0.01", "MOTION_POLL_INTERVAL": "0.01", "SERVICE_DATA_DIR": str(tmp_path),
           "SERVICE_SHUTDOWN_GRACE": "1"}
    proc = ServiceProcess(ROOT / "services/motion_stage", env=env, name="motion-stage-shutdown")
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as c:
            tid = start(c, "MoveRelative", axis=1, distance=1000.0, speed=10.0)
            wait_until(lambda: c.get(f"/control/status/{tid}").json()["progress"] > 0, timeout=5)
        t0 = time.monotonic()
        code = proc.stop(timeout=15)
        assert time.monotonic() - t0 < 10
        assert code in (0, -15), proc.log()   # uvicorn re-raises the SIGTERM after a clean shutdown
        assert "all axes stopped: none moving" in proc.log()
    finally:
        proc.kill()
    again = ServiceProcess(ROOT / "services/motion_stage", env=env, name="motion-stage-restarted")
    try:
        rec = httpx.get(f"{again.url}/control/status/{tid}", timeout=10).json()
        assert rec["status"] == "failed" and rec["interrupted"] is True, rec
    finally:
        again.stop()
