"""Measured figures of the simulator through the real adapter: `python -m services.motion_stage.measure`.

Prints the travel when a 100 um move at 50 um/s is cancelled after 0.3 s, alignment accuracy (distance of
the found peak from the true one) and the wall time of each operation, with the default simulator settings
(also an angle adjustment with the EW51 daemon's default parameters, which its clients poll for ~100 s).

`--http` measures the daemon-compatible API of a real service process (started on a free port, or `--url`):
the /ws position_update rate, and the latency from `POST /move/stop/{id}` until the axis is at rest (seen by
polling /position, and as the task turning `cancelled`), next to the physical deceleration time v/a.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

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
    # the EW51 daemon's clients poll an angle adjustment for ~100 s: its default parameters, from a lifted Z
    from .rest.models import AngleAdjustmentRequest
    ctl.move(3, target=-100.0, speed=1000.0, cancel=threading.Event(), progress=nop)
    daemon = AngleAdjustmentParams(**AngleAdjustmentRequest(stage=1).to_params())
    t0 = time.monotonic()
    ctl.adjust_angle("left", daemon.vendor(), cancel=threading.Event(), progress=nop)
    out["angle_adjustment_daemon_defaults_s"] = round(time.monotonic() - t0, 3)

    t0 = time.monotonic()
    res = ctl.measure_profile({"mainAxisNumber": 7, "signalCh1Number": 1, "mainRange": 100.0, "speed": 100.0},
                              cancel=threading.Event(), progress=nop)
    out["profile_100um_at_100um_s"] = {"seconds": round(time.monotonic() - t0, 3), "points": len(res["trace"]),
                                       "packets": res["trace"].packets}
    ctl.close()
    print(json.dumps(out, indent=1))


def _ws_rate(url: str, seconds: float) -> dict:
    import websockets

    async def run() -> dict:
        stamps: list[float] = []
        async with websockets.connect(url.replace("http", "ws", 1) + "/ws") as ws:
            t_end = time.monotonic() + seconds
            while (left := t_end - time.monotonic()) > 0:
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), left))
                except TimeoutError:
                    break
                if msg["type"] == "position_update":
                    stamps.append(time.monotonic())
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        return {"messages": len(stamps), "rate_hz": round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 2),
                "gap_ms_median": round(1000 * statistics.median(gaps), 2), "gap_ms_max": round(1000 * max(gaps), 2)}

    return asyncio.run(run())


def _stop_latency(url: str, trials: int, speed: float) -> dict:
    import httpx

    rest_ms, cancelled_ms = [], []
    with httpx.Client(base_url=url, timeout=30) as c:
        c.post("/servo/batch/on", json={"axis_ids": [1]})
        for i in range(trials):
            sign = 1 if i % 2 == 0 else -1
            tid = c.post("/move/relative", json={"axis_id": 1, "distance": sign * 400.0, "speed": speed}).json()["task_id"]
            while c.get(f"/move/status/{tid}").json()["progress"].get("progress_percent", 0) < 20:
                time.sleep(0.005)
            t0 = time.monotonic()
            c.post(f"/move/stop/{tid}")
            while c.get("/position/1").json()["is_moving"]:
                time.sleep(0.002)
            rest_ms.append(1000 * (time.monotonic() - t0))
            while c.get(f"/control/status/{tid}", params={"wait": 5}).json()["status"] != "cancelled":
                pass
            cancelled_ms.append(1000 * (time.monotonic() - t0))
    return {"trials": trials, "speed_um_s": speed,
            "stop_to_rest_ms_median": round(statistics.median(rest_ms), 1), "stop_to_rest_ms_max": round(max(rest_ms), 1),
            "stop_to_cancelled_ms_median": round(statistics.median(cancelled_ms), 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_http(url: str | None, seconds: float = 5.0, trials: int = 7) -> dict:
    """Figures of the daemon-compatible API, against `url` or a service process started here."""
    proc = None
    if url is None:
        port = _free_port()
        env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "SERVICE_ACCESS_LOG": "false"}
        proc = subprocess.Popen([sys.executable, "service.py"], cwd=Path(__file__).parent, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        import httpx
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
    try:
        settings = MotionSettings()
        speed = 200.0
        return {"ws_configured_hz": settings.ws_rate_hz, "ws": _ws_rate(url, seconds),
                "stop": {**_stop_latency(url, trials, speed),
                         "physical_decel_ms": round(1000 * speed / settings.sim.linear_accel, 1)}}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--http", action="store_true", help="measure the REST/WebSocket API of a service process")
    ap.add_argument("--url", help="a running motion-stage service (default: start one)")
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to listen to /ws")
    args = ap.parse_args()
    if args.http:
        print(json.dumps(measure_http(args.url, args.seconds), indent=1))
    else:
        main()
