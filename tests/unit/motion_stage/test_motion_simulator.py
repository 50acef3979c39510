"""The simulator: vendor shape, kinematics, state machine, alignment and angle adjustment accuracy."""

from __future__ import annotations

import math
import time

import pytest

from services.motion_stage import simulator as S
from services.motion_stage.simulator import SimConfig, _Move
from tests.support import wait_until


@pytest.fixture
def M():
    ns = S.create(SimConfig(servo_on=True, connect_delay=0.0, linear_accel=20000.0, angle_accel=200.0,
                            angle_speed=5.0))
    ns.System.Instance.SetAddress("1.2.3.4.1.1")
    return ns


def wait_rest(ax, timeout=5.0):
    wait_until(lambda: not ax.IsMoving(), timeout=timeout, interval=0.005, what="axis at rest")


def wait_not(get_status, busy, timeout=15.0):
    wait_until(lambda: str(get_status()) != busy, timeout=timeout, interval=0.01, what=f"not {busy}")
    return str(get_status())


# ------------------------------------------------------------------------------------ vendor shape
def test_enums_print_like_pythonnet_with_the_dll_spelling():
    none = getattr(S.AxisComponents.ErrorCode, "None")
    assert str(none) == "None" and int(none) == 0
    assert none != 0                                       # pythonnet 3: no implicit int comparison
    assert str(S.AngleAdjustment.Status(9)) == "CouldnotContact"
    assert str(S.AngleAdjustment.Status(11)) == "AngleAdjustRnageOver"
    assert str(S.Alignment.Status(8)) == "ServoIsNotReady"
    assert int(S.AxisComponents.Status.InPosition) == 3 and int(S.AxisComponents.Status.Moving) == 4
    assert [m.name for m in S.Alignment.AligningStatusCode][:6] == [
        "NotAligning", "Initializing", "FieldSearching", "PeakSearchingX", "PeakSearchingY", "PeakSearchingZ"]
    assert [m.name for m in S.Alignment.ZMode] == ["Round", "ForwardPlus", "ForwardMinus"]
    assert S.System.ProfileDataPacketMaxDataNumber == 1000


def test_structs_are_stricter_than_pythonnet():
    p = S.AngleAdjustment.AngleAdjustmentParameter()
    p.lockUnlockAdjustEnbale = True                        # the DLL's typo is the real field
    with pytest.raises(AttributeError):
        p.lockUnlockAdjustEnable = True
    with pytest.raises(TypeError):
        p.contactAxisNumber = 3.0                          # float -> uint16
    with pytest.raises(OverflowError):
        p.contactAxisNumber = -1
    f = S.Alignment.FocusParameter()
    with pytest.raises(AttributeError):
        f.peakSearchThreshold = -30.0                      # focus has ...XY and ...Z only
    with pytest.raises(TypeError):
        f.zMode = "Round"                                  # no str -> enum conversion
    f.zMode = S.Alignment.ZMode.ForwardPlus
    assert not hasattr(S.Profile.ProfileData(), "subPositionList")


def test_commands_return_error_codes_not_exceptions(M):
    assert str(M.AxisComponents(40).MoveAbsolute(1.0)) == "Parameter"
    ns = S.create(SimConfig(connect_delay=0.0))
    assert str(ns.AxisComponents(1).MoveAbsolute(1.0)) == "NotConnected"
    assert str(ns.AxisComponents(1).GetStatus()) == "NotConnected"


# -------------------------------------------------------------------------------------- kinematics
@pytest.mark.parametrize("distance,speed,accel", [(100.0, 50.0, 1000.0), (10.0, 1000.0, 1000.0),
                                                  (-300.0, 200.0, 5000.0)])
def test_trapezoid_profile_reaches_target_within_limits(distance, speed, accel):
    mv = _Move(0.0, 5.0, 5.0 + distance, speed, accel, accel)
    assert mv.at(mv.end())[0] == pytest.approx(5.0 + distance)
    prev = 5.0
    for k in range(1, 501):
        pos, v = mv.at(mv.end() * k / 500)
        assert abs(v) <= speed + 1e-9
        assert (pos - prev) * math.copysign(1, distance) >= -1e-9   # monotonic
        prev = pos
    ramp = speed / accel
    expect = abs(distance) / speed + ramp if abs(distance) > speed * ramp else 2 * math.sqrt(abs(distance) / accel)
    assert mv.end() == pytest.approx(expect)


def test_stop_decelerates_and_never_overshoots():
    mv = _Move(0.0, 0.0, 100.0, 50.0, 1000.0, 1000.0)
    mv.stop(0.3)
    p_stop, v_stop = mv.at(0.3)
    assert v_stop == pytest.approx(50.0)
    assert mv.end() == pytest.approx(0.3 + 0.05)
    assert mv.at(mv.end())[0] == pytest.approx(p_stop + 50.0 ** 2 / 2000)
    assert mv.at(10.0)[0] < 100.0


def test_move_runs_in_real_time(M):
    ax = M.AxisComponents(1)
    ax.SetMaxSpeed(2000.0)
    t0 = time.monotonic()
    assert str(ax.MoveAbsolute(200.0)) == "None"
    assert ax.IsMoving() and str(ax.GetStatus()) == "Moving"
    assert ax.GetTargetPosition() == 200.0
    wait_rest(ax)
    assert time.monotonic() - t0 >= 0.1 - 0.01          # 200 um at 2000 um/s, plus ramps
    assert ax.GetActualPosition() == pytest.approx(200.0)
    assert str(ax.GetStatus()) == "InPosition"


# ----------------------------------------------------------------------------------- state machine
def test_stop_is_asynchronous_moving_stopping_inposition(M):
    ax = M.AxisComponents(3)
    ax.SetMaxSpeed(50.0)
    ax.SetDecelRate(200.0)                                # a slow stop: 0.25 s of Stopping
    assert str(ax.MoveRelative(100.0)) == "None"
    time.sleep(0.1)
    assert str(ax.GetStatus()) == "Moving"
    assert str(ax.Stop()) == "None"
    assert str(ax.GetStatus()) == "Stopping" and ax.IsMoving()
    seen = set()
    while ax.IsMoving():
        seen.add(str(ax.GetStatus()))
        time.sleep(0.01)
    assert seen == {"Stopping"}
    assert str(ax.GetStatus()) == "InPosition"
    assert 0 < ax.GetActualPosition() < 100.0


def test_move_while_moving_is_refused_with_moving(M):
    ax = M.AxisComponents(2)
    ax.SetMaxSpeed(100.0)
    ax.MoveRelative(50.0)
    assert str(ax.MoveAbsolute(0.0)) == "Moving"
    assert str(ax.MoveRelative(1.0)) == "Moving"
    ax.Stop()
    wait_rest(ax)


def test_servo_off_refuses_moves(M):
    ax = M.AxisComponents(7)
    assert str(ax.TurnOffServo()) == "None"
    assert not ax.IsServoOn() and str(ax.GetStatus()) == "ServoOff"
    assert str(ax.MoveAbsolute(10.0)) == "ServoOff"
    ax.TurnOnServo()
    assert str(ax.MoveAbsolute(10.0)) == "None"
    wait_rest(ax)


def test_limit_ends_the_move_on_the_limit(M):
    M.hardware.cfg.linear_limit  # default 5000 um
    ax = M.AxisComponents(8)
    ax.SetMaxSpeed(50000.0)
    assert str(ax.MoveAbsolute(6000.0)) == "None"
    wait_rest(ax)
    assert ax.GetActualPosition() == pytest.approx(5000.0)
    assert str(ax.GetStatus()) == "CwLimit" and ax.IsCwLimitSignalOn()
    assert str(ax.GetErrorCode()) == "Limit"
    assert str(ax.MoveRelative(1.0)) == "Limit"           # further into the limit: refused
    assert str(ax.MoveRelative(-10.0)) == "None"          # away from it: allowed
    wait_rest(ax)
    assert str(ax.GetStatus()) == "InPosition"


def test_servo_alarm_and_reset(M):
    ax = M.AxisComponents(4)
    M.hardware.inject_alarm(4)
    assert str(ax.GetStatus()) == "ServoAlarm" and str(ax.MoveRelative(0.1)) == "ServoAlarm"
    ax.ResetError()
    assert str(ax.GetStatus()) == "InPosition"


# --------------------------------------------------------------------------------------- alignment
def _flat(M, search_range=200.0):
    p = M.Alignment.FlatParameter()
    p.mainStageNumberX, p.mainStageNumberY, p.pmCh = 1, 2, 1
    p.fieldSearchThreshold, p.peakSearchThreshold = -40.0, -30.0
    p.searchRangeX = p.searchRangeY = search_range
    p.fieldSearchPitchX = p.fieldSearchPitchY = 5.0
    p.fieldSearchSpeedX = p.fieldSearchSpeedY = 4000.0
    p.peakSearchSpeedX = p.peakSearchSpeedY = 1000.0
    p.centroidThresholdX = p.centroidThresholdY = 50.0
    p.convergentRangeX = p.convergentRangeY = 0.2
    p.maxRepeatCount = 10
    return p


def test_flat_alignment_finds_the_hidden_peak(M):
    al = M.Alignment(1)
    assert str(al.SetFlat(_flat(M))) == "None"
    assert str(al.StartFlat()) == "None"
    assert str(al.GetStatus()) == "Aligning"
    phases = []
    while str(al.GetStatus()) == "Aligning":
        ph = str(al.GetAligningStatus())
        if not phases or phases[-1] != ph:
            phases.append(ph)
        time.sleep(0.005)
    assert str(al.GetStatus()) == "Success", al.GetErrorAxisID()
    assert phases[:4] == ["Initializing", "FieldSearching", "PeakSearchingX", "PeakSearchingY"]
    tx, ty, _ = M.hardware.true_peak("left")
    x, y = M.AxisComponents(1).GetActualPosition(), M.AxisComponents(2).GetActualPosition()
    assert math.hypot(x - tx, y - ty) < 0.3
    cfg = M.hardware.cfg                                   # 0 dBm at focus; Z is still defocused here
    assert al.GetPower(1) == pytest.approx(-10 * math.log10(1 + (cfg.peak_z / cfg.rayleigh) ** 2), abs=0.05)
    kinds = M.Alignment.ProfileDataType
    assert al.GetProfilePacketSumIndex(kinds.FieldSearch) >= 1
    pk = al.RequestProfileData(kinds.PeakSearchX, 1)
    assert pk.packetIndex == 1 and 0 < pk.dataCount <= 1000 and len(pk.mainPositionList) == pk.dataCount


def test_focus_alignment_finds_x_y_and_z(M):
    f = M.Alignment.FocusParameter()
    f.mainStageNumberX, f.mainStageNumberY, f.mainStageNumberZ, f.pmCh = 1, 2, 3, 1
    f.zMode = M.Alignment.ZMode.Round
    f.fieldSearchThreshold, f.peakSearchThresholdXY, f.peakSearchThresholdZ = -40.0, -30.0, -30.0
    for a in "XYZ":
        setattr(f, "searchRange" + a, 200.0)
        setattr(f, "fieldSearchPitch" + a, 5.0)
        setattr(f, "fieldSearchSpeed" + a, 4000.0)
        setattr(f, "peakSearchSpeed" + a, 2000.0)
        setattr(f, "convergentRange" + a, 0.3)
        setattr(f, "centroidThreshold" + a, 50.0)
    f.searchRangeZ, f.maxRepeatCount = 100.0, 10
    al = M.Alignment(1)
    assert str(al.SetFocus(f)) == "None" and str(al.StartFocus()) == "None"
    assert wait_not(al.GetStatus, "Aligning") == "Success"
    found = [M.AxisComponents(n).GetActualPosition() for n in (1, 2, 3)]
    true = M.hardware.true_peak("left")
    assert math.hypot(found[0] - true[0], found[1] - true[1]) < 0.5
    assert abs(found[2] - true[2]) < 2.0


def test_field_too_far_is_field_search_range_over(M):
    al = M.Alignment(1)
    al.SetFlat(_flat(M, search_range=30.0))                # peak at ~14.6 um, light only within ~10 um of it
    M.hardware.cfg.peak_x = 60.0
    al.StartFlat()
    assert wait_not(al.GetStatus, "Aligning") == "FieldSearchRangeOver"
    assert al.GetErrorAxisID() in (1, 2)
    assert str(al.GetAligningStatus()) == "NotAligning"


def test_alignment_on_a_servo_off_axis_is_servo_is_not_ready(M):
    M.AxisComponents(2).TurnOffServo()
    al = M.Alignment(1)
    al.SetFlat(_flat(M))
    al.StartFlat()
    assert wait_not(al.GetStatus, "Aligning") == "ServoIsNotReady"
    assert al.GetErrorAxisID() == 2


def test_alignment_stop_leaves_the_axes_at_rest(M):
    al = M.Alignment(1)
    al.SetFlat(_flat(M))
    M.hardware.cfg.peak_x = 80.0                           # a long field search
    al.StartFlat()
    wait_until(lambda: str(al.GetAligningStatus()) == "FieldSearching", timeout=5, interval=0.005)
    assert str(al.StartFlat()) == "Aligning"               # busy
    al.Stop()
    assert wait_not(al.GetStatus, "Aligning") == "Stopping"
    assert not M.AxisComponents(1).IsMoving() and not M.AxisComponents(2).IsMoving()


# -------------------------------------------------------------------------------- angle adjustment
def _angle(M, contact_range=100.0):
    p = M.AngleAdjustment.AngleAdjustmentParameter()
    p.contactAxisNumber, p.angleAxisNumberTx, p.angleAxisNumberTy, p.signalChNumber = 3, 4, 5, 5
    p.signalLowerLimit, p.contactSearchRange, p.contactSearchSpeed = 0.05, contact_range, 400.0
    p.pushDistance, p.gap = 5.0, 2.0
    p.angleSearchRangeTx = p.angleSearchRangeTy = 1.0
    p.angleSearchSpeedTx = p.angleSearchSpeedTy = 4.0
    p.angleConvergentRangeTx = p.angleConvergentRangeTy = 0.01
    p.angleMaxCount = 5
    return p


def test_angle_adjustment_makes_contact_and_finds_the_tilt(M):
    aa = M.AngleAdjustment(1)
    assert str(aa.SetParameter(_angle(M))) == "None" and str(aa.Start()) == "None"
    phases = []
    while str(aa.GetStatus()) == "Adjusting":
        ph = str(aa.GetAdjustingStatus())
        if not phases or phases[-1] != ph:
            phases.append(ph)
        time.sleep(0.005)
    assert str(aa.GetStatus()) == "Success"
    assert phases[:4] == ["Initializing", "ContactingZ", "AdjustingTx", "AdjustingTy"]
    cfg = M.hardware.cfg
    assert M.AxisComponents(4).GetActualPosition() == pytest.approx(cfg.tilt_tx, abs=0.01)
    assert M.AxisComponents(5).GetActualPosition() == pytest.approx(cfg.tilt_ty, abs=0.01)
    assert M.AxisComponents(3).GetActualPosition() == pytest.approx(cfg.contact_z - 2.0, abs=0.5)
    assert aa.GetProfilePacketSumIndex(M.AngleAdjustment.ProfileDataType.AdjustmentTx) >= 1


def test_no_surface_within_range_is_couldnot_contact(M):
    aa = M.AngleAdjustment(1)
    aa.SetParameter(_angle(M, contact_range=20.0))
    aa.Start()
    assert wait_not(aa.GetStatus, "Adjusting") == "CouldnotContact"
    assert aa.GetErrorAxisID() == 3


# ---------------------------------------------------------------------------------------- profile
def test_profile_comes_in_packets_of_at_most_1000_points(M):
    M.hardware.cfg.sample_rate = 5000.0
    pr = M.Profile()
    q = M.Profile.ProfileParameter()
    q.mainAxisNumber, q.signalCh1Number, q.mainRange, q.speed = 1, 1, 60.0, 200.0
    assert str(pr.SetProfile(q)) == "None" and str(pr.Start()) == "None"
    assert str(pr.GetProfileStatus()) == "Profiling"
    assert wait_not(pr.GetProfileStatus, "Profiling") == "Success"
    n = pr.GetProfilePacketSumIndex()
    packets = [pr.RequestProfileData(i) for i in range(1, n + 1)]
    assert n >= 2 and all(0 < p.dataCount <= 1000 for p in packets)
    xs = [x for p in packets for x in p.mainPositionList]
    assert xs[0] == pytest.approx(-30.0) and xs[-1] == pytest.approx(30.0)
    sig = [s for p in packets for s in p.signalCh1List]
    assert xs[sig.index(max(sig))] == pytest.approx(M.hardware.cfg.peak_x, abs=0.5)
    assert M.AxisComponents(1).GetActualPosition() == pytest.approx(0.0)   # back where it started
