"""Settings of the motion-stage service (environment variables with the prefix `MOTION_`).

Examples: `MOTION_BACKEND=dotnet MOTION_DLL_PATH=C:/srgmc/srgmc.dll MOTION_RUNTIME=coreclr`,
`MOTION_POLL_INTERVAL=0.05`, `MOTION_EXCLUSIVITY=station`, `MOTION_WS_RATE_HZ=20`, simulator knobs as `MOTION_SIM__PEAK_X=20 MOTION_SIM__LINEAR_ACCEL=20000`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .simulator import SimConfig


class MotionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTION_", env_nested_delimiter="__", extra="ignore")

    backend: Literal["simulator", "dotnet"] = "simulator"
    dll_path: str = "srgmc.dll"                       # absolute path or a name on the probing path
    runtime: Literal["coreclr", "mono"] = "coreclr"   # the vendor DLL targets net6.0: coreclr in production
    dotnet_root: str | None = None                    # exported as DOTNET_ROOT before loading coreclr
    namespace: str = "SurugaSeiki.Motion"
    address: str = "5.146.68.190.1.1"                 # AMS Net ID of the controller
    connect_timeout: float = Field(10.0, gt=0)
    poll_interval: float = Field(0.02, gt=0, le=1.0)  # seconds between status polls in task threads
    stop_timeout: float = Field(15.0, gt=0)           # how long to wait for the hardware to report stopped
    servo_on_at_connect: bool = True
    wavelength_nm: float = Field(1310.0, gt=0)
    # one long operation per stage (left/right run side by side), or one on the whole station
    exclusivity: Literal["stage", "station"] = "stage"
    ws_rate_hz: float = Field(10.0, gt=0, le=1000)    # position_update messages per second on /ws
    ws_power_meter_channel: int = Field(1, ge=1, le=2)  # power meter channel streamed on /ws
    servo_ready_timeout: float = Field(10.0, gt=0)    # /servo/wait_ready gives up after this long
    sim: SimConfig = Field(default_factory=SimConfig)
