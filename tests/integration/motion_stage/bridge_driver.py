"""Drive a compiled C# stand-in of srgmc.dll through pythonnet and the REAL adapter; print JSON results.

Run in its own process (pythonnet loads one runtime per process):
    python tests/integration/motion_stage/bridge_driver.py /tmp/x/srgmc.dll mono
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from services.motion_stage.controller import Cancelled, StageController, VendorError, load_motion  # noqa: E402
from services.motion_stage.settings import MotionSettings  # noqa: E402


def main(dll: str, runtime: str) -> dict:
    settings = MotionSettings(backend="dotnet", runtime=runtime, dll_path=dll, poll_interval=0.01,
                              connect_timeout=5, stop_timeout=5)
    t0 = time.monotonic()
    motion = load_motion(settings)
    import pythonnet
    out: dict = {"load_seconds": round(time.monotonic() - t0, 3), "runtime": str(pythonnet.get_runtime_info())}
    ctl = StageController(motion, settings)
    out["connect"] = ctl.connect()
    ec = motion.AxisComponents.ErrorCode
    out["enum_str"] = [str(getattr(ec, "None")), str(ec.Moving), int(ec.Moving)]
    out["module"] = type(ctl.axis(1)).__module__

    pool = ThreadPoolExecutor(2, thread_name_prefix="task")   # task threads, as in the service

    samples: list = []
    result = pool.submit(ctl.move, 1, target=200.0, speed=1000.0, cancel=threading.Event(),
                         progress=lambda pct=None, **d: samples.append(pct)).result()
    out["move"] = {"final": result["current_position"], "progress_samples": len(samples),
                   "intermediate": sum(1 for p in samples if p is not None and 0 < p < 100),
                   "status": str(ctl.axis(1).GetStatus())}

    cancel = threading.Event()
    fut = pool.submit(ctl.move, 3, distance=100.0, speed=50.0, cancel=cancel, progress=lambda *a, **k: None)
    time.sleep(0.3)
    cancel.set()
    try:
        fut.result()
        out["cancel"] = {"cancelled": False}
    except Cancelled as exc:
        out["cancel"] = {"cancelled": True, "travelled": exc.info["travelled"], "status": exc.info["status"],
                         "moving_after": bool(ctl.axis(3).IsMoving()),
                         "position_after": ctl.axis(3).GetActualPosition()}

    errors = {}
    ctl.set_servo(2, False)
    try:
        ctl.move(2, target=10.0, speed=100.0, cancel=threading.Event(), progress=lambda *a, **k: None)
    except VendorError as exc:
        errors["servo_off"] = {"status": exc.status, "message": str(exc)}
    ctl.set_servo(2, True)
    try:
        ctl.move(4, target=9000.0, speed=100.0, cancel=threading.Event(), progress=lambda *a, **k: None)
    except VendorError as exc:
        errors["limit"] = {"status": exc.status, "message": str(exc)}
    out["errors"] = errors

    # the classes behind the daemon-compatible routes: Axis2D/Axis3D, IO, PowerMeter, servo batch, status
    ctl.set_servos(list(range(1, 13)), True)
    line = pool.submit(ctl.move_line, [7, 8], target=[30.0, 40.0], speed=500.0, cancel=threading.Event(),
                       progress=lambda *a, **k: None).result()
    out["line2d"] = {"final": line["current_position"], "status": str(ctl.axis(8).GetStatus())}
    cancel = threading.Event()
    fut = pool.submit(ctl.move_line, [7, 8, 9], distance=[300.0, 0.0, 400.0], speed=100.0, cancel=cancel,
                      progress=lambda *a, **k: None)
    time.sleep(0.3)
    cancel.set()
    try:
        fut.result()
        out["line3d_cancel"] = {"cancelled": False}
    except Cancelled as exc:
        pos = exc.info["current_position"]
        out["line3d_cancel"] = {"cancelled": True, "position": pos, "moving_after": bool(ctl.axis(9).IsMoving())}
    out["dout"] = [ctl.digital_output(1, True), ctl.digital_output(1), ctl.digital_output(2, False)]
    out["ain5"] = ctl.analog_input(5)
    out["power"] = ctl.power(1, range_name="Minus20", wavelength=1550.0)
    try:
        ctl.power(3, range_name="Auto")
    except VendorError as exc:
        out["power_bad_channel"] = exc.status
    out["ready"] = ctl.wait_ready([7, 8, 9], timeout=2.0)["success"]
    out["batch_off"] = ctl.set_servos([10, 11], False)["success"]
    out["system"] = ctl.system_status()
    out["axis_state"] = ctl.axis_state(1)
    out["stop_all"] = ctl.stop_all()["still_moving"]
    ctl.close()
    pool.shutdown()
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "mono")), flush=True)
