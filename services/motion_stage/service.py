"""Motion-stage service: a Suruga Seiki DA1000/DA1100 stage (or its simulator) behind the task template.

Long operations (moves, angle adjustment, flat/focus alignment, profile measurement) run as background
tasks, one per stage at a time (left = axes 1-6, right = 7-12): a second one on a busy stage answers 409
naming the running task, unless `SERVICE_METHOD_OPTIONS` sets `queue`. Stopping a task calls the vendor
`Stop()` and the task stays `stopping` until the hardware reports rest. Quick operations (positions, axis
states, servo, stop-all) answer inside execute.

The same operations are also served as the Suruga Seiki EW51 daemon's REST API (`/move/*`, `/servo/*`,
`/position/*`, `/alignment/*`, `/angle-adjustment/*`, `/profile/*`, `/io/*`, `/connection/*`, `/ws`; see
`rest/`): its tasks are tasks of this service, shown in the daemon's shape and spelling.

Run: `cd services/motion_stage && PORT=8081 python service.py` (simulator by default; `MOTION_BACKEND=dotnet`
with `MOTION_DLL_PATH` for the real controller; see README.md).
"""

from __future__ import annotations

import csv
import math
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

try:
    import taskservice  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from taskservice import DataReference, ExecuteRequest, Task, TaskCancelled, method, run, task_manager  # noqa: E402
from taskservice.data import file_reference  # noqa: E402

from services.motion_stage.controller import (AXIS_NAMES, STAGES, Cancelled, StageController,  # noqa: E402
                                              Trace, load_motion, stage_of)
from services.motion_stage.errors import ControllerUnavailable  # noqa: E402
from services.motion_stage.settings import MotionSettings  # noqa: E402

logger = logging.getLogger("motion_stage")

_controller: StageController | None = None
_controller_lock = threading.Lock()
_settings = MotionSettings()


def station() -> StageController:
    """The controller object, connected at first use; it stays the same object across disconnects."""
    global _controller
    with _controller_lock:
        if _controller is None:
            ctl = StageController(load_motion(_settings), _settings)
            ctl.connect()
            _controller = ctl
        return _controller


def controller() -> StageController:
    """The connected controller, or ControllerUnavailable when it was disconnected."""
    ctl = station()
    if not ctl.connected:
        raise ControllerUnavailable("motion controller is disconnected; POST /connection/connect first")
    return ctl


_WITHOUT_HARDWARE = frozenset({"Connect", "Disconnect", "ConnectionStatus"})


def admit(method_name: str) -> str | None:
    """Why /control/execute must answer 503 now: every hardware operation while disconnected."""
    ctl = _controller
    if method_name in _WITHOUT_HARDWARE or ctl is None or ctl.connected:
        return None
    return "motion controller is disconnected; POST /connection/connect or execute Connect first"


def health_details() -> dict[str, Any]:
    """What /health adds: whether the controller is connected, and the exclusivity rule in force."""
    ctl = _controller
    return {"controller_connected": bool(ctl is not None and ctl.connected), "exclusivity": _settings.exclusivity}


def extend_app(app: Any) -> None:
    """Serve the EW51 daemon's REST API and position stream beside /control."""
    from services.motion_stage.rest import mount
    mount(app)


def on_startup() -> None:
    info = controller().info
    logger.info("motion controller connected: %s", info)


def on_shutdown() -> None:
    """Runs after the template cancelled running tasks: stop every procedure and axis, then disconnect."""
    if _controller is not None:
        result = _controller.stop_all(wait=True)
        logger.info("all axes stopped: %s", result["still_moving"] or "none moving")
        _controller.close()


# ------------------------------------------------------------------------------------------ parameters
class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


Stage = Literal["left", "right"]
Axis = Field(ge=1, le=12, description="axis number: 1-6 left stage (X1 Y1 Z1 Tx1 Ty1 Tz1), 7-12 right")


class MoveAbsoluteParams(_Params):
    axis: int = Axis
    position: float = Field(ge=-1e6, le=1e6, description="target, um (deg for angle axes)")
    speed: float = Field(gt=0, le=1e5, description="um/s (deg/s)")


class MoveRelativeParams(_Params):
    axis: int = Axis
    distance: float = Field(ge=-1e6, le=1e6, description="um (deg for angle axes)")
    speed: float = Field(gt=0, le=1e5, description="um/s (deg/s)")


class AxisParams(_Params):
    axis: int = Axis


class AxisStatusParams(_Params):
    axis: int | None = Field(None, ge=1, le=12, description="one axis, or all when absent")


class ServoParams(_Params):
    axis: int = Axis
    on: bool


class AngleAdjustmentParams(_Params):
    stage: Stage
    gap: float = Field(2.0, ge=0, le=1000, description="um to back off from the surface at the end")
    signal_lower_limit: float = Field(0.05, gt=0, description="contact signal threshold, V")
    contact_search_range: float = Field(100.0, gt=0, le=10000, description="um")
    contact_search_speed: float = Field(100.0, gt=0, le=10000, description="um/s")
    push_distance: float = Field(5.0, ge=0, le=100, description="um pushed after contact")
    angle_search_range_tx: float = Field(1.0, gt=0, le=10, description="deg")
    angle_search_range_ty: float = Field(1.0, gt=0, le=10, description="deg")
    angle_search_speed_tx: float = Field(1.0, gt=0, le=100, description="deg/s")
    angle_search_speed_ty: float = Field(1.0, gt=0, le=100, description="deg/s")
    angle_convergent_range_tx: float = Field(0.01, gt=0, description="deg")
    angle_convergent_range_ty: float = Field(0.01, gt=0, description="deg")
    angle_max_count: int = Field(5, ge=1, le=100)
    contact_smoothing: int = Field(10, ge=0, le=10000, description="samples")
    contact_sensitivity: int = Field(5, ge=0, le=10000)
    angle_smoothing_tx: int = Field(30, ge=0, le=10000)
    angle_smoothing_ty: int = Field(30, ge=0, le=10000)
    angle_sensitivity_tx: int = Field(5, ge=0, le=10000)
    angle_sensitivity_ty: int = Field(5, ge=0, le=10000)
    angle_judge_count_tx: int = Field(2, ge=0, le=1000)
    angle_judge_count_ty: int = Field(2, ge=0, le=1000)
    angle_comparison_count: int = Field(2, ge=0, le=1000)
    unlock_dout_control_on: bool = False
    lock_unlock_adjust_enable: bool = False
    lock_unlock_difference: float = Field(0.0, ge=0, le=1000)

    def vendor(self) -> dict[str, Any]:
        return {"contactSmoothing": self.contact_smoothing, "contactSensitivity": self.contact_sensitivity,
                "angleSmoothingTx": self.angle_smoothing_tx, "angleSmoothingTy": self.angle_smoothing_ty,
                "angleSensitivityTx": self.angle_sensitivity_tx, "angleSensitivityTy": self.angle_sensitivity_ty,
                "angleJudgeCountTx": self.angle_judge_count_tx, "angleJudgeCountTy": self.angle_judge_count_ty,
                "angleComparisonCount": self.angle_comparison_count,
                "unlockDOutControlOn": self.unlock_dout_control_on,
                "lockUnlockAdjustEnbale": self.lock_unlock_adjust_enable,   # the DLL's spelling
                "lockUnlockDifference": self.lock_unlock_difference,
                "gap": self.gap, "signalLowerLimit": self.signal_lower_limit,
                "contactSearchRange": self.contact_search_range, "contactSearchSpeed": self.contact_search_speed,
                "pushDistance": self.push_distance, "angleSearchRangeTx": self.angle_search_range_tx,
                "angleSearchRangeTy": self.angle_search_range_ty, "angleSearchSpeedTx": self.angle_search_speed_tx,
                "angleSearchSpeedTy": self.angle_search_speed_ty,
                "angleConvergentRangeTx": self.angle_convergent_range_tx,
                "angleConvergentRangeTy": self.angle_convergent_range_ty, "angleMaxCount": self.angle_max_count}


class FlatAlignmentParams(_Params):
    stage: Stage = "left"
    pm_channel: int = Field(1, ge=1, le=2)
    wavelength: float = Field(1310.0, gt=0, le=5000, description="nm")
    field_search_threshold: float = Field(-40.0, description="dBm: light found above this")
    peak_search_threshold: float = Field(-30.0, description="dBm: minimum for a peak search")
    search_range_x: float = Field(200.0, gt=0, le=5000, description="um, full width")
    search_range_y: float = Field(200.0, gt=0, le=5000, description="um, full width")
    field_search_pitch_x: float = Field(5.0, gt=0, le=500, description="um")
    field_search_pitch_y: float = Field(5.0, gt=0, le=500, description="um")
    field_search_speed_x: float = Field(1000.0, gt=0, le=1e5, description="um/s")
    field_search_speed_y: float = Field(1000.0, gt=0, le=1e5, description="um/s")
    peak_search_speed_x: float = Field(200.0, gt=0, le=1e5, description="um/s")
    peak_search_speed_y: float = Field(200.0, gt=0, le=1e5, description="um/s")
    centroid_threshold: float = Field(50.0, gt=0, lt=100, description="% of the peak used for the centroid")
    convergent_range: float = Field(0.2, gt=0, le=100, description="um")
    max_repeat_count: int = Field(10, ge=1, le=1000)
    output_format: Literal["csv", "json"] = "csv"

    def vendor(self) -> dict[str, Any]:
        return {"pmCh": self.pm_channel, "analogCh": 1, "fieldSearchThreshold": self.field_search_threshold,
                "searchRangeX": self.search_range_x, "searchRangeY": self.search_range_y,
                "fieldSearchPitchX": self.field_search_pitch_x, "fieldSearchPitchY": self.field_search_pitch_y,
                "fieldSearchFirstPitchX": self.field_search_pitch_x,
                "fieldSearchSpeedX": self.field_search_speed_x, "fieldSearchSpeedY": self.field_search_speed_y,
                "peakSearchSpeedX": self.peak_search_speed_x, "peakSearchSpeedY": self.peak_search_speed_y,
                "centroidThresholdX": self.centroid_threshold, "centroidThresholdY": self.centroid_threshold,
                "convergentRangeX": self.convergent_range, "convergentRangeY": self.convergent_range,
                "smoothingRangeX": 1, "smoothingRangeY": 1, "comparisonCount": 2,
                "maxRepeatCount": self.max_repeat_count, "peakSearchThreshold": self.peak_search_threshold}


class FocusAlignmentParams(FlatAlignmentParams):
    peak_search_threshold_z: float = Field(-30.0, description="dBm")
    search_range_z: float = Field(100.0, gt=0, le=5000, description="um, full width of the Z peak search")
    peak_search_speed_z: float = Field(200.0, gt=0, le=1e5, description="um/s")
    convergent_range_z: float = Field(0.5, gt=0, le=100, description="um")

    def vendor(self) -> dict[str, Any]:
        values = super().vendor()
        values["peakSearchThresholdXY"] = values.pop("peakSearchThreshold")
        values.update({"peakSearchThresholdZ": self.peak_search_threshold_z, "searchRangeZ": self.search_range_z,
                       "fieldSearchPitchZ": self.field_search_pitch_x, "fieldSearchSpeedZ": self.peak_search_speed_z,
                       "peakSearchSpeedZ": self.peak_search_speed_z, "centroidThresholdZ": self.centroid_threshold,
                       "convergentRangeZ": self.convergent_range_z, "smoothingRangeZ": 1})
        return values


class ProfileMeasurementParams(_Params):
    axis: int = Axis
    range: float = Field(100.0, gt=0, le=10000, description="um scanned, centred on the current position")
    speed: float = Field(100.0, gt=0, le=1e5, description="um/s")
    signal_channel: int = Field(1, ge=1, le=6, description="analog input: 1-4 photodiode, 5-6 contact sensors")
    output_format: Literal["csv", "json"] = "csv"


def _exclusive(stage: str) -> str:
    """The resource a long operation holds: its stage, or the whole station (MOTION_EXCLUSIVITY)."""
    return "station" if _settings.exclusivity == "station" else stage


def _axis_stage(_: ExecuteRequest, params: Any) -> str:
    return _exclusive(stage_of(params.axis))


def _axes_stage(_: ExecuteRequest, params: Any) -> str:
    return _exclusive(stage_of(params.axes[0]))


def _stage(_: ExecuteRequest, params: Any) -> str:
    return _exclusive(params.stage)


def _one_stage(axes: list[int]) -> list[int]:
    if any(not 1 <= n <= 12 for n in axes):
        raise ValueError("axis numbers are 1..12")
    if len(set(axes)) != len(axes):
        raise ValueError("axes must be different axes")
    if len({stage_of(n) for n in axes}) != 1:
        raise ValueError("interpolated axes must belong to one stage (1-6 left, 7-12 right)")
    return axes


class Move2DParams(_Params):
    axes: list[int] = Field(min_length=2, max_length=2, description="[main, sub] axis numbers on one stage")
    x: float = Field(ge=-1e6, le=1e6, description="main target (relative: distance), um")
    y: float = Field(ge=-1e6, le=1e6, description="sub target (relative: distance), um")
    speed: float = Field(1000.0, gt=0, le=1e5, description="path speed, um/s")
    relative: bool = False
    angle_offset: float = Field(0.0, ge=-180, le=180, description="deg: the path is rotated about its start")

    _axes = field_validator("axes")(lambda v: _one_stage(v))


class Move3DParams(_Params):
    axes: list[int] = Field(min_length=3, max_length=3, description="[x, y, z] axis numbers on one stage")
    x: float = Field(ge=-1e6, le=1e6)
    y: float = Field(ge=-1e6, le=1e6)
    z: float = Field(ge=-1e6, le=1e6)
    speed: float = Field(1000.0, gt=0, le=1e5, description="path speed, um/s")
    relative: bool = False
    rotation_center_x: float = Field(0.0, ge=-1e6, le=1e6, description="um")
    rotation_center_y: float = Field(0.0, ge=-1e6, le=1e6, description="um")

    _axes = field_validator("axes")(lambda v: _one_stage(v))


class AxesParams(_Params):
    axes: list[int] = Field(min_length=1, max_length=12, description="axis numbers 1-12")

    @field_validator("axes")
    @classmethod
    def _valid(cls, v: list[int]) -> list[int]:
        if any(not 1 <= n <= 12 for n in v):
            raise ValueError("axis numbers are 1..12")
        return v


class ServoBatchParams(AxesParams):
    on: bool


class WaitReadyParams(AxesParams):
    timeout: float = Field(10.0, gt=0, le=600, description="seconds")


class DigitalOutputParams(_Params):
    channel: int = Field(ge=1, le=2, description="1 left, 2 right contact-sensor lock")
    value: bool | None = Field(None, description="set to this (true = locked); absent: read only")


class AnalogInputParams(_Params):
    channel: int = Field(ge=1, le=6, description="1-4 photodiodes, 5 left contact sensor, 6 right")


PowerRange = Literal["Minus60", "Minus50", "Minus40", "Minus30", "Minus20", "Minus10", "Zero", "Plus10", "Plus20",
                     "Auto"]


class PowerParams(_Params):
    channel: int = Field(1, ge=1, le=2)
    range: PowerRange | None = Field(None, description="set the range first (vendor AllowedRange name)")
    wavelength: float | None = Field(None, gt=0, lt=10000, description="set the wavelength first, nm")


class ConnectParams(_Params):
    address: str | None = Field(None, pattern=r"^\d{1,3}(\.\d{1,3}){5}$", description="AMS Net ID x.x.x.x.x.x")


# ----------------------------------------------------------------------------------------- helpers
def _reporter(task: Task):
    def progress(percent: float | None = None, **details: Any) -> None:
        task.progress(percent, **details)
    return progress


def _cancelled(task: Task, exc: Cancelled) -> None:
    """Record where the hardware came to rest, then end the task as cancelled."""
    task.progress(None, **exc.info)
    raise TaskCancelled(str(exc))


def _write_traces(task: Task, name: str, traces: dict[str, Trace], fmt: str, labels: tuple[str, str, str],
                  meta: dict[str, Any]) -> Path:
    """One file for all scan traces: CSV rows (segment, main, sub, signal) or a JSON document."""
    path = task.output_path(f"{name}.{fmt}")
    if fmt == "csv":
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["segment", *labels])
            for kind, tr in traces.items():
                for row in zip(tr.main, tr.sub, tr.signal):
                    writer.writerow([kind, *(f"{v:.6g}" for v in row)])
    else:
        doc = {**meta, "segments": {kind: {"main_axis": tr.main_axis, "sub_axis": tr.sub_axis,
                                           "packets": tr.packets, labels[0]: tr.main, labels[1]: tr.sub,
                                           labels[2]: tr.signal} for kind, tr in traces.items()}}
        path.write_text(json.dumps(doc))
    return path


# ------------------------------------------------------------------------------------ long operations
def _move(task: Task, **kwargs: Any) -> dict[str, Any]:
    try:
        return controller().move(cancel=task.cancel_event, progress=_reporter(task),
                                 paused=lambda: task.paused, wait_resume=task.wait_while_paused, **kwargs)
    except Cancelled as exc:
        _cancelled(task, exc)
        raise  # unreachable


@method(parameters=MoveAbsoluteParams, timeout=600, concurrency=1, resource=_axis_stage, pausable=True)
def execute_MoveAbsolute(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """Move one axis to `position` (um or deg) at `speed`; progress: axis, current/target position, percent.
    Pausable: a pause stops the axis and holds it; resume goes on toward the same target."""
    p: MoveAbsoluteParams = task.params
    return _move(task, axis=p.axis, target=p.position, speed=p.speed)


@method(parameters=MoveRelativeParams, timeout=600, concurrency=1, resource=_axis_stage, pausable=True)
def execute_MoveRelative(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """Move one axis by `distance` (um or deg) at `speed`; on cancel, the record says how far it travelled.
    Pausable like MoveAbsolute (the target is fixed when the move starts)."""
    p: MoveRelativeParams = task.params
    return _move(task, axis=p.axis, distance=p.distance, speed=p.speed)


@method(parameters=AngleAdjustmentParams, timeout=1800, concurrency=1, resource=_stage)
def execute_AngleAdjustment(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """Bring the stage's Z into contact and make the surfaces parallel (phases Initializing, ContactingZ,
    AdjustingTx, AdjustingTy)."""
    p: AngleAdjustmentParams = task.params
    ctl = controller()
    signal_ch = STAGES[p.stage].contact_signal_ch
    t0 = time.monotonic()
    initial = ctl.analog_input(signal_ch)
    try:
        result = ctl.adjust_angle(p.stage, p.vendor(), cancel=task.cancel_event, progress=_reporter(task))
    except Cancelled as exc:
        _cancelled(task, exc)
    final = ctl.analog_input(signal_ch)
    task.progress(100.0, phase="Success", phase_description="Angle adjustment complete", progress_percent=100.0,
                  message="Angle adjustment finished: Success")
    return {"stage": p.stage, **result,
            # the EW51 daemon's result fields
            "success": True, "status_code": result["status"], "status_description": "Angle adjustment completed",
            "phase_code": "NotAdjusting", "phase_description": "Finished", "initial_signal": initial,
            "final_signal": final, "signal_improvement": final - initial,
            "execution_time": round(time.monotonic() - t0, 3)}


def _alignment(task: Task, focus: bool) -> DataReference:
    p: FlatAlignmentParams = task.params
    t0 = time.monotonic()
    initial_power = controller().power(p.pm_channel)["value_dbm"]
    try:
        result = controller().align(focus, p.stage, p.vendor(), wavelength=p.wavelength,
                                    cancel=task.cancel_event, progress=_reporter(task))
    except Cancelled as exc:
        _cancelled(task, exc)
    traces: dict[str, Trace] = result.pop("traces")
    st = STAGES[p.stage]
    final = result["final_positions"]
    summary = {"stage": p.stage, "kind": "focus" if focus else "flat", "peak_power_dbm": result["peak_power_dbm"],
               "final_positions": final, "status": result["status"],
               "points": {k: len(t) for k, t in traces.items()},
               # the EW51 daemon's result fields
               "success": True, "status_code": result["status"], "final_power": result["peak_power_dbm"],
               "initial_power": initial_power, "power_improvement": result["peak_power_dbm"] - initial_power,
               "peak_position_x": final[AXIS_NAMES[st.x]], "peak_position_y": final[AXIS_NAMES[st.y]],
               "execution_time": round(time.monotonic() - t0, 3)}
    if focus:
        summary["peak_position_z"] = final[AXIS_NAMES[st.z]]
    path = _write_traces(task, "focus_alignment" if focus else "flat_alignment", traces, p.output_format,
                         ("main_position", "sub_position", "power_dbm"), summary)
    task.progress(100.0, phase="Success", phase_description="Alignment complete", progress_percent=100.0,
                  message=f"{'Focus' if focus else 'Flat'} alignment finished: Success",
                  peak_power_dbm=result["peak_power_dbm"], final_positions=result["final_positions"])
    return file_reference(path, p.output_format, data=summary)


@method(parameters=FlatAlignmentParams, timeout=1800, concurrency=1, resource=_stage)
def execute_FlatAlignment(request: ExecuteRequest, task: Task) -> DataReference:
    """Field search then X/Y peak searches on the stage; returns peak power, final positions and the scan
    profile as a file (phases Initializing, FieldSearching, PeakSearchingX, PeakSearchingY)."""
    return _alignment(task, focus=False)


@method(parameters=FocusAlignmentParams, timeout=1800, concurrency=1, resource=_stage)
def execute_FocusAlignment(request: ExecuteRequest, task: Task) -> DataReference:
    """Flat alignment plus a Z peak search (phases ... PeakSearchingX, PeakSearchingY, PeakSearchingZ)."""
    return _alignment(task, focus=True)


@method(parameters=ProfileMeasurementParams, timeout=1800, concurrency=1, resource=_axis_stage)
def execute_ProfileMeasurement(request: ExecuteRequest, task: Task) -> DataReference:
    """Scan `axis` over `range` centred on its position, recording a signal; returns the profile (joined from
    packets of at most 1,000 points) as a CSV or JSON file."""
    p: ProfileMeasurementParams = task.params
    values = {"mainAxisNumber": p.axis, "signalCh1Number": p.signal_channel, "mainRange": p.range,
              "speed": p.speed}
    ctl = controller()
    start = ctl.axis(p.axis).GetActualPosition()
    try:
        result = ctl.measure_profile(values, cancel=task.cancel_event, progress=_reporter(task))
    except Cancelled as exc:
        _cancelled(task, exc)
    trace: Trace = result["trace"]
    path = task.output_path(f"profile.{p.output_format}")
    if p.output_format == "csv":
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["position", "signal"])
            writer.writerows((f"{x:.6g}", f"{s:.6g}") for x, s in zip(trace.main, trace.signal))
    else:
        path.write_text(json.dumps({"axis": p.axis, "position": trace.main, "signal": trace.signal}))
    peak = max(range(len(trace)), key=trace.signal.__getitem__) if len(trace) else None
    summary = {"axis": p.axis, "axis_name": AXIS_NAMES[p.axis], "points": len(trace), "packets": trace.packets,
               "signal_channel": p.signal_channel,
               "peak_position": trace.main[peak] if peak is not None else None,
               "peak_signal": trace.signal[peak] if peak is not None else None,
               # the EW51 daemon's result fields
               "success": True, "total_points": len(trace), "peak_value": trace.signal[peak] if peak is not None else None,
               "peak_index": peak, "main_axis_number": p.axis, "main_axis_initial_position": start,
               "main_axis_final_position": ctl.axis(p.axis).GetActualPosition(), "signal_ch_number": p.signal_channel,
               "scan_range": p.range, "scan_speed": p.speed}
    task.progress(100.0, message="Profile measurement finished: Success", progress_percent=100.0, **summary)
    return file_reference(path, p.output_format, data=summary)


# ----------------------------------------------------------------------------------- quick operations
def execute_GetPositions(request: ExecuteRequest) -> dict[str, Any]:
    """Actual position of every axis, keyed by axis number (um or deg)."""
    return {"positions": controller().positions(), "names": {str(k): v for k, v in AXIS_NAMES.items()}}


@method(parameters=AxisStatusParams)
def execute_GetAxisStatus(request: ExecuteRequest) -> dict[str, Any]:
    """Status of one axis (`axis`) or of all: vendor status, error code, moving, servo, position."""
    params = AxisStatusParams.model_validate(request.parameters)
    ctl = controller()
    axes = [params.axis] if params.axis else list(AXIS_NAMES)
    return {"axes": [ctl.axis_state(n) for n in axes]}


@method(parameters=ServoParams)
def execute_SetServo(request: ExecuteRequest) -> dict[str, Any]:
    """Turn an axis servo on or off (a move on a servo-off axis fails with the vendor status ServoOff)."""
    p = ServoParams.model_validate(request.parameters)
    return controller().set_servo(p.axis, p.on)


@method(parameters=AxisParams)
def execute_ResetError(request: ExecuteRequest) -> dict[str, Any]:
    """Clear an axis error (vendor ResetError)."""
    p = AxisParams.model_validate(request.parameters)
    return controller().reset_error(p.axis)


def execute_StopAll(request: ExecuteRequest) -> dict[str, Any]:
    """Stop every axis and controller procedure now and wait until the hardware reports rest.

    Running tasks see their axes stop and end as failed with the vendor status; stop a task itself with
    POST /control/stop/{task_id} to end it as cancelled."""
    return controller().stop_all(wait=True)


@method(parameters=Move2DParams, timeout=600, concurrency=1, resource=_axes_stage)
def execute_Move2D(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """Move two axes of one stage along a straight line (vendor Axis2D) to (x, y), or by it with `relative`."""
    p: Move2DParams = task.params
    start = [controller().axis(n).GetActualPosition() for n in p.axes]
    dx, dy = (p.x, p.y) if p.relative else (p.x - start[0], p.y - start[1])
    if p.angle_offset:
        a = math.radians(p.angle_offset)
        dx, dy = dx * math.cos(a) - dy * math.sin(a), dx * math.sin(a) + dy * math.cos(a)
    try:
        return controller().move_line(p.axes, speed=p.speed, distance=[dx, dy], cancel=task.cancel_event,
                                      progress=_reporter(task))
    except Cancelled as exc:
        _cancelled(task, exc)
        raise  # unreachable


@method(parameters=Move3DParams, timeout=600, concurrency=1, resource=_axes_stage)
def execute_Move3D(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """Move three axes of one stage along a straight line (vendor Axis3D) to (x, y, z), or by it."""
    p: Move3DParams = task.params
    goal = [p.x, p.y, p.z]
    try:
        return controller().move_line(p.axes, speed=p.speed, target=None if p.relative else goal,
                                      distance=goal if p.relative else None,
                                      rotation_center=(p.rotation_center_x, p.rotation_center_y, 0.0),
                                      cancel=task.cancel_event, progress=_reporter(task))
    except Cancelled as exc:
        _cancelled(task, exc)
        raise  # unreachable


@method(parameters=ServoBatchParams)
def execute_SetServoBatch(request: ExecuteRequest) -> dict[str, Any]:
    """Servo on/off for several axes in one call; `failed` names the axes the controller refused."""
    p = ServoBatchParams.model_validate(request.parameters)
    return controller().set_servos(p.axes, p.on)


@method(parameters=WaitReadyParams)
def execute_WaitServoReady(request: ExecuteRequest) -> dict[str, Any]:
    """Wait until every listed axis is InPosition (servo on, at rest), up to `timeout` seconds."""
    p = WaitReadyParams.model_validate(request.parameters)
    return controller().wait_ready(p.axes, p.timeout)


@method(parameters=DigitalOutputParams)
def execute_DigitalOutput(request: ExecuteRequest) -> dict[str, Any]:
    """Set (with `value`) and read a digital output: 1/2 lock the left/right contact sensor."""
    p = DigitalOutputParams.model_validate(request.parameters)
    return {"channel": p.channel, "value": controller().digital_output(p.channel, p.value)}


@method(parameters=AnalogInputParams)
def execute_AnalogInput(request: ExecuteRequest) -> dict[str, Any]:
    """Read an analog input, volts (5/6: the left/right contact sensors)."""
    p = AnalogInputParams.model_validate(request.parameters)
    return {"channel": p.channel, "voltage": controller().analog_input(p.channel)}


@method(parameters=PowerParams)
def execute_PowerMeter(request: ExecuteRequest) -> dict[str, Any]:
    """Read the power meter (dBm) at the current positions, optionally setting `range` and `wavelength` first."""
    p = PowerParams.model_validate(request.parameters)
    return controller().power(p.channel, range_name=p.range, wavelength=p.wavelength)


def stop_every_task(reason: str = "cancelled") -> list[str]:
    """Ask every active task of the service to stop; returns their ids."""
    stopped = []
    for entry in task_manager.entries():
        if entry.status.value in ("pending", "running"):
            try:
                task_manager.stop(entry.task_id, reason)
                stopped.append(entry.task_id)
            except Exception:  # noqa: BLE001 - it finished meanwhile
                pass
    return stopped


def execute_EmergencyStop(request: ExecuteRequest) -> dict[str, Any]:
    """Cancel every running task and stop every axis and procedure now; answers once all is at rest."""
    cancelled = stop_every_task()
    result = controller().stop_all(wait=True)
    return {"success": not result["still_moving"], "cancelled_tasks": cancelled, **result}


@method(parameters=ConnectParams)
def execute_Connect(request: ExecuteRequest) -> dict[str, Any]:
    """Connect to the controller (optionally at another AMS Net ID); a no-op when already connected."""
    p = ConnectParams.model_validate(request.parameters)
    ctl = station()
    if ctl.connected:
        return {"success": True, "connected": True, "message": "Already connected", **ctl.info}
    info = ctl.connect(p.address)
    return {"success": True, "connected": True, "message": "Connected successfully", **info}


def execute_Disconnect(request: ExecuteRequest) -> dict[str, Any]:
    """Cancel running tasks, stop every axis, drop the connection; hardware operations then answer 503."""
    ctl = station()
    cancelled = stop_every_task()
    if ctl.connected:
        ctl.close()
    return {"success": True, "connected": False, "cancelled_tasks": cancelled, "message": "Disconnected successfully"}


@method(parameters=AxisParams)
def execute_StopAxis(request: ExecuteRequest) -> dict[str, Any]:
    """Stop one axis now (vendor Stop), outside any task; a task moving it ends failed at the rest position."""
    p = AxisParams.model_validate(request.parameters)
    return controller().stop_axis(p.axis)


class StopProcedureParams(_Params):
    stage: Stage
    procedure: Literal["alignment", "angle_adjustment", "profile"]


@method(parameters=StopProcedureParams)
def execute_StopProcedure(request: ExecuteRequest) -> dict[str, Any]:
    """Stop a stage's controller procedure now (vendor Stop), outside any task."""
    p = StopProcedureParams.model_validate(request.parameters)
    return controller().stop_procedure(p.stage, p.procedure)


def execute_StationSnapshot(request: ExecuteRequest) -> dict[str, Any]:
    """Every axis (position, moving, servo, error), digital outputs 1-2, analog inputs 1-6, power meter."""
    ctl = controller()
    return {"axes": {str(n): ctl.axis_state(n) for n in AXIS_NAMES},
            "digital_outputs": ctl.digital_outputs(range(1, 3)),
            "analog_inputs": {str(ch): ctl.analog_input(ch) for ch in range(1, 7)},
            "power_meter": ctl.power(_settings.ws_power_meter_channel)}


def execute_ConnectionStatus(request: ExecuteRequest) -> dict[str, Any]:
    """Connected or not, DLL and controller versions, controller error, emergency-stop input."""
    return station().system_status()


if __name__ == "__main__":
    run(sys.modules[__name__])
