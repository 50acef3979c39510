"""Chaos soak: workflows run while workers, Redis and services are killed at random.

Starts a redis-server with AOF (`appendfsync everysec`, as docker-compose runs it),
two template services (SQLite task records, a short shutdown grace), the API and
three workers, keeps `--inflight` diamond workflows running, and every few seconds
does one of: SIGKILL a worker, SIGTERM a worker, SIGKILL Redis and restart it,
SIGSTOP Redis for 3 s, SIGTERM a service and start it again (a deploy), SIGKILL a
service and start it again. Replacements start at once. After `--duration` s the
faults stop and every submitted workflow gets `--settle` s to end. Prints:

  completed   workflows that ended complete
  failed      ended failed or cancelled (none expected: every fault is an outage)
  lost        answered 201 but unknown to the API afterwards
  duplicated  nodes whose work completed more than once on the services
  stuck       not ended after the settle time
  exits       worker processes that exited without being told to

    python bench/chaos.py [--duration 180] [--inflight 12] [--seed 1] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.support import PYTHON, Process, ServiceProcess, free_port, wait_until  # noqa: E402
from tests.support.redis_ops import DurableRedis  # noqa: E402

TEMPLATE = ROOT / "templates" / "concurrent"
DIAMOND = json.loads((ROOT / "examples" / "diamond" / "blueprint.json").read_text())
FINAL = ("complete", "failed", "cancelled")


class Stack:
    def __init__(self, workers: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.redis = DurableRedis()
        self.env = {"REDIS_URL": self.redis.url, "ORCHESTRATOR_LEASE_TTL": "5",
                    "ORCHESTRATOR_HEARTBEAT_INTERVAL": "1", "ORCHESTRATOR_REAPER_INTERVAL": "0.5",
                    "ORCHESTRATOR_RETRY_BACKOFF_MAX": "2", "ORCHESTRATOR_POLL_WAIT": "5",
                    "ORCHESTRATOR_LOG_LEVEL": "WARNING"}
        self.svc_ports = [free_port(), free_port()]
        self.services = [self._service(i) for i in range(2)]
        self.api_port = free_port()
        self.api = Process([PYTHON, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port",
                            str(self.api_port)], cwd=ROOT / "orchestrator", env=self.env, name="chaos-api")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=10)
        wait_until(lambda: self.http.get("/health").status_code == 200, timeout=30, what="API")
        self.workers = [self.start_worker() for _ in range(workers)]
        self.exits = 0

    def _service(self, i: int) -> ServiceProcess:
        env = {"SERVICE_STATE_DB": str(self.tmp / f"svc{i}.db"), "SERVICE_SHUTDOWN_GRACE": "0.5"}
        return ServiceProcess(TEMPLATE, port=self.svc_ports[i], env=env, name=f"chaos-svc{i}")

    def start_worker(self) -> Process:
        w = Process([PYTHON, "-m", "worker"], cwd=ROOT / "orchestrator", env=self.env, name="chaos-worker")
        wait_until(lambda: "listening on" in w.log() or not w.alive(), timeout=30, what="worker")
        return w

    def dockerinfo(self) -> dict:
        names = [n["container_name"] for n in DIAMOND["nodes"]]
        return {"docker_info_list": [{"container_name": c, "ip_address": "127.0.0.1",
                                      "port": str(self.svc_ports[i % 2])} for i, c in enumerate(names)]}

    def submit(self, rng: random.Random) -> str | None:
        params = {n["container_name"]: {"duration": round(rng.uniform(0.3, 3.0), 2), "steps": 5}
                  for n in DIAMOND["nodes"]}
        try:
            r = self.http.post("/workflows", json={"blueprint": DIAMOND, "dockerinfo": self.dockerinfo(),
                                                   "parameters": params})
        except httpx.HTTPError:
            return None
        return r.json()["workflow_id"] if r.status_code == 201 else None

    def status(self, wid: str) -> str | None:
        try:
            r = self.http.get(f"/workflows/{wid}")
        except httpx.HTTPError:
            return "unknown"
        if r.status_code == 404:
            return None
        return r.json()["status"] if r.status_code == 200 else "unknown"

    def check_workers(self) -> None:
        for i, w in enumerate(self.workers):
            if not w.alive():
                self.exits += 1
                print(f"  worker {w.pid} exited on its own:\n{w.log()[-1500:]}", flush=True)
                self.workers[i] = self.start_worker()

    # faults ------------------------------------------------------------------
    def fault(self, rng: random.Random) -> str:
        kind = rng.choice(["kill-worker", "term-worker", "kill-redis", "pause-redis", "deploy-service",
                           "kill-service"])
        if kind in ("kill-worker", "term-worker"):
            i = rng.randrange(len(self.workers))
            w = self.workers[i]
            if kind == "kill-worker":
                w.kill()
            else:
                w.stop()
            self.workers[i] = self.start_worker()
        elif kind == "kill-redis":
            self.redis.kill()
            self.redis.start()
        elif kind == "pause-redis":
            self.redis.pause()
            time.sleep(3)
            self.redis.resume()
        else:
            i = rng.randrange(2)
            if kind == "deploy-service":
                self.services[i].stop()
            else:
                self.services[i].kill()
            self.services[i] = self._service(i)
        return kind

    def executions(self, wids: list[str]) -> Counter:
        """(workflow, node) -> how many of its tasks completed, over both services."""
        done: Counter = Counter()
        for port in self.svc_ports:
            for wid in wids:
                r = httpx.get(f"http://127.0.0.1:{port}/control/tasks",
                              params={"workflow_id": wid, "limit": 1000}, timeout=10)
                for t in r.json()["tasks"]:
                    if t["status"] == "complete":
                        node = t["task_id"].rsplit(".a", 1)[0]  # the task id without its attempt
                        done[node] += 1
        return done

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.api.stop()
        for s in self.services:
            s.stop()
        self.redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of faults")
    parser.add_argument("--inflight", type=int, default=12, help="workflows kept running")
    parser.add_argument("--settle", type=float, default=120, help="seconds for the last workflows to end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.inflight, args.settle = 20, 4, 60
    rng = random.Random(args.seed)
    stack = Stack(workers=3)
    submitted: list[str] = []
    refused = 0
    faults: Counter = Counter()
    try:
        t_end = time.monotonic() + args.duration
        next_fault = time.monotonic() + rng.uniform(3, 6)
        running: set[str] = set()
        while time.monotonic() < t_end:
            running = {w for w in running if stack.status(w) not in FINAL}
            while len(running) < args.inflight:
                wid = stack.submit(rng)
                if wid is None:
                    refused += 1
                    break
                submitted.append(wid)
                running.add(wid)
            if time.monotonic() >= next_fault:
                kind = stack.fault(rng)
                faults[kind] += 1
                print(f"  t={args.duration - (t_end - time.monotonic()):5.1f}s {kind}", flush=True)
                next_fault = time.monotonic() + rng.uniform(3, 6)
            stack.check_workers()
            time.sleep(0.3)
        states: dict[str, str | None] = {}

        def settled() -> bool:
            for w in submitted:
                if states.get(w) not in FINAL:
                    states[w] = stack.status(w)
            stack.check_workers()
            return all(s in FINAL or s is None for s in states.values())
        try:
            wait_until(settled, timeout=args.settle, interval=1, what="all workflows ended")
        except TimeoutError:
            pass
        counts = Counter(states.values())
        dup = sum(n - 1 for n in stack.executions(submitted).values() if n > 1)
        print(f"\nchaos soak: {args.duration:g} s of faults ({sum(faults.values())}: "
              + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())) + f"), seed {args.seed}")
        print(f"submitted {len(submitted)} (refused while Redis was away: {refused})")
        print(f"completed {counts.get('complete', 0)}  failed {counts.get('failed', 0) + counts.get('cancelled', 0)}  "
              f"lost {counts.get(None, 0)}  duplicated {dup}  "
              f"stuck {sum(v for k, v in counts.items() if k not in FINAL and k is not None)}  "
              f"worker exits {stack.exits}")
        bad = [w for w, s in states.items() if s != "complete"]
        for w in bad[:5]:
            try:
                print(f"  {w}: {stack.http.get(f'/workflows/{w}').json()}")
            except Exception as exc:  # noqa: BLE001
                print(f"  {w}: {exc!r}")
        return 0 if not bad and dup == 0 and stack.exits == 0 else 1
    finally:
        stack.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
