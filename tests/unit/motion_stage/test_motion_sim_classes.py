"""Simulator classes behind the daemon-compatible API: Axis2D, Axis3D, IO, PowerMeter."""

from __future__ import annotations

import math

import pytest

from services.motion_stage import simulator as S
from services.motion_stage.simulator import SimConfig
from tests.support import wait_until


@pytest.fixture
def M():
    ns = S.create(SimConfig(servo_on=True, connect_delay=0.0, linear_accel=20000.0, peak_x=3.0, peak_y=-2.0))
    ns.System.Instance.SetAddress("1.2.3.4.1.1")
    return ns


def test_axis2d_moves_along_a_straight_line_in_real_time(M):
    line = M.Axis2D(1, 2)
    assert list(line.GetAxisNumber()) == [1, 2]
    assert str(line.SetSpeed(400.0)) == "None"
    assert str(line.MoveAbsolute(60.0, 80.0)) == "None"
    assert str(line.MoveAbsolute(1.0, 1.0)) == "Moving"          # command rejected while moving
    samples = []
    wait_until(lambda: samples.append(line.GetActualPosition()) or not line.IsMoving(), timeout=5, interval=0.005)
    mids = [(p.X, p.Y) for p in samples if 1 < p.X < 59]
    assert len(mids) >= 3                                          # it took time: 100 um at 400 um/s
    for x, y in mids:
        assert y == pytest.approx(x * 80 / 60, abs=1e-6)           # on the line at every instant
    end = line.GetActualPosition()
    assert (end.X, end.Y) == (pytest.approx(60.0), pytest.approx(80.0))
    assert str(line.GetStatus()) == "InPosition"


def test_axis2d_stop_ends_on_the_line_and_relative_point_moves(M):
    line = M.Axis2D(7, 8)
    line.SetSpeed(100.0)
    p = line.Point()
    p.X, p.Y = 300.0, -150.0
    assert str(line.MoveRelative(p)) == "None"
    wait_until(lambda: line.GetActualPosition().X > 5, timeout=5, interval=0.005)
    assert str(line.Stop()) == "None"
    wait_until(lambda: not line.IsMoving(), timeout=5, interval=0.005)
    end = line.GetActualPosition()
    assert 5 < end.X < 300 and end.Y == pytest.approx(-end.X / 2, abs=1e-6)


def test_axis2d_refuses_servo_off_and_limits(M):
    M.AxisComponents(2).TurnOffServo()
    line = M.Axis2D(1, 2)
    assert str(line.MoveAbsolute(1.0, 1.0)) == "ServoOff"
    assert str(line.GetStatus()) == "ServoOff"
    M.AxisComponents(2).TurnOnServo()
    assert str(line.MoveAbsolute(1e4, 0.0)) == "Limit"              # beyond the soft limit: not started
    assert not line.IsMoving()
    with pytest.raises(TypeError):
        M.Axis2D(1.0, 2)


def test_axis3d_absolute_relative_and_stop(M):
    xyz = M.Axis3D(7, 8, 9)
    xyz.SetSpeed(1000.0)
    assert str(xyz.SetRotationCenter(1.0, 2.0, 0.0)) == "None"
    assert str(xyz.MoveAbsolute(10.0, -20.0, 30.0)) == "None"
    wait_until(lambda: not xyz.IsMoving(), timeout=5, interval=0.005)
    p = xyz.GetActualPosition()
    assert (p.X, p.Y, p.Z) == (pytest.approx(10.0), pytest.approx(-20.0), pytest.approx(30.0))
    d = xyz.Point3D()
    d.X, d.Y, d.Z = -10.0, 20.0, -30.0
    assert str(xyz.MoveRelative(d, 2, 0, 0)) == "None"              # with a digital output during the move
    assert M.IO().GetPortState(M.IO.DigitalIOType.Output, 2) is True
    wait_until(lambda: not xyz.IsMoving(), timeout=5, interval=0.005)
    t = xyz.GetTargetPosition()
    assert (t.X, t.Y, t.Z) == (pytest.approx(0.0), pytest.approx(0.0), pytest.approx(0.0))


def test_io_state_lives_in_the_controller(M):
    a, b = M.IO(), M.IO()
    a.SetPortState(1, True)
    assert b.GetPortState(M.IO.DigitalIOType.Output, 1) is True    # another instance sees the same port
    assert b.GetPortState(M.IO.DigitalIOType.Output, 2) is False
    a.SetAnalogValue(1, 2.5)
    assert b.GetAnalogValue(M.IO.AnalogIOType.Output, 1) == 2.5
    assert b.GetAnalogValue(M.IO.AnalogIOType.Input, 5) == 0.0      # contact sensor, nothing touching


def test_power_meter_reads_the_beam_at_the_current_position(M):
    pm = M.PowerMeter()
    far = pm.GetPower(1)
    ax = M.AxisComponents(1)
    ax.MoveAbsolute(3.0)
    wait_until(lambda: not ax.IsMoving(), timeout=5, interval=0.005)
    M.AxisComponents(2).MoveAbsolute(-2.0)
    wait_until(lambda: not M.AxisComponents(2).IsMoving(), timeout=5, interval=0.005)
    near = pm.GetPower(1)
    assert near > far + 3 and near > -1.0                           # on the X/Y peak (Z off focus)
    assert str(pm.GetRange(1)) == "Auto"
    assert str(pm.SetRange(1, M.PowerMeter.AllowedRange.Minus20)) == "None"
    assert str(pm.GetRange(1)) == "Minus20" and pm.GetPower(1) <= -17.0   # saturates at the range's top
    assert str(pm.SetWaveLength(2, 1550.0)) == "None" and pm.GetWavelength(2) == 1550.0
    assert str(pm.SetRange(3, M.PowerMeter.AllowedRange.Auto)) == "ChannelOutOfRange"
    assert math.isnan(pm.GetPower(3))
