"""One controller interface over the vendor API, for both backends.

`load_motion(settings)` returns a `SurugaSeiki.Motion`-shaped namespace: the pure-Python simulator, or
the real assembly loaded through pythonnet. `StageController` drives either one with the same code,
because both expose the same names: it compares enums by `str()` (the vendor's spelling), passes ints to
`uint16` fields and floats to `double` ones, and never relies on .NET raising.

Every long operation is a polling loop run in the caller's (task) thread:

    while True:
        if cancel.is_set():          # FIRST: a stop request wins over everything
            vendor.Stop()
            poll until the hardware reports it has stopped
            raise Cancelled(how far it got)
        read status/position (methods: pythonnet releases the GIL for them), report progress
        if finished: break
        cancel.wait(poll_interval)   # wakes at once on a stop request

.NET properties (`System.Connected`, ...) hold the GIL in pythonnet, so they are read only while
connecting, never inside these loops.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings import MotionSettings

logger = logging.getLogger(__name__)

AXES = range(1, 13)
AXIS_NAMES = {1: "X1", 2: "Y1", 3: "Z1", 4: "Tx1", 5: "Ty1", 6: "Tz1",
              7: "X2", 8: "Y2", 9: "Z2", 10: "Tx2", 11: "Ty2", 12: "Tz2"}
Progress = Callable[..., None]   # progress(percent, **details)


@dataclass(frozen=True)
class StageMap:
    """Hardware wiring of one stage of the EW51 (left = axes 1-6, right = 7-12)."""

    name: str
    id: int                 # Alignment / AngleAdjustment instance id
    x: int
    y: int
    z: int
    tx: int
    ty: int
    contact_signal_ch: int  # analog input of the contact sensor
    unlock_dout_ch: int

    @property
    def axes(self) -> range:
        return range(self.x, self.x + 6)


STAGES = {"left": StageMap("left", 1, 1, 2, 3, 4, 5, 5, 1), "right": StageMap("right", 2, 7, 8, 9, 10, 11, 6, 2)}


def stage_of(axis: int) -> str:
    return "left" if axis <= 6 else "right"


class VendorError(RuntimeError):
    """The controller refused a command or an operation ended with an error status.

    The message names the vendor's own status/code spelling (e.g. `ServoOff`, `FieldSearchRangeOver`).
    """

    def __init__(self, operation: str, status: str, axis: int | None = None, detail: str = "") -> None:
        self.operation, self.status, self.axis = operation, status, axis
        where = f" on axis {axis} ({AXIS_NAMES.get(axis, '?')})" if axis else ""
        super().__init__(f"{operation} failed{where}: vendor status {status}" + (f" ({detail})" if detail else ""))


class Cancelled(Exception):
    """The operation was stopped on request; the hardware has come to rest. `info` says where."""

    def __init__(self, message: str, info: dict[str, Any]) -> None:
        super().__init__(message)
        self.info = info


@dataclass
class Trace:
    """Scan data joined from the vendor's packets (each at most 1,000 points)."""

    main_axis: int = 0
    sub_axis: int = 0
    packets: int = 0
    main: list[float] = field(default_factory=list)
    sub: list[float] = field(default_factory=list)
    signal: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.main)


# --------------------------------------------------------------------------------------- backends
def load_motion(settings: MotionSettings) -> Any:
    """The `SurugaSeiki.Motion` namespace of the configured backend."""
    if settings.backend == "simulator":
        from . import simulator
        return simulator.create(settings.sim)
    return load_dotnet(settings)


_dotnet_lock = threading.Lock()


def load_dotnet(settings: MotionSettings) -> Any:
    """Load the .NET runtime once per process, add the assembly, import its namespace."""
    with _dotnet_lock:
        import pythonnet  # optional dependency: only the dotnet backend needs it

        if settings.runtime == "coreclr":
            if settings.dotnet_root:
                os.environ["DOTNET_ROOT"] = settings.dotnet_root  # clr_loader ignores dotnet_root= (see notes)
            os.environ.setdefault("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        pythonnet.load(settings.runtime)  # a no-op when already loaded; one runtime per process
        import clr  # noqa: F401  (pythonnet's import hook)

        path = Path(settings.dll_path)
        clr.AddReference(str(path.resolve()) if path.suffix.lower() == ".dll" and path.exists() else settings.dll_path)
        return importlib.import_module(settings.namespace)


def _name(value: Any) -> str:
    """Vendor enum -> its member name (pythonnet and the simulator both give the .NET spelling)."""
    return str(value)


# ------------------------------------------------------------------------------------ the controller
_INT_FIELDS = ("StageNumber", "pmCh", "analogCh", "Count", "smoothing", "Smoothing", "AxisNumber", "ChNumber",
               "Sensitivity", "pmInitRange", "signalCh")


class StageController:
    """What the service needs from the motion controller, on either backend. Thread-safe."""

    def __init__(self, motion: Any, settings: MotionSettings) -> None:
        self.motion = motion
        self.settings = settings
        self.poll = settings.poll_interval
        self._lock = threading.Lock()
        self._axes: dict[int, Any] = {}
        self._alignments: dict[int, Any] = {}
        self._angles: dict[int, Any] = {}
        self._profile: Any = None
        self.system: Any = None
        self.info: dict[str, Any] = {}
        self.connected = False   # tracked here: the .NET `Connected` property holds the GIL (see above)
        self._io: Any = None
        self._pm: Any = None

    # -- connection
    def connect(self, address: str | None = None) -> dict[str, Any]:
        M = self.motion
        if address:
            self.settings.address = address
        self.system = M.System.Instance
        self.system.SetAddress(self.settings.address)
        deadline = time.monotonic() + self.settings.connect_timeout
        while not self.system.Connected:  # a property: read here, never inside a task's poll loop
            if time.monotonic() > deadline:
                raise VendorError("Connect", "NotConnected", detail=f"no answer from {self.settings.address}")
            time.sleep(0.05)
        for n in AXES:
            self._axes[n] = M.AxisComponents(n)
        if self.settings.servo_on_at_connect:
            for n, ax in self._axes.items():
                if not ax.IsServoOn():
                    err = _name(ax.TurnOnServo())
                    if err != "None":
                        logger.warning("axis %s: TurnOnServo -> %s", n, err)
        self._io, self._pm = M.IO(), M.PowerMeter()
        self.info = {"backend": self.settings.backend, "dll_version": str(self.system.DllVersion),
                     "system_version": str(self.system.SystemVersion), "address": self.settings.address}
        self.connected = True
        return self.info

    def close(self) -> None:
        """Stop everything, then drop the ADS connection (hardware routes answer 503 until reconnected)."""
        try:
            if self.connected:
                self.stop_all()
        finally:
            self.connected = False
            if self.system is not None:
                self.system.DisconnectAds()

    def system_status(self) -> dict[str, Any]:
        """Connection, versions, controller error and the emergency-stop input."""
        if self.system is None or not self.connected:
            return {"is_connected": False, "dll_version": None, "system_version": None, "is_error": False,
                    "is_emergency_asserted": None, "error_message": ""}
        is_error = bool(self.system.IsError())
        return {"is_connected": True, "dll_version": str(self.system.DllVersion),
                "system_version": str(self.system.SystemVersion), "is_error": is_error,
                "is_emergency_asserted": bool(self.system.IsEmergencyAsserted()),   # a method, not a property
                "error_message": _name(self.system.GetCurrentErrorCode()) if is_error else ""}

    def axis(self, n: int) -> Any:
        if n not in self._axes:
            raise VendorError("Axis", "Parameter", n, "axis numbers are 1..12")
        return self._axes[n]

    def alignment(self, stage: str) -> Any:
        sid = STAGES[stage].id
        with self._lock:   # the DLL numbers instances as they are made: make one per stage, reuse it
            if sid not in self._alignments:
                self._alignments[sid] = self.motion.Alignment(sid)
            return self._alignments[sid]

    def angle_adjustment(self, stage: str) -> Any:
        sid = STAGES[stage].id
        with self._lock:
            if sid not in self._angles:
                self._angles[sid] = self.motion.AngleAdjustment(sid)
            return self._angles[sid]

    def profile(self) -> Any:
        with self._lock:
            if self._profile is None:
                self._profile = self.motion.Profile()
            return self._profile

    # -- quick queries and commands
    def positions(self) -> dict[str, float]:
        return {str(n): ax.GetActualPosition() for n, ax in self._axes.items()}

    def axis_state(self, n: int) -> dict[str, Any]:
        ax = self.axis(n)
        err = ax.GetErrorCode()
        return {"axis": n, "name": AXIS_NAMES[n], "position": ax.GetActualPosition(),
                "target_position": ax.GetTargetPosition(), "status": _name(ax.GetStatus()),
                "error_code": _name(err), "error_value": int(err), "moving": bool(ax.IsMoving()),
                "servo_on": bool(ax.IsServoOn()), "servo_alarm": bool(ax.IsServoAlarm())}

    def set_servo(self, n: int, on: bool) -> dict[str, Any]:
        ax = self.axis(n)
        err = _name(ax.TurnOnServo() if on else ax.TurnOffServo())
        if err != "None":
            raise VendorError("TurnOnServo" if on else "TurnOffServo", err, n)
        return self.axis_state(n)

    def reset_error(self, n: int) -> dict[str, Any]:
        err = _name(self.axis(n).ResetError())
        if err != "None":
            raise VendorError("ResetError", err, n)
        return self.axis_state(n)

    def stop_axis(self, n: int) -> dict[str, Any]:
        err = _name(self.axis(n).Stop())
        return {"success": err == "None", "axis": n, "error_code": err}

    def stop_procedure(self, stage: str, procedure: str) -> dict[str, Any]:
        obj = {"alignment": self.alignment, "angle_adjustment": self.angle_adjustment}.get(procedure)
        target = obj(stage) if obj else self.profile()
        return {"success": _name(target.Stop()) == "None", "stage": stage, "procedure": procedure}

    def set_servos(self, axes: list[int], on: bool) -> dict[str, Any]:
        """Servo on/off for several axes at once; `failed` maps axis -> vendor error code."""
        failed = {}
        for n in axes:
            ax = self.axis(n)
            err = _name(ax.TurnOnServo() if on else ax.TurnOffServo())
            if err != "None":
                failed[n] = err
        return {"success": not failed, "axes": list(axes), "failed": failed}

    def wait_ready(self, axes: list[int], timeout: float, cancel: threading.Event | None = None) -> dict[str, Any]:
        """Poll until every axis reports InPosition (servo on, at rest), or `timeout` seconds."""
        objs = {n: self.axis(n) for n in axes}
        deadline = time.monotonic() + timeout
        while True:
            status = {n: _name(ax.GetStatus()) for n, ax in objs.items()}
            waiting = [n for n, st in status.items() if st != "InPosition"]
            if not waiting or time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
                return {"success": not waiting, "axes": list(axes), "not_ready": {n: status[n] for n in waiting}}
            time.sleep(self.poll)

    def digital_output(self, channel: int, value: bool | None = None) -> bool:
        """Set (when `value` is given) and read back a digital output port."""
        if value is not None:
            self._io.SetPortState(int(channel), bool(value))
        return bool(self._io.GetPortState(self.motion.IO.DigitalIOType.Output, int(channel)))

    def digital_outputs(self, channels: range) -> dict[str, bool]:
        kind = self.motion.IO.DigitalIOType.Output
        return {str(ch): bool(self._io.GetPortState(kind, ch)) for ch in channels}

    def analog_input(self, channel: int) -> float:
        return float(self._io.GetAnalogValue(self.motion.IO.AnalogIOType.Input, int(channel)))

    def power(self, channel: int, *, range_name: str | None = None, wavelength: float | None = None) -> dict[str, Any]:
        """Read the power meter (dBm), first applying a range (`Minus60`..`Plus20`, `Auto`) or wavelength."""
        pm = self._pm
        if range_name is not None:
            err = _name(pm.SetRange(int(channel), getattr(self.motion.PowerMeter.AllowedRange, range_name)))
            if err != "None":
                raise VendorError("PowerMeter.SetRange", err, detail=f"channel {channel}")
        if wavelength is not None:
            err = _name(pm.SetWaveLength(int(channel), float(wavelength)))
            if err != "None":
                raise VendorError("PowerMeter.SetWaveLength", err, detail=f"channel {channel}")
        return {"channel": channel, "value_dbm": float(pm.GetPower(int(channel))),
                "range": _name(pm.GetRange(int(channel))), "wavelength_nm": float(pm.GetWavelength(int(channel)))}

    def stop_all(self, wait: bool = True) -> dict[str, Any]:
        """Stop every procedure and axis; with `wait`, until the hardware reports rest."""
        for obj in [*self._alignments.values(), *self._angles.values(), self._profile]:
            if obj is not None:
                obj.Stop()
        for ax in self._axes.values():
            ax.Stop()
        still = []
        if wait:
            deadline = time.monotonic() + self.settings.stop_timeout
            while True:
                still = [n for n, ax in self._axes.items() if ax.IsMoving()]
                busy = [o for o in (*self._alignments.values(), *self._angles.values())
                        if _name(o.GetStatus()) in ("Aligning", "Adjusting")]
                if self._profile is not None and _name(self._profile.GetProfileStatus()) == "Profiling":
                    busy.append(self._profile)
                if (not still and not busy) or time.monotonic() > deadline:
                    break
                time.sleep(self.poll)
        return {"stopped": True, "still_moving": still, "positions": self.positions()}

    # -- moves
    def move(self, axis: int, *, speed: float, target: float | None = None, distance: float | None = None,
             cancel: threading.Event, progress: Progress, paused: Callable[[], bool] | None = None,
             wait_resume: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Move one axis (absolute `target` or relative `distance`) and wait for InPosition.

        With `paused` (and `wait_resume`, which blocks until resumed and says whether a stop came
        instead): while a pause is asked the axis is stopped and held at rest, then the move goes on
        toward the same target. The vendor API has no pause; Stop and a new MoveAbsolute are its
        faithful equivalent."""
        ax = self.axis(axis)
        op = "MoveAbsolute" if target is not None else "MoveRelative"
        err = _name(ax.SetMaxSpeed(float(speed)))
        if err != "None":
            raise VendorError("SetMaxSpeed", err, axis)
        start = ax.GetActualPosition()
        goal = float(target) if target is not None else start + float(distance or 0.0)
        err = _name(ax.MoveAbsolute(goal) if target is not None else ax.MoveRelative(float(distance or 0.0)))
        if err != "None":
            raise VendorError(op, err, axis)
        t0 = t_cmd = time.monotonic()
        span = abs(goal - start)

        def report(pos: float, message: str, percent: float | None = None) -> dict[str, Any]:
            if percent is None:
                percent = 100.0 if span == 0 else min(100.0, 100.0 * abs(pos - start) / span)
            details = {"axis": axis, "start_position": start, "current_position": pos, "target_position": goal,
                       "travelled": abs(pos - start), "progress_percent": round(percent, 2),
                       "elapsed_time": round(time.monotonic() - t0, 3), "message": message}
            progress(percent, **details)
            return details

        while True:
            if cancel.is_set():
                ax.Stop()
                pos = self._wait_axis_rest(ax)
                info = report(pos, f"Cancelled: axis {axis} stopped at {pos:.3f} after travelling "
                                   f"{abs(pos - start):.3f} of {span:.3f}")
                info["status"] = _name(ax.GetStatus())
                raise Cancelled(info["message"], info)
            if paused is not None and wait_resume is not None and paused():
                ax.Stop()
                pos = self._wait_axis_rest(ax)
                report(pos, f"Paused: axis {axis} held at {pos:.3f}, {abs(goal - pos):.3f} from the target")
                if wait_resume():
                    continue  # stopped while paused: the cancel branch above reports it
                err = _name(ax.MoveAbsolute(goal))
                if err != "None":
                    raise VendorError("MoveAbsolute", err, axis, "resuming toward the target")
                t_cmd = time.monotonic()
                report(ax.GetActualPosition(), "Movement resumed")
                continue
            moving = ax.IsMoving()
            pos = ax.GetActualPosition()
            if not moving:
                # a real controller may take a cycle to report Moving after the command
                if abs(pos - goal) <= 1e-3 or time.monotonic() - t_cmd > 4 * self.poll + 0.05 or \
                        _name(ax.GetStatus()) != "InPosition":
                    break
            else:
                report(pos, "Movement in progress")
            cancel.wait(self.poll)
        status = _name(ax.GetStatus())
        if status != "InPosition":
            code = _name(ax.GetErrorCode())
            raise VendorError(op, status, axis, f"error code {code}, stopped at {pos:.3f}")
        if abs(pos - goal) > max(1e-3, 1e-6 * abs(goal)):
            raise VendorError(op, status, axis, f"stopped at {pos:.3f} before reaching {goal:.3f} (Stop from elsewhere)")
        done = report(pos, "Movement complete", 100.0)
        return {**done, "success": True, "initial_position": start, "final_position": pos,
                "execution_time": done["elapsed_time"]}

    def move_line(self, axes: list[int], *, speed: float, target: list[float] | None = None,
                  distance: list[float] | None = None, rotation_center: tuple[float, float, float] | None = None,
                  cancel: threading.Event, progress: Progress) -> dict[str, Any]:
        """Interpolated move of 2 (Axis2D) or 3 (Axis3D) axes along a straight line, absolute or relative."""
        M = self.motion
        objs = [self.axis(n) for n in axes]
        op = f"Move{len(axes)}D"
        line = M.Axis2D(*axes) if len(axes) == 2 else M.Axis3D(*axes)
        for setter, value in (("SetSpeed", speed),):
            err = _name(getattr(line, setter)(float(value)))
            if err != "None":
                raise VendorError(f"{op}.{setter}", err)
        if rotation_center is not None and len(axes) == 3:
            line.SetRotationCenter(*map(float, rotation_center))
        start = [ax.GetActualPosition() for ax in objs]
        goal = [float(v) for v in target] if target is not None else \
            [p + float(d) for p, d in zip(start, distance or [0.0] * len(axes))]
        err = _name(line.MoveAbsolute(*goal) if target is not None else line.MoveRelative(*map(float, distance or [])))
        if err != "None":
            raise VendorError(op, err, axes[0], f"axes {axes}")
        t0 = time.monotonic()
        span = math.dist(start, goal)

        def report(pos: list[float], message: str, percent: float | None = None) -> dict[str, Any]:
            done = math.dist(start, pos)
            if percent is None:
                percent = 100.0 if span == 0 else min(100.0, 100.0 * done / span)
            details = {"axes": list(axes), "start_position": start, "current_position": pos,
                       "target_position": goal, "travelled": done, "progress_percent": round(percent, 2),
                       "elapsed_time": round(time.monotonic() - t0, 3), "message": message}
            progress(percent, **details)
            return details

        while True:
            if cancel.is_set():
                line.Stop()
                pos = [self._wait_axis_rest(ax) for ax in objs]
                info = report(pos, f"Cancelled: axes {axes} stopped after travelling {math.dist(start, pos):.3f} "
                                   f"of {span:.3f}")
                raise Cancelled(info["message"], info)
            moving = any(ax.IsMoving() for ax in objs)
            pos = [ax.GetActualPosition() for ax in objs]
            if not moving and (math.dist(pos, goal) <= 1e-3 or time.monotonic() - t0 > 4 * self.poll + 0.05):
                break
            if moving:
                report(pos, "Movement in progress")
            cancel.wait(self.poll)
        for n, ax in zip(axes, objs):
            status = _name(ax.GetStatus())
            if status != "InPosition":
                raise VendorError(op, status, n, f"error code {_name(ax.GetErrorCode())}")
        if math.dist(pos, goal) > 1e-3 * len(axes):
            raise VendorError(op, "InPosition", axes[0], f"stopped at {pos} before reaching {goal} (Stop from elsewhere)")
        done = report(pos, "Movement complete", 100.0)
        return {**done, "success": True, "initial_position": start, "final_position": pos,
                "execution_time": done["elapsed_time"]}

    def _wait_axis_rest(self, ax: Any) -> float:
        """After Stop(): poll until the axis reports it is no longer moving (Stopping -> InPosition)."""
        deadline = time.monotonic() + self.settings.stop_timeout
        while ax.IsMoving() and time.monotonic() < deadline:
            time.sleep(self.poll)
        return ax.GetActualPosition()

    # -- controller-side procedures (alignment, angle adjustment, profile)
    def _fill(self, struct: Any, values: dict[str, Any]) -> Any:
        """Set struct fields with the right .NET types; unknown names raise (pythonnet would drop them)."""
        for key, value in values.items():
            if not hasattr(struct, key):
                raise VendorError("SetParameter", "InvalidParameter", detail=f"unknown field {key}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                setattr(struct, key, value)
            elif any(tag in key for tag in _INT_FIELDS):
                setattr(struct, key, int(value))
            else:
                setattr(struct, key, float(value))
        return struct

    def _poll_procedure(self, *, op: str, obj: Any, status_fn: Callable[[], Any], busy: str,
                        phase_fn: Callable[[], Any] | None, progress_map: dict[str, float],
                        cancel: threading.Event, progress: Progress, watch_axes: list[int],
                        extra: Callable[[], dict[str, Any]] | None = None) -> str:
        """Poll a started procedure until it leaves `busy`; return the final status name."""
        t0 = time.monotonic()
        best = 0.0
        last_phase = None
        while True:
            if cancel.is_set():
                obj.Stop()
                deadline = time.monotonic() + self.settings.stop_timeout
                while _name(status_fn()) == busy and time.monotonic() < deadline:
                    time.sleep(self.poll)
                for n in watch_axes:   # the procedure's own axes must be at rest too
                    self._wait_axis_rest(self.axis(n))
                info = {"phase": last_phase or "NotStarted", "status": _name(status_fn()),
                        "positions": {str(n): self.axis(n).GetActualPosition() for n in watch_axes},
                        "elapsed_time": round(time.monotonic() - t0, 3),
                        "message": f"{op} cancelled during {last_phase}; axes stopped"}
                progress(best, **info)
                raise Cancelled(info["message"], info)
            status = _name(status_fn())
            phase = _name(phase_fn()) if phase_fn else busy
            if status == busy:
                last_phase = phase
                best = max(best, progress_map.get(phase, best))
                details = {"phase": phase, "phase_description": _describe(phase), "progress_percent": best,
                           "elapsed_time": round(time.monotonic() - t0, 3), "message": f"Phase: {phase}",
                           "positions": {str(n): self.axis(n).GetActualPosition() for n in watch_axes}}
                if extra:
                    details.update(extra())
                progress(best, **details)
            elif status != "Stopping" or time.monotonic() - t0 > 0.3:   # allow the controller to start
                return status
            cancel.wait(self.poll)

    @staticmethod
    def _read_packets(count: int, request: Callable[[int], Any]) -> Trace:
        trace = Trace()
        for i in range(1, count + 1):   # packets are 1-based, at most 1,000 points each
            pk = request(i)
            n = int(pk.dataCount)
            trace.main_axis, trace.sub_axis = int(pk.mainAxisNumber), int(pk.sub1AxisNumber)
            trace.main += list(pk.mainPositionList)[:n]
            sub = list(pk.sub1PositionList)[:n]
            trace.sub += sub if len(sub) == n else [math.nan] * n
            trace.signal += list(pk.signalCh1List)[:n]
            trace.packets += 1
        return trace

    def align(self, focus: bool, stage: str, values: dict[str, Any], *, cancel: threading.Event,
              progress: Progress, wavelength: float | None = None) -> dict[str, Any]:
        """Flat (X, Y) or focus (X, Y, Z) alignment of `stage`; returns power, positions and scan traces."""
        M, st = self.motion, STAGES[stage]
        al = self.alignment(stage)
        op = "FocusAlignment" if focus else "FlatAlignment"
        p = M.Alignment.FocusParameter() if focus else M.Alignment.FlatParameter()
        base = {"mainStageNumberX": st.x, "mainStageNumberY": st.y}
        if focus:
            base["mainStageNumberZ"] = st.z
            p.zMode = M.Alignment.ZMode.Round
        self._fill(p, {**base, **values})
        pm_ch = int(values.get("pmCh", 1))
        err = _name(al.SetFocus(p) if focus else al.SetFlat(p))
        if err != "None":
            raise VendorError(f"Set{'Focus' if focus else 'Flat'}", err)
        al.SetMeasurementWaveLength(pm_ch, float(wavelength or self.settings.wavelength_nm))
        err = _name(al.StartFocus() if focus else al.StartFlat())
        if err != "None":
            raise VendorError(f"Start{'Focus' if focus else 'Flat'}", err)
        axes = [st.x, st.y] + ([st.z] if focus else [])
        pmap = {"Initializing": 5.0, "FieldSearching": 15.0, "PeakSearchingX": 45.0, "PeakSearchingY": 65.0,
                "PeakSearchingZ": 85.0}
        status = self._poll_procedure(op=op, obj=al, status_fn=al.GetStatus, busy="Aligning",
                                      phase_fn=al.GetAligningStatus, progress_map=pmap, cancel=cancel,
                                      progress=progress, watch_axes=axes,
                                      extra=lambda: {"power_dbm": al.GetPower(pm_ch)})
        if status != "Success":
            axis = int(al.GetErrorAxisID()) or None
            raise VendorError(op, status, axis)
        kinds = ["FieldSearch", "PeakSearchX", "PeakSearchY"] + (["PeakSearchZ"] if focus else [])
        traces = {}
        for kind in kinds:
            t = getattr(M.Alignment.ProfileDataType, kind)
            traces[kind] = self._read_packets(int(al.GetProfilePacketSumIndex(t)),
                                              lambda i, t=t: al.RequestProfileData(t, i))
        return {"status": status, "peak_power_dbm": al.GetPower(pm_ch),
                "final_positions": {AXIS_NAMES[n]: self.axis(n).GetActualPosition() for n in axes},
                "traces": traces}

    def adjust_angle(self, stage: str, values: dict[str, Any], *, cancel: threading.Event,
                     progress: Progress) -> dict[str, Any]:
        M, st = self.motion, STAGES[stage]
        aa = self.angle_adjustment(stage)
        p = M.AngleAdjustment.AngleAdjustmentParameter()
        self._fill(p, {"contactAxisNumber": st.z, "angleAxisNumberTx": st.tx, "angleAxisNumberTy": st.ty,
                       "signalChNumber": st.contact_signal_ch, "unlockDOutChNumber": st.unlock_dout_ch, **values})
        err = _name(aa.SetParameter(p))
        if err != "None":
            raise VendorError("AngleAdjustment.SetParameter", err)
        err = _name(aa.Start())
        if err != "None":
            raise VendorError("AngleAdjustment.Start", err)
        pmap = {"NotAdjusting": 0.0, "Initializing": 20.0, "ContactingZ": 40.0, "AdjustingTx": 60.0,
                "AdjustingTy": 80.0}
        axes = [st.z, st.tx, st.ty]
        status = self._poll_procedure(op="AngleAdjustment", obj=aa, status_fn=aa.GetStatus, busy="Adjusting",
                                      phase_fn=aa.GetAdjustingStatus, progress_map=pmap, cancel=cancel,
                                      progress=progress, watch_axes=axes)
        if status != "Success":
            raise VendorError("AngleAdjustment", status, int(aa.GetErrorAxisID()) or None)
        return {"status": status,
                "final_positions": {AXIS_NAMES[n]: self.axis(n).GetActualPosition() for n in axes}}

    def measure_profile(self, values: dict[str, Any], *, cancel: threading.Event,
                        progress: Progress) -> dict[str, Any]:
        M = self.motion
        pr = self.profile()
        p = self._fill(M.Profile.ProfileParameter(), values)
        err = _name(pr.SetProfile(p))
        if err != "None":
            raise VendorError("Profile.SetProfile", err, int(values.get("mainAxisNumber", 0)) or None)
        err = _name(pr.Start())
        if err != "None":
            raise VendorError("Profile.Start", err)
        main = int(values["mainAxisNumber"])
        t0 = time.monotonic()
        expected = 2 * float(values["mainRange"]) / float(values["speed"]) + 0.05   # out, scan, back

        status = self._poll_procedure(
            op="ProfileMeasurement", obj=pr, status_fn=pr.GetProfileStatus, busy="Profiling", phase_fn=None,
            progress_map={}, cancel=cancel, watch_axes=[main],
            progress=lambda percent, **d: progress(min(99.0, 100 * (time.monotonic() - t0) / expected), **d))
        if status != "Success":
            raise VendorError("ProfileMeasurement", status, main)
        trace = self._read_packets(int(pr.GetProfilePacketSumIndex()), pr.RequestProfileData)
        return {"status": status, "trace": trace}


_PHASES = {
    "Initializing": "Initializing the operation", "FieldSearching": "Searching the field for light",
    "PeakSearchingX": "Peak search along X", "PeakSearchingY": "Peak search along Y",
    "PeakSearchingZ": "Peak search along Z", "ContactingZ": "Moving Z into contact",
    "AdjustingTx": "Adjusting Tx axis", "AdjustingTy": "Adjusting Ty axis", "Profiling": "Scanning the axis",
}


def _describe(phase: str) -> str:
    return _PHASES.get(phase, phase)
