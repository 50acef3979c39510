#!/usr/bin/env python3
"""Big-workflow parsing and reads (issue 12.2, 12.3): `.venv/bin/python bench/orchestrator_reads.py`.

Starts its own redis-server and orchestrator API (uvicorn) on free ports, no
workers (the reads do not need nodes to run). Parts, every figure from this run:

1. `parse_blueprint` of a fan (1 -> N -> 1) and a chain at 100, 1,000 and 10,000
   vertices: microseconds per vertex, and the ratio 10,000 / 100 (linear: about 1);
2. `POST /workflows` of a 10,000-vertex fan: wall time (target: under 1 s);
3. reads of a 100- and a 5,000-vertex fan: `GET /workflows/{id}`, `?nodes=false`,
   `GET .../tasks?limit=50` and the whole `/tasks` (`limit=10000`): median ms and bytes,
   and the ratio 5,000 / 100 of each (`?nodes=false` and a 50-task page should stay flat).

`--quick`: small sizes, a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.blueprint import parse_blueprint  # noqa: E402
from orchestrator.gcpause import paused_gc  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node(name: str, targets: list[str]) -> dict:
    return {"container_name": name, "operation_signature_list": [
        {"operation_signature": {"operation_name": "Op"},
         "connected_to": [{"container_name": t, "operation_signature": {"operation_name": "Op"}} for t in targets]}]}


def fan(n: int) -> dict:
    mids = [f"m{i}" for i in range(n - 2)]
    return {"name": f"fan{n}", "nodes": [node("src", mids), *(node(m, ["sink"]) for m in mids), node("sink", [])]}


def chain(n: int) -> dict:
    names = [f"c{i}" for i in range(n)]
    return {"name": f"chain{n}", "nodes": [node(x, [names[i + 1]] if i + 1 < n else []) for i, x in enumerate(names)]}


def dockerinfo(bp: dict) -> dict:
    return {"docker_info_list": [{"container_name": n["container_name"], "ip_address": "127.0.0.1", "port": 9}
                                 for n in bp["nodes"]]}


def best_of(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def part_parse(sizes: list[int]) -> None:
    print("1. parse_blueprint (median of 3, collector paused as in the API), microseconds per vertex")
    for shape in (fan, chain):
        per = {}
        for n in sizes:
            bp, di = shape(n), None
            di = dockerinfo(bp)
            with paused_gc():  # as in the API (`submission`)
                per[n] = best_of(lambda bp=bp, di=di: parse_blueprint(bp, di, max_nodes=10_000), 3) / n * 1e6
        cells = "  ".join(f"{n:>6}: {per[n]:7.1f} us" for n in sizes)
        print(f"   {shape.__name__:<6} {cells}   ratio {sizes[-1]}/{sizes[0]}: {per[sizes[-1]] / per[sizes[0]]:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [100, 300, 1000] if args.quick else [100, 1000, 10_000]
    big_submit = 1000 if args.quick else 10_000
    small, big = (50, 500) if args.quick else (100, 5000)
    runs = 3 if args.quick else 7
    part_parse(sizes)

    rport, aport = free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="orch-reads-")
    procs = [subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no",
                               "--dir", tmp], stdout=subprocess.DEVNULL)]
    try:
        env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{rport}/0", "ORCHESTRATOR_PREFIX": "bench"}
        procs.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "main:app", "--port", str(aport),
                                       "--log-level", "warning"], cwd=ROOT / "orchestrator", env=env))
        http = httpx.Client(base_url=f"http://127.0.0.1:{aport}", timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                if http.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("API did not start")
            time.sleep(0.1)

        bp = fan(big_submit)
        raw = json.dumps({"blueprint": bp, "dockerinfo": dockerinfo(bp), "workflow_id": "submit"}).encode()
        t = time.perf_counter()  # the request alone: the body is encoded before, as a client would have it
        r = http.post("/workflows", content=raw, headers={"Content-Type": "application/json"})
        took = time.perf_counter() - t
        assert r.status_code == 201, r.text
        print(f"2. POST /workflows of a {big_submit}-vertex fan ({len(raw) / 1e6:.1f} MB): {took * 1000:.0f} ms "
              f"({'ok' if took < 1 else 'MISS'}: target under 1 s)")

        print(f"3. reads (median of {runs}): ms and bytes; ratio {big}/{small}")
        results: dict[str, dict[int, tuple[float, int]]] = {}
        for n in (small, big):
            bp = fan(n)
            wid = f"read{n}"
            assert http.post("/workflows", json={"blueprint": bp, "dockerinfo": dockerinfo(bp),
                                                 "workflow_id": wid}).status_code == 201
            for name, path in (("GET /workflows/{id}", f"/workflows/{wid}"),
                               ("GET /workflows/{id}?nodes=false", f"/workflows/{wid}?nodes=false"),
                               ("GET .../tasks?limit=50", f"/workflows/{wid}/tasks?limit=50"),
                               ("GET .../tasks?limit=10000", f"/workflows/{wid}/tasks?limit=10000")):
                size = len(http.get(path).content)  # also warms the graph cache
                results.setdefault(name, {})[n] = (best_of(lambda p=path: http.get(p), runs) * 1000, size)
        for name, by in results.items():
            (ms_s, b_s), (ms_b, b_b) = by[small], by[big]
            print(f"   {name:<34} {small}: {ms_s:7.2f} ms {b_s:>9} B   {big}: {ms_b:7.2f} ms {b_b:>9} B   "
                  f"ratio {ms_b / ms_s:6.2f}x")
        http.close()
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
