"""Measured figures of the simulator through the real adapter: `python -m services.motion_stage.measure`.

Prints the travel when a 100 um move at 50 um/s is cancelled after 0.3 s, alignment accuracy (distance of
the found peak from the true one) and the wall time of each operation, with the default simulator settings.
"""

from __future__ import annotations

import json
import math
import threading
import time

from .controller import Cancelled, StageController, load_motion
from .service import AngleAdjustmentParams, FlatAlignmentParams, FocusAlignmentParams
from .settings import MotionSettings


def main() -> None:
    settings = MotionSettings(backend="simulator")
    ctl = StageController(load_motion(settings), settings)
    ctl.connect()
    hw = ctl.motion.hardware
    nop = lambda *a, **k: None  # noqa: E731
    out: dict = {"sim": {"accel_um_s2": hw.cfg.linear_accel, "poll_interval_s": settings.poll_interval}}

    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    try:
        ctl.move(3, distance=100.0, speed=50.0, cancel=cancel, progress=nop)
    except Cancelled as exc:
        out["cancel_100um_at_50um_s_after_0.3s"] = {"travelled_um": round(exc.info["travelled"], 3),
                                                    "until_rest_s": round(time.monotonic() - t0, 3)}

    t0 = time.monotonic()
    ctl.move(1, target=100.0, speed=1000.0, cancel=threading.Event(), progress=nop)
    out["move_100um_at_1000um_s_s"] = round(time.monotonic() - t0, 3)
    ctl.move(1, target=0.0, speed=1000.0, cancel=threading.Event(), progress=nop)
    ctl.move(3, target=0.0, speed=1000.0, cancel=threading.Event(), progress=nop)

    for focus, params in ((False, FlatAlignmentParams()), (True, FocusAlignmentParams())):
        t0 = time.monotonic()
        res = ctl.align(focus, "left", params.vendor(), cancel=threading.Event(), progress=nop)
        took = time.monotonic() - t0
        true = hw.true_peak("left")
        fp = res["final_positions"]
        err = {"xy_um": round(math.hypot(fp["X1"] - true[0], fp["Y1"] - true[1]), 4)}
        if focus:
            err["z_um"] = round(abs(fp["Z1"] - true[2]), 4)
        out["focus_alignment" if focus else "flat_alignment"] = {
            "seconds": round(took, 3), "error": err, "peak_power_dbm": round(res["peak_power_dbm"], 4)}
        for n in (1, 2, 3):
            ctl.move(n, target=0.0, speed=2000.0, cancel=threading.Event(), progress=nop)

    t0 = time.monotonic()
    res = ctl.adjust_angle("left", AngleAdjustmentParams(stage="left").vendor(), cancel=threading.Event(),
                           progress=nop)
    fp = res["final_positions"]
    out["angle_adjustment"] = {"seconds": round(time.monotonic() - t0, 3),
                               "error_deg": {"tx": round(abs(fp["Tx1"] - hw.cfg.tilt_tx), 5),
                                             "ty": round(abs(fp["Ty1"] - hw.cfg.tilt_ty), 5)}}
    t0 = time.monotonic()
    res = ctl.measure_profile({"mainAxisNumber": 7, "signalCh1Number": 1, "mainRange": 100.0, "speed": 100.0},
                              cancel=threading.Event(), progress=nop)
    out["profile_100um_at_100um_s"] = {"seconds": round(time.monotonic() - t0, 3), "points": len(res["trace"]),
                                       "packets": res["trace"].packets}
    ctl.close()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
