"""The adapter (StageController) over the simulator backend: moves, cancellation, vendor errors, procedures."""

from __future__ import annotations

import math
import threading
import time

import pytest

from services.motion_stage.controller import Cancelled, StageController, VendorError, load_motion, stage_of
from services.motion_stage.settings import MotionSettings
from services.motion_stage.simulator import SimConfig


@pytest.fixture
def ctl():
    settings = MotionSettings(backend="simulator", poll_interval=0.01,
                              sim=SimConfig(connect_delay=0.01, linear_accel=20000.0, angle_accel=400.0,
                                            linear_limit=500.0))
    c = StageController(load_motion(settings), settings)
    c.connect()
    yield c
    c.close()


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, percent=None, **details):
        self.calls.append((percent, details))


def test_connect_turns_servos_on_and_reports_states(ctl):
    states = [ctl.axis_state(n) for n in range(1, 13)]
    assert all(s["servo_on"] and s["status"] == "InPosition" for s in states)
    assert ctl.info["backend"] == "simulator"
    assert set(ctl.positions()) == {str(n) for n in range(1, 13)}
    assert stage_of(6) == "left" and stage_of(7) == "right"


def test_move_reports_progress_and_ends_in_position(ctl):
    rec = Recorder()
    result = ctl.move(1, target=100.0, speed=500.0, cancel=threading.Event(), progress=rec)
    assert result["current_position"] == pytest.approx(100.0)
    assert result["progress_percent"] == 100.0
    percents = [p for p, _ in rec.calls]
    assert len(percents) >= 5 and percents == sorted(percents)
    assert {"axis", "current_position", "target_position", "progress_percent", "elapsed_time",
            "message"} <= set(rec.calls[0][1])


def test_cancel_calls_stop_and_waits_for_rest(ctl):
    cancel = threading.Event()
    rec = Recorder()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled) as info:
        ctl.move(3, distance=100.0, speed=50.0, cancel=cancel, progress=rec)
    assert time.monotonic() - t0 < 1.0
    travelled = info.value.info["travelled"]
    assert 5.0 < travelled < 100.0
    assert info.value.info["status"] == "InPosition"          # at rest, not Stopping
    assert not ctl.axis(3).IsMoving()
    assert ctl.axis(3).GetActualPosition() == pytest.approx(travelled)
    assert "Cancelled" in info.value.info["message"]


def test_vendor_error_codes_name_the_vendor_status(ctl):
    ctl.set_servo(2, False)
    with pytest.raises(VendorError, match="ServoOff") as info:
        ctl.move(2, target=10.0, speed=100.0, cancel=threading.Event(), progress=Recorder())
    assert info.value.status == "ServoOff" and info.value.axis == 2
    ctl.set_servo(2, True)


def test_a_move_into_the_limit_fails_with_the_limit_status(ctl):
    with pytest.raises(VendorError, match="CwLimit"):
        ctl.move(8, target=600.0, speed=50000.0, cancel=threading.Event(), progress=Recorder())
    ctl.move(8, target=0.0, speed=50000.0, cancel=threading.Event(), progress=Recorder())


def test_unknown_struct_fields_are_refused_on_every_backend(ctl):
    with pytest.raises(VendorError, match="unknown field peakSearchThreshold"):
        ctl.align(True, "left", {"peakSearchThreshold": -30.0}, cancel=threading.Event(), progress=Recorder())


FLAT = {"pmCh": 1, "fieldSearchThreshold": -40.0, "peakSearchThreshold": -30.0, "searchRangeX": 200.0,
        "searchRangeY": 200.0, "fieldSearchPitchX": 5.0, "fieldSearchPitchY": 5.0, "fieldSearchSpeedX": 4000.0,
        "fieldSearchSpeedY": 4000.0, "peakSearchSpeedX": 1000.0, "peakSearchSpeedY": 1000.0,
        "centroidThresholdX": 50.0, "centroidThresholdY": 50.0, "convergentRangeX": 0.2,
        "convergentRangeY": 0.2, "maxRepeatCount": 10}


def test_flat_alignment_through_the_adapter(ctl):
    rec = Recorder()
    result = ctl.align(False, "left", FLAT, cancel=threading.Event(), progress=rec)
    phases = []
    for _, d in rec.calls:
        if d.get("phase") and (not phases or phases[-1] != d["phase"]):
            phases.append(d["phase"])
    assert phases[:2] == ["Initializing", "FieldSearching"] and "PeakSearchingY" in phases
    true = ctl.motion.hardware.true_peak("left")
    pos = result["final_positions"]
    assert math.hypot(pos["X1"] - true[0], pos["Y1"] - true[1]) < 0.3
    assert len(result["traces"]["PeakSearchX"]) > 10 and result["traces"]["FieldSearch"].packets >= 1


def test_alignment_failure_names_the_vendor_status(ctl):
    ctl.motion.hardware.cfg.peak_x = 500.0
    with pytest.raises(VendorError, match="FieldSearchRangeOver"):
        ctl.align(False, "left", {**FLAT, "searchRangeX": 40.0, "searchRangeY": 40.0},
                  cancel=threading.Event(), progress=Recorder())


def test_alignment_cancel_stops_the_procedure_and_axes(ctl):
    ctl.motion.hardware.cfg.peak_x = 90.0
    cancel = threading.Event()
    threading.Timer(0.15, cancel.set).start()
    with pytest.raises(Cancelled) as info:
        ctl.align(False, "left", {**FLAT, "fieldSearchSpeedX": 500.0, "fieldSearchSpeedY": 500.0},
                  cancel=cancel, progress=Recorder())
    assert info.value.info["status"] == "Stopping"
    assert not ctl.axis(1).IsMoving() and not ctl.axis(2).IsMoving()


def test_angle_adjustment_and_profile_through_the_adapter(ctl):
    rec = Recorder()
    res = ctl.adjust_angle("left", {"signalLowerLimit": 0.05, "contactSearchRange": 100.0,
                                    "contactSearchSpeed": 400.0, "pushDistance": 5.0, "gap": 2.0,
                                    "angleSearchRangeTx": 1.0, "angleSearchRangeTy": 1.0,
                                    "angleSearchSpeedTx": 4.0, "angleSearchSpeedTy": 4.0,
                                    "angleConvergentRangeTx": 0.01, "angleConvergentRangeTy": 0.01,
                                    "angleMaxCount": 5}, cancel=threading.Event(), progress=rec)
    assert res["final_positions"]["Tx1"] == pytest.approx(ctl.motion.hardware.cfg.tilt_tx, abs=0.01)
    assert {d.get("phase") for _, d in rec.calls} >= {"ContactingZ", "AdjustingTx", "AdjustingTy"}
    ctl.motion.hardware.cfg.sample_rate = 5000.0
    prof = ctl.measure_profile({"mainAxisNumber": 1, "signalCh1Number": 1, "mainRange": 60.0, "speed": 200.0},
                               cancel=threading.Event(), progress=Recorder())
    tr = prof["trace"]
    assert tr.packets >= 2 and len(tr) > 1000 and len(tr.signal) == len(tr)


def test_stop_all_stops_every_axis(ctl):
    for n in (1, 7):
        ctl.axis(n).SetMaxSpeed(10.0)
        ctl.axis(n).MoveRelative(100.0)
    res = ctl.stop_all()
    assert res["still_moving"] == []
    assert all(not ctl.axis(n).IsMoving() for n in (1, 7))
