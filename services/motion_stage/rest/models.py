"""Request bodies of the EW51 daemon's REST API: its field names, defaults and bounds.

Each model turns itself into the parameters of one of the service's own operations (`to_params`), so the
two APIs share one implementation and one validation of what reaches the hardware.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from ..controller import stage_of

LIGHT_DBM = -40.0   # power above which the detector sees light from the other stage
Axis = Field(ge=1, le=12, description="axis number 1-12 (1-6 left: X1 Y1 Z1 Tx1 Ty1 Tz1, 7-12 right)")


class AxisRequest(BaseModel):
    axis_id: int = Axis


class AxesRequest(BaseModel):
    axis_ids: list[int] = Field(min_length=1, max_length=12)

    @field_validator("axis_ids")
    @classmethod
    def _valid(cls, v: list[int]) -> list[int]:
        if any(not 1 <= n <= 12 for n in v):
            raise ValueError("axis numbers are 1..12")
        return v


class MoveAbsoluteRequest(BaseModel):
    axis_id: int = Axis
    position: float = Field(ge=-1e6, le=1e6, description="um or deg")
    speed: float = Field(1000.0, gt=0, le=1e5, description="um/s or deg/s")

    def to_params(self) -> dict[str, Any]:
        return {"axis": self.axis_id, "position": self.position, "speed": self.speed}


class MoveRelativeRequest(BaseModel):
    axis_id: int = Axis
    distance: float = Field(ge=-1e6, le=1e6, description="um or deg")
    speed: float = Field(1000.0, gt=0, le=1e5, description="um/s or deg/s")

    def to_params(self) -> dict[str, Any]:
        return {"axis": self.axis_id, "distance": self.distance, "speed": self.speed}


class Move2DRequest(BaseModel):
    axis1: int = Axis
    axis2: int = Axis
    x: float = Field(ge=-1e6, le=1e6, description="um")
    y: float = Field(ge=-1e6, le=1e6, description="um")
    speed: float = Field(1000.0, gt=0, le=1e5, description="um/s along the path")
    angle_offset: float = Field(0.0, ge=-180, le=180, description="deg: rotates the path about its start")
    relative: bool = False

    def to_params(self) -> dict[str, Any]:
        return {"axes": [self.axis1, self.axis2], "x": self.x, "y": self.y, "speed": self.speed,
                "relative": self.relative, "angle_offset": self.angle_offset}


class Move3DRequest(BaseModel):
    axis1: int = Axis
    axis2: int = Axis
    axis3: int = Axis
    x: float = Field(ge=-1e6, le=1e6)
    y: float = Field(ge=-1e6, le=1e6)
    z: float = Field(ge=-1e6, le=1e6)
    speed: float = Field(1000.0, gt=0, le=1e5)
    rotation_center_x: float = Field(0.0, ge=-1e6, le=1e6)
    rotation_center_y: float = Field(0.0, ge=-1e6, le=1e6)

    def to_params(self) -> dict[str, Any]:
        return {"axes": [self.axis1, self.axis2, self.axis3], "x": self.x, "y": self.y, "z": self.z,
                "speed": self.speed, "rotation_center_x": self.rotation_center_x,
                "rotation_center_y": self.rotation_center_y}


class Stage(IntEnum):
    LEFT = 1
    RIGHT = 2

    @property
    def key(self) -> str:
        return self.name.lower()


class StageRequest(BaseModel):
    stage: Stage = Field(description="1 = LEFT, 2 = RIGHT")


class AngleAdjustmentRequest(StageRequest):
    gap: float = Field(4.0, ge=0, le=1000, description="um backed off from the surface at the end")
    signal_lower_limit: float = Field(0.4, ge=0, le=100, description="contact signal threshold, V")
    unlock_dout_control_on: bool = False
    lock_unlock_adjust_enable: bool = False
    lock_unlock_difference: float = Field(0.0, ge=0, le=1000)
    contact_search_range: float = Field(5000.0, gt=0, le=10000, description="um")
    contact_search_speed: float = Field(100.0, gt=0, le=10000, description="um/s")
    contact_smoothing: int = Field(10, ge=0, le=10000)
    contact_sensitivity: int = Field(5, ge=0, le=10000)
    push_distance: float = Field(20.0, ge=0, le=100, description="um")
    angle_axis_number_tx: int = Field(0, ge=0, le=12, description="0: the stage's Tx axis")
    angle_axis_number_ty: int = Field(0, ge=0, le=12, description="0: the stage's Ty axis")
    angle_search_range_tx: float = Field(5.0, gt=0, le=10, description="deg")
    angle_search_range_ty: float = Field(5.0, gt=0, le=10, description="deg")
    angle_search_speed_tx: float = Field(1.0, gt=0, le=100, description="deg/s")
    angle_search_speed_ty: float = Field(1.0, gt=0, le=100, description="deg/s")
    angle_smoothing_tx: int = Field(30, ge=0, le=10000)
    angle_smoothing_ty: int = Field(30, ge=0, le=10000)
    angle_sensitivity_tx: int = Field(5, ge=0, le=10000)
    angle_sensitivity_ty: int = Field(5, ge=0, le=10000)
    angle_judge_count_tx: int = Field(2, ge=0, le=1000)
    angle_judge_count_ty: int = Field(2, ge=0, le=1000)
    angle_convergent_range_tx: float = Field(0.05, gt=0, le=10, description="deg")
    angle_convergent_range_ty: float = Field(0.05, gt=0, le=10, description="deg")
    angle_comparison_count: int = Field(2, ge=0, le=1000)
    angle_max_count: int = Field(5, ge=1, le=100)
    rotation_center_enabled: bool = False

    def to_params(self) -> dict[str, Any]:
        skip = {"stage", "angle_axis_number_tx", "angle_axis_number_ty", "rotation_center_enabled"}
        return {"stage": self.stage.key, **self.model_dump(exclude=skip)}


class FlatAlignmentRequest(BaseModel):
    """Field names of the vendor FlatParameter; the stage follows from `mainStageNumberX`."""

    mainStageNumberX: int = Field(7, ge=1, le=12)
    mainStageNumberY: int = Field(8, ge=1, le=12)
    subStageNumberXY: int = Field(0, ge=0, le=12)
    subAngleX: float = 0.0
    subAngleY: float = 0.0
    pmCh: int = Field(1, ge=1, le=2)
    analogCh: int = Field(1, ge=0, le=6, description="0: none")
    wavelength: int = Field(1310, gt=0, lt=5000, description="nm")
    pmAutoRangeUpOn: bool = True
    pmInitRangeSettingOn: bool = True
    pmInitRange: int = Field(-30, ge=-60, le=20)
    fieldSearchThreshold: float = Field(0.0, ge=0, description="accepted; the search uses LIGHT_DBM")
    peakSearchThreshold: float = Field(10.0, ge=0, le=99.99, description="%, accepted; the search uses LIGHT_DBM")
    searchRangeX: float = Field(15.0, gt=0, le=5000)
    searchRangeY: float = Field(10.0, gt=0, le=5000)
    fieldSearchPitchX: float = Field(1.0, gt=0, le=500)
    fieldSearchPitchY: float = Field(1.0, gt=0, le=500)
    fieldSearchFirstPitchX: float = Field(0.0, ge=0, le=500)
    fieldSearchSpeedX: float = Field(100.0, gt=0, le=1e5)
    fieldSearchSpeedY: float = Field(100.0, gt=0, le=1e5)
    peakSearchSpeedX: float = Field(10.0, gt=0, le=1e5)
    peakSearchSpeedY: float = Field(10.0, gt=0, le=1e5)
    smoothingRangeX: int = Field(40, ge=0, le=10000)
    smoothingRangeY: int = Field(40, ge=0, le=10000)
    centroidThresholdX: float = Field(0.0, ge=0, lt=100)
    centroidThresholdY: float = Field(0.0, ge=0, lt=100)
    convergentRangeX: float = Field(0.5, gt=0, le=100)
    convergentRangeY: float = Field(0.5, gt=0, le=100)
    comparisonCount: int = Field(2, ge=1, le=1000)
    maxRepeatCount: int = Field(10, ge=1, le=99)

    @field_validator("mainStageNumberY")
    @classmethod
    def _same_stage(cls, v: int, info: Any) -> int:
        x = info.data.get("mainStageNumberX")
        if x is not None and stage_of(x) != stage_of(v):
            raise ValueError("mainStageNumberX and mainStageNumberY must be on the same stage")
        return v

    def to_params(self) -> dict[str, Any]:
        return {"stage": stage_of(self.mainStageNumberX), "pm_channel": self.pmCh, "wavelength": self.wavelength,
                # the daemon's thresholds are relative (%, fractions); ours are dBm: search wherever light is seen
                "field_search_threshold": LIGHT_DBM, "peak_search_threshold": LIGHT_DBM,
                "search_range_x": self.searchRangeX, "search_range_y": self.searchRangeY,
                "field_search_pitch_x": self.fieldSearchPitchX, "field_search_pitch_y": self.fieldSearchPitchY,
                "field_search_speed_x": self.fieldSearchSpeedX, "field_search_speed_y": self.fieldSearchSpeedY,
                "peak_search_speed_x": self.peakSearchSpeedX, "peak_search_speed_y": self.peakSearchSpeedY,
                "centroid_threshold": self.centroidThresholdX or 50.0,
                "convergent_range": min(self.convergentRangeX, self.convergentRangeY),
                "max_repeat_count": self.maxRepeatCount, "output_format": "json"}


class FocusAlignmentRequest(FlatAlignmentRequest):
    zMode: Literal["Round", "ForwardPlus", "ForwardMinus", "Triangle", "Linear"] = Field(
        "Round", description="vendor ZMode; the daemon's names Triangle and Linear are accepted and run as Round")
    mainStageNumberZ: int = Field(0, ge=0, le=12, description="0: the stage's Z axis")
    searchRangeX: float = Field(500.0, gt=0, le=5000)
    searchRangeY: float = Field(500.0, gt=0, le=5000)
    fieldSearchPitchX: float = Field(5.0, gt=0, le=500)
    fieldSearchPitchY: float = Field(5.0, gt=0, le=500)
    fieldSearchSpeedX: float = Field(1000.0, gt=0, le=1e5)
    fieldSearchSpeedY: float = Field(1000.0, gt=0, le=1e5)
    peakSearchSpeedX: float = Field(5.0, gt=0, le=1e5)
    peakSearchSpeedY: float = Field(5.0, gt=0, le=1e5)
    convergentRangeX: float = Field(1.0, gt=0, le=100)
    convergentRangeY: float = Field(1.0, gt=0, le=100)
    searchRangeZ: float = Field(100.0, gt=0, le=5000)
    peakSearchSpeedZ: float = Field(200.0, gt=0, le=1e5)
    convergentRangeZ: float = Field(0.5, gt=0, le=100)

    def to_params(self) -> dict[str, Any]:
        return {**super().to_params(), "peak_search_threshold_z": LIGHT_DBM, "search_range_z": self.searchRangeZ, "peak_search_speed_z": self.peakSearchSpeedZ,
                "convergent_range_z": self.convergentRangeZ}


class ProfileMeasurementRequest(BaseModel):
    scan_axis: int = Field(1, ge=1, le=12, description="linear axes only: 1, 2, 3, 7, 8, 9")
    scan_range: float = Field(20.0, gt=0, le=10000, description="um")
    sub1_axis_number: int = Field(0, ge=0, le=12)
    sub2_axis_number: int = Field(0, ge=0, le=12)
    sub1_range: float = Field(0.0, ge=0, le=10000)
    sub2_range: float = Field(0.0, ge=0, le=10000)
    signal_ch1_number: int = Field(1, ge=1, le=6, description="analog input: 1-4 photodiodes, 5-6 contact sensors")
    signal_ch2_number: int = Field(0, ge=0, le=6)
    scan_speed: float = Field(25.0, gt=0, le=1e5, description="um/s")
    accel_rate: float = Field(1000.0, gt=0, le=1e7)
    decel_rate: float = Field(1000.0, gt=0, le=1e7)
    smoothing: int = Field(10, ge=0, le=10000)

    @field_validator("scan_axis")
    @classmethod
    def _linear(cls, v: int) -> int:
        if v not in (1, 2, 3, 7, 8, 9):
            raise ValueError("scan_axis must be a linear axis: 1, 2, 3, 7, 8 or 9")
        return v

    def to_params(self) -> dict[str, Any]:
        return {"axis": self.scan_axis, "range": self.scan_range, "speed": self.scan_speed,
                "signal_channel": self.signal_ch1_number, "output_format": "json"}


class ConnectionRequest(BaseModel):
    ads_address: str = Field("5.146.68.190.1.1", pattern=r"^\d{1,3}(\.\d{1,3}){5}$", description="AMS Net ID")


class DigitalOutputRequest(BaseModel):
    channel: int = Field(ge=1, le=2, description="1 left, 2 right contact-sensor lock")
    value: bool = Field(description="true = locked")
