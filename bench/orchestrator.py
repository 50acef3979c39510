#!/usr/bin/env python3
"""Orchestrator benchmark (issue 3's proof, plus issue 5's push/poll hop): `.venv/bin/python bench/orchestrator.py`.

Starts everything itself, as children stopped in try/finally (also on Ctrl-C
or SIGTERM): a redis-server on a free port, template services
(`templates/concurrent`, `SERVICE_MAX_WORKERS=600`), the orchestrator API
(uvicorn) and two workers (`python -m worker`), with default settings. Parts:

1. hop delay along a 20-node chain (LongProcess, 0.05 s, 1 step): next node's
   service-side `started_at` minus the previous node's `finished_at`; beside
   it RQ's own `depends_on` chain of 20 no-op jobs on the same Redis (RQ's
   `SimpleWorker`, and its forking `Worker`): next `started_at` - previous `ended_at`;
2. 200 diamond workflows submitted at once: time until all finished, node
   tasks per second, every node executed exactly once (service-side task lists);
3. 500 concurrently running nodes (25 fan-outs of 20 branches): peak of the
   services' running tasks, worker RSS (psutil), none lost;
4. the chain hop again with 100,000 finished workflows stored (clones of a
   real finished diamond, written with the orchestrator's key layout by a Lua
   script inside Redis); ratio to (1);
5. the hop with push (long-poll `?wait=`, the default) and without it (a
   service with `SERVICE_MAX_WAIT=0`: the orchestrator falls back to polling
   with backoff from `poll_min_interval` 0.05 s doubling to `poll_max_interval`
   2 s, its defaults), on chains of nodes of varied duration.

6. quick-node cost per node (`QuickNoop` of `bench/noop_service`, submit to
   finish of one workflow) at 100 and 10,000 nodes for a chain, a fan
   (1 -> 98 -> 1 vs 1 -> 5,000 -> 1) and a layered random DAG, and Redis CPU
   per node task from `INFO commandstats` with every command counted once (the
   target's figure): commandstats count a script's inner calls both on their own
   and inside the script's EVALSHA, so the time of the calls made by scripts is
   subtracted from the sum. Which part of each command's time that is comes from
   one unmeasured run of the shape (100 nodes) with every command in Redis's
   SLOWLOG (an entry of a call made by a script carries the client `?:0`); the
   measured runs go without SLOWLOG, which slows Redis down. Beside it the main
   thread's CPU time from `INFO cpu` (also network I/O), for information. The
   small workflow's figures are the medians of 3 runs (each lasts a few tenths
   of a second, so one hiccup of the shared cores would decide a single one);
7. node tasks/s of 100 concurrent 10-node chains of QuickNoop through the two
   workers, against RQ's `SimpleWorker` x2 on 1,000 no-op jobs in the same run;
8. the hop along chains of background `Noop` nodes against its floor measured
   here: a status and an output round trip, one Redis script round trip (the
   finish, which also claims the next node) and an execute round trip;
9. the time of `POST /workflows` of a 10,000-node fan.

`--quick` runs every part small (a smoke test of a few seconds per part).
Exit status: 0 when everything ran and nothing was lost (timing targets only
print MISS), 1 when a workflow failed or a node was lost or ran twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# this file is bench/orchestrator.py: never let it shadow the `orchestrator` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import httpx  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402
import redis  # noqa: E402

sys.path.insert(0, str(ROOT))
from orchestrator.http11 import HTTPClient  # noqa: E402

PY = sys.executable
TEMPLATE = ROOT / "templates" / "concurrent"
PREFIX = "orch"  # the orchestrator's default key prefix (its default settings are used throughout)
RQ_QUEUE = "bench-rq-chain"


# --------------------------------------------------------------------------- configuration
@dataclass
class Config:
    chain_len: int = 20
    chain_duration: float = 0.05
    chains: int = 10                  # part 1 and part 4
    rq_chains: int = 10
    rq_fork_chains: int = 3
    diamonds: int = 200               # part 2
    diamond_duration: float = 0.1
    diamond_steps: int = 2
    fanouts: int = 25                 # part 3: fanouts x branches running at once
    branches: int = 20
    branch_duration: float = 10.0
    branch_steps: int = 5
    stored: int = 100_000             # part 4
    push_chains: int = 2              # part 5 (per mode)
    push_durations: tuple[float, float] = (0.05, 1.5)
    scale_small: int = 100            # part 6: quick-node cost per node, small vs large
    scale_large: int = 10_000
    scale_fan: int = 5_000            # 1 -> scale_fan -> 1
    dag_width: int = 10
    tp_chains: int = 100              # part 7
    tp_len: int = 10
    rq_jobs: int = 1000
    bg_chains: int = 5                # part 8
    floor_reps: int = 20
    submit_fan: int = 10_000          # part 9


SMALL_RUNS = 3  # part 6: runs of the small size, medians taken
SLOWLOG_MAX = 1_000_000  # part 6 logs every command of a small run (about 15 per node) to split script calls
CONTAINER_COMMANDS = {"pubsub", "script", "config", "client", "object", "memory", "function", "command", "slowlog",
                      "latency", "acl", "cluster", "xinfo", "module"}  # commandstats names them "name|sub"

QUICK = Config(chains=2, rq_chains=2, rq_fork_chains=1, diamonds=20, fanouts=5, branch_duration=3.0,
               branch_steps=3, stored=5_000, push_chains=1, push_durations=(0.05, 0.3),
               scale_small=12, scale_large=60, scale_fan=40, dag_width=4, tp_chains=10, rq_jobs=100,
               bg_chains=1, floor_reps=5, submit_fan=300)


# --------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Children:
    """Child processes with logs in a temp dir; stopped with SIGTERM, then SIGKILL."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-orch-"))

    def start(self, name: str, args: list[str], cwd: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        p = subprocess.Popen(args, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append((name, p))
        return p

    def log(self, name: str) -> str:
        try:
            return (self.tmp / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def check_alive(self) -> None:
        for name, p in self.procs:
            if p.poll() is not None and not name.startswith("rq-"):
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.log(name)[-3000:]}")

    def stop(self, p: subprocess.Popen, timeout: float = 10) -> None:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stop_all(self) -> None:
        for _, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 12
        for _, p in reversed(self.procs):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_until(pred, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as exc:  # noqa: BLE001
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}" + (f": {last!r}" if last else ""))


# --------------------------------------------------------------------------- blueprints
def blueprint(name: str, edges: dict[str, list[str]], op: str = "LongProcess") -> dict:
    """pipeline-topology/v2 blueprint; `edges` maps each container (in order) to its children."""
    nodes = []
    for c, children in edges.items():
        nodes.append({
            "container_name": c, "proto_uri": "service.proto", "image": "longops-template:latest",
            "node_type": "MLModel",
            "operation_signature_list": [{
                "operation_signature": {"operation_name": op, "input_message_name": "Input",
                                        "output_message_name": "Output", "input_message_stream": False,
                                        "output_message_stream": False},
                "connected_to": [{"container_name": k, "operation_signature": {"operation_name": op}}
                                 for k in children]}]})
    return {"name": name, "pipeline_id": name, "type": "pipeline-topology/v2", "version": "2.0", "nodes": nodes}


def dockerinfo(containers: list[str], ports: list[int]) -> dict:
    return {"docker_info_list": [{"container_name": c, "ip_address": "127.0.0.1", "port": str(ports[i % len(ports)])}
                                 for i, c in enumerate(containers)]}


def chain_edges(n: int, tag: str = "n") -> dict[str, list[str]]:
    names = [f"{tag}{i:02d}" for i in range(n)]
    return {c: ([names[i + 1]] if i + 1 < n else []) for i, c in enumerate(names)}


DIAMOND = {"source": ["left", "right"], "left": ["sink"], "right": ["sink"], "sink": []}


def fanout_edges(branches: int, tag: str = "b") -> dict[str, list[str]]:
    names = [f"{tag}{i:02d}" for i in range(branches)]
    return {"source": names, **{b: ["sink"] for b in names}, "sink": []}


def dag_edges(n: int, width: int, seed: int) -> dict[str, list[str]]:
    """A layered random DAG of about `n` nodes: layers of `width`, each node feeding 1-3 nodes of
    the next layer, every node of a layer fed by at least one of the layer before."""
    rnd = random.Random(seed)
    layers = [[f"d{k:05d}x{j:02d}" for j in range(width)] for k in range(max(2, n // width))]
    edges: dict[str, list[str]] = {name: [] for layer in layers for name in layer}
    for up, down in zip(layers, layers[1:]):
        fed: set[str] = set()
        for name in up:
            edges[name] = rnd.sample(down, rnd.randint(1, min(3, len(down))))
            fed.update(edges[name])
        for name in down:
            if name not in fed:
                edges[rnd.choice(up)].append(name)
    return edges


# --------------------------------------------------------------------------- statistics
def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": statistics.median(values), "p95": pct(values, 0.95),
            "max": max(values), "mean": statistics.fmean(values)}


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 10 else f"{x:.1f} s"


def hop_line(s: dict[str, float]) -> str:
    return f"p50 {ms(s['p50'])}, p95 {ms(s['p95'])}, max {ms(s['max'])} (n={s['n']})"


# --------------------------------------------------------------------------- the bench
class LostWork(AssertionError):
    """A workflow failed, or a node was lost or executed twice."""


class Bench:
    def __init__(self, cfg: Config, quick: bool) -> None:
        self.cfg = cfg
        self.quick = quick
        self.kids = Children()
        self.rows: list[tuple[str, str, str, str, str]] = []  # part, figure, value, target, verdict
        self.problems: list[str] = []
        self.seq = 0
        self.failed_chains = 0

    # -- setup ---------------------------------------------------------------------------
    def setup(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("redis-server is not installed")
        rport = free_port()
        self.kids.start("redis", [exe, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(self.kids.tmp)])
        self.redis_url = f"redis://127.0.0.1:{rport}/0"
        self.r = redis.Redis.from_url(self.redis_url, decode_responses=True)
        wait_until(self.r.ping, 10, "redis-server")

        # services: A-D carry chains, diamonds and fan-outs; P never long-polls (part 5)
        self.svc: dict[str, int] = {}
        for name, extra in [("A", {}), ("B", {}), ("C", {}), ("D", {}), ("P", {"SERVICE_MAX_WAIT": "0"})]:
            port = free_port()
            self.svc[name] = port
            self.kids.start(f"service-{name}", [PY, "service.py"], cwd=TEMPLATE,
                            env={"PORT": str(port), "HOST": "127.0.0.1", "SERVICE_MAX_WORKERS": "600",
                                 "SERVICE_SHUTDOWN_GRACE": "1", "SERVICE_LOG_LEVEL": "warning", **extra})
        # N: the bench's no-op service (QuickNoop answered inside execute, Noop in the background)
        port = free_port()
        self.svc["N"] = port
        self.kids.start("service-N", [PY, "service.py"], cwd=BENCH / "noop_service",
                        env={"PORT": str(port), "HOST": "127.0.0.1", "SERVICE_MAX_WORKERS": "600",
                             "SERVICE_SHUTDOWN_GRACE": "1", "SERVICE_LOG_LEVEL": "warning",
                             "SERVICE_RETENTION_MAX": "200000",
                             "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
        env = {"REDIS_URL": self.redis_url}
        self.api_port = free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.kids.start("api", [PY, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port",
                                str(self.api_port), "--log-level", "warning"], cwd=ROOT / "orchestrator", env=env)
        self.workers = [self.kids.start(f"worker-{i}", [PY, "-m", "worker"], cwd=ROOT / "orchestrator", env=env)
                        for i in (1, 2)]
        self.http = httpx.Client(timeout=30)
        for name, port in self.svc.items():
            wait_until(lambda: self._up(f"http://127.0.0.1:{port}/health"), 30, f"service {name}", 0.1)
        wait_until(lambda: self._up(f"{self.api}/health"), 30, "orchestrator API", 0.1)
        for i in (1, 2):
            wait_until(lambda: "listening on" in self.kids.log(f"worker-{i}"), 30, f"worker {i}", 0.1)

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user+sys) used so far by the API, both workers, the four services, Redis."""
        groups = {"API": ["api"], "workers": ["worker-1", "worker-2"],
                  "services": [f"service-{x}" for x in "ABCD"], "Redis": ["redis"]}
        procs = dict(self.kids.procs)
        out = {}
        for k, names in groups.items():
            total = 0.0
            for nm in names:
                try:
                    t = psutil.Process(procs[nm].pid).cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            out[k] = total
        return out

    def service_cpu(self, svc: str) -> float:
        """CPU seconds (user+sys) used so far by one service."""
        try:
            t = psutil.Process(dict(self.kids.procs)[f"service-{svc}"].pid).cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system

    def _up(self, url: str) -> bool:
        self.kids.check_alive()
        try:
            return self.http.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def url(self, svc: str) -> str:
        return f"http://127.0.0.1:{self.svc[svc]}"

    def wid(self, kind: str) -> str:
        self.seq += 1
        return f"{kind}-{self.seq:06d}-{os.urandom(3).hex()}"

    # -- helpers ---------------------------------------------------------------------------
    def request(self, edges: dict[str, list[str]], ports: list[int], params: dict[str, dict], wid: str) -> dict:
        return {"blueprint": blueprint(wid.split("-")[0], edges), "dockerinfo": dockerinfo(list(edges), ports),
                "parameters": params, "workflow_id": wid,
                "inputs": [{"protocol": "inline", "uri": "inline://seed", "format": "json", "data": {"seed": 1}}]}

    def submit(self, body: dict) -> str:
        r = self.http.post(f"{self.api}/workflows", json=body)
        if r.status_code not in (200, 201, 202):
            raise RuntimeError(f"submit: HTTP {r.status_code}: {r.text[:500]}")
        return r.json()["workflow_id"]

    async def _submit_many(self, bodies: list[dict]) -> list[str]:
        """Submit every body at once (64 connections). With the orchestrator's own light HTTP client:
        the bench is the load, and on 2 shared cores a heavy client takes CPU from what it measures."""
        http = HTTPClient(timeout=60)
        gate = asyncio.Semaphore(64)

        async def one(b: dict) -> str:
            async with gate:
                code, raw = await http.request("POST", f"{self.api}/workflows", json_body=b)
            if code not in (200, 201, 202):
                raise RuntimeError(f"submit: HTTP {code}: {raw[:500]!r}")
            return orjson.loads(raw)["workflow_id"]
        try:
            return await asyncio.gather(*(one(b) for b in bodies))
        finally:
            await http.aclose()

    def submit_many(self, bodies: list[dict]) -> list[str]:
        return asyncio.run(self._submit_many(bodies))

    def wait_workflows(self, wids: list[str], timeout: float, interval: float = 0.02) -> dict[str, dict]:
        """Poll Redis until every workflow is final; returns their `wf` hashes. Only the workflows
        still running are read again (the poll is the bench's, not the orchestrator's: it stays light)."""
        fields = ("status", "finished_ts", "done", "total", "error", "created_ts")
        deadline = time.monotonic() + timeout
        done: dict[str, dict] = {}
        pending = list(wids)
        while True:
            pipe = self.r.pipeline(transaction=False)
            for w in pending:
                pipe.hmget(f"{PREFIX}:wf:{w}", *fields)
            for w, row in zip(pending, pipe.execute()):
                if row[0] in ("complete", "failed", "cancelled"):
                    done[w] = dict(zip(fields, row))
            pending = [w for w in pending if w not in done]
            if not pending:
                return {w: done[w] for w in wids}
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} workflows not finished after {timeout} s, e.g. {pending[:3]}")
            self.kids.check_alive()
            time.sleep(interval)

    def service_tasks(self, svc: str, wid: str | None = None) -> list[dict]:
        out: list[dict] = []
        offset = 0
        while True:
            params: dict = {"limit": 1000, "offset": offset}
            if wid:
                params["workflow_id"] = wid
            page = self.http.get(f"{self.url(svc)}/control/tasks", params=params).json()["tasks"]
            out += page
            if len(page) < 1000:
                return out
            offset += 1000

    def health(self, svc: str) -> dict:
        return self.http.get(f"{self.url(svc)}/health", timeout=5).json()

    def check_exactly_once(self, wids: list[str], nodes_per_wf: int, tasks: list[dict], wfs: dict[str, dict],
                           what: str) -> str:
        """Every workflow complete; service-side exactly one task per node, all complete, first attempt."""
        by_wf: dict[str, list[dict]] = {}
        for t in tasks:
            if t.get("workflow_id") in wfs:
                by_wf.setdefault(t["workflow_id"], []).append(t)
        bad = []
        for w in wids:
            if wfs[w]["status"] != "complete":
                bad.append(f"{w}: workflow {wfs[w]['status']} ({wfs[w].get('error')})")
                continue
            ts_ = by_wf.get(w, [])
            idx = [t["task_id"].split(".")[2] for t in ts_]
            if (len(ts_) != nodes_per_wf or len(set(idx)) != nodes_per_wf
                    or any(t["status"] != "complete" for t in ts_)
                    or any(not t["task_id"].endswith(".a1") for t in ts_)):
                bad.append(f"{w}: {len(ts_)} service tasks for {nodes_per_wf} nodes "
                           f"({sorted(t['status'] for t in ts_)[:5]})")
        n_tasks = sum(len(v) for v in by_wf.values())
        if bad:
            self.problems.append(f"{what}: " + "; ".join(bad[:5]))
            return f"LOST/DUPLICATED: {len(bad)} of {len(wids)} workflows ({n_tasks} tasks)"
        return f"all {len(wids)} complete, {n_tasks} node tasks = {len(wids)}x{nodes_per_wf}, each executed once"

    def row(self, part: str, figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("ok" if ok else "MISS")
        self.rows.append((part, figure, value, target, verdict))
        print(f"  {figure}: {value}" + (f"   [target {target}: {verdict}]" if target else ""), flush=True)

    # -- part 1 / 4: the chain ------------------------------------------------------------------
    def chain_hops(self, n_chains: int, svc: str = "A", durations: list[float] | None = None,
                   steps: int = 1) -> tuple[list[float], list[float]]:
        """Run chains one after another; (hops by started_at, hops by created_at) in seconds."""
        edges = chain_edges(self.cfg.chain_len)
        hops, hops_created = [], []
        done = attempts = 0
        while done < n_chains:
            attempts += 1
            if attempts > 2 * n_chains + 2:
                raise LostWork(f"chains keep failing ({attempts - 1} tried, {done} complete)")
            wid = self.wid("chain")
            durs = durations or [self.cfg.chain_duration] * self.cfg.chain_len
            params = {c: {"duration": durs[i], "steps": steps} for i, c in enumerate(edges)}
            self.submit(self.request(edges, [self.svc[svc]], params, wid))
            wf = self.wait_workflows([wid], 120)[wid]
            tasks = self.service_tasks(svc, wid)
            msg = self.check_exactly_once([wid], self.cfg.chain_len, tasks, {wid: wf}, "chain")
            if msg.startswith("LOST"):
                # recorded in self.problems (the run exits 1); measure on with another chain
                print(f"  !! chain {wid} did not complete: {wf['status']}: {wf.get('error')}", flush=True)
                self.failed_chains += 1
                continue
            done += 1
            by_idx = sorted(tasks, key=lambda t: int(t["task_id"].split(".")[2]))
            for a, b in zip(by_idx, by_idx[1:]):
                hops.append(ts(b["started_at"]) - ts(a["finished_at"]))
                hops_created.append(ts(b["created_at"]) - ts(a["finished_at"]))
        return hops, hops_created

    def rq_chain_hops(self, worker_class: str, n_chains: int) -> list[float]:
        """RQ's own `depends_on` chain of no-op jobs on the same Redis (a queue of its own).

        Each chain is enqueued whole (head queued, the rest deferred), then a burst
        worker of `worker_class` runs it and exits when the queue is empty.
        """
        from rq import Queue
        from rq.job import Job

        conn = redis.Redis.from_url(self.redis_url)
        code = ("import redis, rq\n"
                f"conn = redis.Redis.from_url({self.redis_url!r})\n"
                f"w = getattr(rq, {worker_class!r})([rq.Queue({RQ_QUEUE!r}, connection=conn)], connection=conn)\n"
                "w.work(burst=True, with_scheduler=False, logging_level='WARNING')\n")
        q = Queue(RQ_QUEUE, connection=conn)
        hops: list[float] = []
        try:
            for k in range(n_chains):
                q.enqueue("orch_noop.noop", result_ttl=0)  # warms the fresh worker up; not measured
                jobs = []
                prev = None
                for _ in range(self.cfg.chain_len):
                    prev = q.enqueue("orch_noop.noop", depends_on=prev, result_ttl=600)
                    jobs.append(prev)
                name = f"rq-{worker_class}-{k}"
                p = self.kids.start(name, [PY, "-c", code], cwd=BENCH, env={"PYTHONPATH": str(BENCH)})
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    self.kids.stop(p)
                fetched = Job.fetch_many([j.id for j in jobs], connection=conn)
                if any(j is None or j.get_status() != "finished" for j in fetched):
                    raise RuntimeError(f"RQ chain did not finish:\n{self.kids.log(name)[-2000:]}")
                for a, b in zip(fetched, fetched[1:]):
                    hops.append((b.started_at - a.ended_at).total_seconds())
            return hops
        finally:
            conn.close()

    def part1(self) -> dict:
        c = self.cfg
        print(f"\n== 1. hop delay along a {c.chain_len}-node chain (LongProcess {c.chain_duration} s, 1 step), "
              f"{c.chains} chains; RQ depends_on chain of {c.chain_len} no-op jobs", flush=True)
        self.chain_hops(1)  # warm-up (imports, connections), not counted
        # interleaved, so both see the same load of this shared machine
        hops, hops_c, rq_simple = [], [], []
        for k in range(max(c.chains, c.rq_chains)):
            if k < c.chains:
                h, hc = self.chain_hops(1)
                hops += h
                hops_c += hc
            if k < c.rq_chains:
                rq_simple += self.rq_chain_hops("SimpleWorker", 1)
        s = summary(hops)
        simple = summary(rq_simple)
        fork = summary(self.rq_chain_hops("Worker", c.rq_fork_chains))
        if self.failed_chains:
            self.row("1", "chains that FAILED (not measured)", f"{self.failed_chains} (see PROBLEMS)", "0", False)
        self.row("1", "orchestrator hop (finished -> next started_at)", hop_line(s), "p50 < 10 ms", s["p50"] < 0.010)
        self.row("1", "orchestrator hop (finished -> next created_at)", hop_line(summary(hops_c)))
        self.row("1", "RQ SimpleWorker depends_on hop", hop_line(simple), "~2.3 ms (reference)")
        self.row("1", "RQ forking Worker depends_on hop", hop_line(fork), "~14 ms (reference)")
        self.row("1", "orchestrator p50 / RQ SimpleWorker p50", f"{s['p50'] / simple['p50']:.2f}x")
        self.row("1", "orchestrator p50 / RQ forking Worker p50", f"{s['p50'] / fork['p50']:.2f}x")
        return s

    # -- part 2: diamonds ---------------------------------------------------------------------
    def part2(self) -> None:
        c = self.cfg
        n = c.diamonds
        print(f"\n== 2. {n} diamond workflows submitted at once (4 nodes each, LongProcess "
              f"{c.diamond_duration} s in {c.diamond_steps} steps, 4 services, 2 workers)", flush=True)
        ports = [self.svc[s] for s in "ABCD"]
        params = {k: {"duration": c.diamond_duration, "steps": c.diamond_steps} for k in DIAMOND}
        bodies = [self.request(DIAMOND, ports, params, self.wid("dia")) for _ in range(n)]
        before = {s: self.health(s)["started_total"] for s in "ABCD"}
        cpu0 = self.cpu()
        t0 = time.time()
        wids = self.submit_many(bodies)
        t_sub = time.time() - t0
        wfs = self.wait_workflows(wids, 300)
        cpu = {k: v - cpu0[k] for k, v in self.cpu().items()}
        t_end = max(float(w["finished_ts"]) for w in wfs.values())
        elapsed = t_end - t0
        started = sum(self.health(s)["started_total"] - before[s] for s in "ABCD")
        tasks = [t for s in "ABCD" for t in self.service_tasks(s)]
        check = self.check_exactly_once(wids, 4, tasks, wfs, "part 2")
        rate = 4 * n / elapsed
        self.row("2", f"submit {n} workflows (concurrent POSTs)", f"{t_sub:.2f} s ({n / t_sub:.0f} POST/s, API)")
        self.row("2", f"time until all {n} finished", f"{elapsed:.2f} s from the first POST, "
                 f"{t_end - t0 - t_sub:.2f} s after the last")
        self.row("2", "CPU per node task", ", ".join(f"{k} {1000 * v / (4 * n):.1f} ms" for k, v in cpu.items())
                 + f" (2 cores: {2 * elapsed:.1f} CPU-s available)")
        self.row("2", "node tasks per second (2 workers)", f"{rate:.0f}/s", ">= 100/s", rate >= 100)
        ok = not check.startswith("LOST") and started == 4 * n
        self.row("2", "nothing lost", f"{check}; services' started_total +{started}", "all, exactly once", ok)
        self.diamond_template = wids[0]

    # -- part 3: many running at once ------------------------------------------------------
    def part3(self) -> None:
        c = self.cfg
        target = c.fanouts * c.branches
        print(f"\n== 3. {target} concurrently running nodes: {c.fanouts} fan-outs (source -> {c.branches} "
              f"branches of LongProcess {c.branch_duration} s -> sink), 4 services, 2 workers", flush=True)
        edges = fanout_edges(c.branches)
        ports = [self.svc[s] for s in "ABCD"]
        params = {k: {"duration": 0.05, "steps": 1} for k in edges}
        params.update({k: {"duration": c.branch_duration, "steps": c.branch_steps} for k in edges
                       if k.startswith("b")})
        bodies = [self.request(edges, ports, params, self.wid("fan")) for _ in range(c.fanouts)]
        procs = [psutil.Process(w.pid) for w in self.workers]
        rss_idle = [p.memory_info().rss for p in procs]
        before = {s: self.health(s)["started_total"] for s in "ABCD"}
        peak = {"running": 0, "active": 0, "rss": [0, 0], "t": 0.0}
        stop = threading.Event()

        def monitor() -> None:
            client = httpx.Client(timeout=5)
            while not stop.is_set():
                try:
                    hs = [client.get(f"{self.url(s)}/health").json() for s in "ABCD"]
                    running = sum(h["running_jobs"] for h in hs)
                    active = sum(h["active"] for h in hs)
                    rss = [p.memory_info().rss for p in procs]
                except (httpx.HTTPError, psutil.Error):
                    continue
                if running > peak["running"]:
                    peak.update(running=running, t=time.time())
                peak["active"] = max(peak["active"], active)
                peak["rss"] = [max(a, b) for a, b in zip(peak["rss"], rss)]
                stop.wait(0.1)
            client.close()

        th = threading.Thread(target=monitor, daemon=True)
        th.start()
        t0 = time.time()
        try:
            wids = self.submit_many(bodies)
            wfs = self.wait_workflows(wids, c.branch_duration + 300)
        finally:
            stop.set()
            th.join(10)
        started = sum(self.health(s)["started_total"] - before[s] for s in "ABCD")
        tasks = [t for s in "ABCD" for t in self.service_tasks(s)]
        n_nodes = len(edges)
        check = self.check_exactly_once(wids, n_nodes, tasks, wfs, "part 3")
        self.row("3", "peak running node tasks on the services", f"{peak['running']} "
                 f"(reached {peak['t'] - t0:.1f} s after the first POST)", f">= {target}", peak["running"] >= target)
        mb = 1024 * 1024
        self.row("3", "worker RSS idle -> peak", ", ".join(f"w{i + 1} {a / mb:.0f} -> {b / mb:.0f} MB"
                                                          for i, (a, b) in enumerate(zip(rss_idle, peak["rss"]))))
        ok = not check.startswith("LOST") and started == n_nodes * len(wids)
        self.row("3", "nothing lost", f"{check}; services' started_total +{started}", "all, exactly once", ok)

    # -- part 4: 100k finished workflows stored --------------------------------------------
    CLONE = r"""
-- ARGV: prefix, template wid, new-id prefix, first k, count, N, now, span, ttl
local P, T, NP = ARGV[1], ARGV[2], ARGV[3]
local first, count, N = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now, span, ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local tk = P .. ':wf:' .. T
local wf = redis.call('HGETALL', tk)
local total = tonumber(redis.call('HGET', tk, 'total'))
local nodes = {}
for i = 0, total - 1 do nodes[i] = redis.call('HGETALL', tk .. ':n:' .. i) end
local tl = #T
for k = first, first + count - 1 do
  local wid = NP .. string.format('%07d', k)
  local fin = now - span * (N - k) / N
  local created = fin - 0.5
  local wk = P .. ':wf:' .. wid
  local a = {}
  for j = 1, #wf, 2 do
    local f, v = wf[j], wf[j + 1]
    if f == 'workflow_id' then v = wid
    elseif f == 'created_ts' then v = string.format('%.6f', created)
    elseif f == 'finished_ts' then v = string.format('%.6f', fin) end
    a[#a + 1] = f; a[#a + 1] = v
  end
  redis.call('HSET', wk, unpack(a))
  redis.call('EXPIRE', wk, ttl)
  for i = 0, total - 1 do
    local nd, b = nodes[i], {}
    for j = 1, #nd, 2 do
      local f, v = nd[j], nd[j + 1]
      if f == 'task_id' then v = wid .. string.sub(v, tl + 1) end
      b[#b + 1] = f; b[#b + 1] = v
    end
    redis.call('HSET', wk .. ':n:' .. i, unpack(b))
    redis.call('EXPIRE', wk .. ':n:' .. i, ttl)
  end
  redis.call('ZADD', P .. ':index', created, wid)
  redis.call('ZADD', P .. ':status:complete', created, wid)
  redis.call('ZADD', P .. ':finished', fin, wid)
end
return count
"""

    def part4(self, base: dict) -> None:
        c = self.cfg
        n = c.stored
        print(f"\n== 4. the chain hop again with {n:,} finished workflows stored", flush=True)
        before = self.r.dbsize()
        t0 = time.time()
        clone = self.r.register_script(self.CLONE)
        batch = 2000
        # finished over the last 12 h: within the default retention (24 h), below max_finished (200k)
        for first in range(0, n, batch):
            clone(args=[PREFIX, self.diamond_template, "stored-", first, min(batch, n - first), n,
                        repr(time.time()), 12 * 3600, 86400])
        t_fill = time.time() - t0
        info = self.r.info("memory")
        stored = self.r.zcard(f"{PREFIX}:finished")
        self.row("4", "finished workflows stored", f"{stored:,} in orch:finished (+{self.r.dbsize() - before:,} keys, "
                 f"written in {t_fill:.1f} s; Redis {info['used_memory_human']})")
        # let the workers' maintenance (every 10 s) see the large sets at least once
        failed = self.failed_chains
        hops, _ = self.chain_hops(c.chains)
        if self.failed_chains > failed:
            self.row("4", "chains that FAILED (not measured)", f"{self.failed_chains - failed} (see PROBLEMS)",
                     "0", False)
        s = summary(hops)
        self.row("4", "orchestrator hop with them stored", hop_line(s), "p50 < 10 ms", s["p50"] < 0.010)
        ratio = s["p50"] / base["p50"]
        self.row("4", "hop p50 ratio (4)/(1)", f"{ratio:.2f}x (p95 {s['p95'] / base['p95']:.2f}x)", "<= 1.2x",
                 ratio <= 1.2)
        alive = self.r.zcard(f"{PREFIX}:finished")
        self.row("4", "stored workflows still present after the run", f"{alive:,} (maintenance pruned {max(0, stored - alive):,})")

    # -- part 5: push vs polling --------------------------------------------------------------
    def part5(self) -> None:
        c = self.cfg
        lo, hi = c.push_durations
        print(f"\n== 5. hop with and without push: {c.push_chains} chain(s) of {c.chain_len} nodes each, "
              f"durations spread over {lo}-{hi} s (same for both), 1 step", flush=True)
        rnd = random.Random(5)
        durs = [[round(rnd.uniform(lo, hi), 3) for _ in range(c.chain_len)] for _ in range(c.push_chains)]
        push, poll = [], []
        failed = self.failed_chains
        for d in durs:
            push += self.chain_hops(1, "A", d)[0]
            poll += self.chain_hops(1, "P", d)[0]
        if self.failed_chains > failed:
            self.row("5", "chains that FAILED (not measured)", f"{self.failed_chains - failed} (see PROBLEMS)",
                     "0", False)
        sp, sq = summary(push), summary(poll)
        self.row("5", "hop WITH push (long-poll ?wait=, default)", hop_line(sp), "< 1 s", sp["max"] < 1.0)
        self.row("5", "hop WITHOUT push (SERVICE_MAX_WAIT=0: fallback polling, backoff 0.05 s x2 .. 2 s)",
                 hop_line(sq) + f", mean {ms(sq['mean'])}")
        self.row("5", "without / with push (p50)", f"{sq['p50'] / sp['p50']:.0f}x")

    # -- parts 6-9: scale (issue 12) ------------------------------------------------------------
    def quick_request(self, edges: dict[str, list[str]], wid: str, op: str = "QuickNoop") -> dict:
        return {"blueprint": blueprint(wid.split("-")[0], edges, op), "workflow_id": wid,
                "dockerinfo": dockerinfo(list(edges), [self.svc["N"]]), "parameters": {}, "inputs": []}

    def redis_usec(self) -> dict[str, int]:
        """Redis time per command so far (`INFO commandstats`, microseconds), and `cpu`: the
        main thread's CPU time (`INFO cpu`: commands, scripts and network I/O)."""
        out = {k.removeprefix("cmdstat_"): int(v["usec"]) for k, v in self.r.info("commandstats").items()}
        info = self.r.info("cpu")
        out["cpu"] = int(1e6 * (info["used_cpu_user_main_thread"] + info["used_cpu_sys_main_thread"]))
        return out

    def script_share(self, kind: str, edges: dict[str, list[str]]) -> dict[str, float]:
        """Per command, the share of its `INFO commandstats` time spent in calls made by scripts, learned
        from one unmeasured workflow of the shape with every command in Redis's SLOWLOG (threshold 0;
        a call made by a script is logged with the client `?:0`). Logging every command slows Redis
        down, so the measured runs go without it."""
        self.r.config_set("slowlog-max-len", SLOWLOG_MAX)
        self.r.slowlog_reset()
        self.r.config_set("slowlog-log-slower-than", 0)
        try:
            u0 = self.redis_usec()
            wid = self.wid(f"{kind}cal")
            self.submit(self.quick_request(edges, wid))
            self.wait_workflows([wid], 60 + 0.2 * len(edges), interval=0.25)
            u1 = self.redis_usec()
        finally:
            self.r.config_set("slowlog-log-slower-than", 10_000)
        raw = redis.Redis.from_url(self.redis_url)  # bytes: arguments need not be UTF-8
        try:
            entries = raw.execute_command("SLOWLOG", "GET", "-1")
        finally:
            raw.close()
        self.r.slowlog_reset()
        if len(entries) >= SLOWLOG_MAX:
            raise RuntimeError(f"SLOWLOG full ({len(entries)} entries): the split would be wrong")
        inner: dict[str, int] = {}
        for e in entries:  # id, time, duration (usec), argv, client address, client name
            if e[4] != b"?:0":
                continue
            argv = e[3]
            name = argv[0].decode().lower()
            if name in CONTAINER_COMMANDS and len(argv) > 1:
                name += "|" + argv[1].decode().lower()
            inner[name] = inner.get(name, 0) + int(e[2])
        return {k: min(1.0, v / max(1, u1.get(k, 0) - u0.get(k, 0))) for k, v in inner.items()}

    def scale_run(self, kind: str, edges: dict[str, list[str]],
                  share: dict[str, float]) -> tuple[float, float, float, str]:
        """One workflow of quick nodes: (seconds per node, Redis ms per node from commandstats with
        every command counted once, Redis CPU ms per node from INFO cpu, commandstats detail).
        `share`: per command, the part of its time spent in calls made by scripts (`script_share`)."""
        n = len(edges)
        wid = self.wid(kind)
        body = self.quick_request(edges, wid)
        u0 = self.redis_usec()
        self.submit(body)
        wf = self.wait_workflows([wid], 60 + 0.2 * n, interval=0.25)[wid]
        u1 = self.redis_usec()
        ran = len({t["task_id"] for t in self.service_tasks("N", wid)})
        if wf["status"] != "complete" or int(wf["done"]) != n or ran != n:
            raise LostWork(f"{kind} of {n}: {wf['status']} ({wf.get('error')}), {wf['done']}/{n} done, "
                           f"{ran} service tasks")
        per_node = (float(wf["finished_ts"]) - float(wf["created_ts"])) / n
        delta = {k: v - u0.get(k, 0) for k, v in u1.items()}
        cpu = delta.pop("cpu")
        summed = sum(delta.values())
        scripts = sum(v for k, v in delta.items() if k.startswith(("evalsha", "eval", "fcall")))
        inner = sum(v * share.get(k, 0.0) for k, v in delta.items())
        once = summed - inner  # every command once: scripts (with their calls) + the calls made from outside
        stats = (f"scripts {scripts / 1000 / n:.3f} ms + other commands {(once - scripts) / 1000 / n:.3f} ms; "
                 f"all summed {summed / 1000 / n:.3f} ms counts script calls twice")
        return per_node, once / 1000 / n, cpu / 1000 / n, stats

    def part6(self) -> None:
        c = self.cfg
        print(f"\n== 6. quick-node cost per node, {c.scale_small} nodes vs {c.scale_large:,} (QuickNoop, "
              f"1 service, 2 workers; Redis time per node from INFO commandstats, each command once, "
              f"INFO cpu beside)", flush=True)
        shapes = [("chain", chain_edges(c.scale_small, "c"), chain_edges(c.scale_large, "c")),
                  ("fan", fanout_edges(c.scale_small - 2, "f"), fanout_edges(c.scale_fan, "f")),
                  ("dag", dag_edges(c.scale_small, c.dag_width, 6), dag_edges(c.scale_large, c.dag_width, 6))]
        self.scale_run("warm", chain_edges(10, "w"), {})  # warm-up, not counted
        for kind, small, large in shapes:
            share = self.script_share(kind, small)
            # a small workflow runs in a few tenths of a second: its figures are the medians of
            # SMALL_RUNS runs, so one scheduling hiccup of the shared cores does not make them
            runs = [self.scale_run(kind, small, share) for _ in range(SMALL_RUNS)]
            a, ra, ca = (statistics.median(r[k] for r in runs) for k in range(3))
            b, rb, cb, tb = self.scale_run(kind, large, share)
            name = {"fan": f"1 -> {len(small) - 2:,} -> 1 vs 1 -> {len(large) - 2:,} -> 1",
                    "dag": f"layered random DAG (width {c.dag_width})", "chain": "chain"}[kind]
            self.row("6", f"{name}: ms per node at {len(small):,} / {len(large):,} nodes",
                     f"{a * 1000:.2f} / {b * 1000:.2f} ms = {b / a:.2f}x", "<= 1.3x", b / a <= 1.3)
            self.row("6", f"{kind}: Redis CPU per node (commandstats, each command once) at "
                     f"{len(small):,} / {len(large):,}", f"{ra:.3f} / {rb:.3f} ms (at {len(large):,}: {tb})",
                     "<= 0.25 ms", max(ra, rb) <= 0.25)
            self.row("6", f"{kind}: Redis CPU per node (INFO cpu: also network I/O) at {len(small):,} / "
                     f"{len(large):,}", f"{ca:.3f} / {cb:.3f} ms")

    def rq_rate(self, n_jobs: int) -> float:
        """RQ `SimpleWorker` x2 on `n_jobs` no-op jobs: jobs per second (first start to last end)."""
        from rq import Queue
        from rq.job import Job

        conn = redis.Redis.from_url(self.redis_url)
        queue = f"{RQ_QUEUE}-rate"
        q = Queue(queue, connection=conn)
        jobs = q.enqueue_many([Queue.prepare_data("orch_noop.noop", result_ttl=600) for _ in range(n_jobs)])
        code = ("import redis, rq\n"
                f"conn = redis.Redis.from_url({self.redis_url!r})\n"
                f"w = rq.SimpleWorker([rq.Queue({queue!r}, connection=conn)], connection=conn)\n"
                "w.work(burst=True, with_scheduler=False, logging_level='WARNING')\n")
        ps = [self.kids.start(f"rq-rate-{k}", [PY, "-c", code], cwd=BENCH, env={"PYTHONPATH": str(BENCH)})
              for k in (1, 2)]
        for p in ps:
            try:
                p.wait(300)
            except subprocess.TimeoutExpired:
                self.kids.stop(p)
        fetched = [j for j in Job.fetch_many([j.id for j in jobs], connection=conn) if j is not None]
        conn.close()
        done = [j for j in fetched if j.get_status() == "finished"]
        if len(done) != n_jobs:
            raise RuntimeError(f"RQ ran {len(done)} of {n_jobs} jobs")
        span = (max(j.ended_at for j in done) - min(j.started_at for j in done)).total_seconds()
        return n_jobs / span

    def part7(self) -> None:
        c = self.cfg
        n = c.tp_chains * c.tp_len
        print(f"\n== 7. throughput: {c.tp_chains} concurrent {c.tp_len}-node chains of QuickNoop (2 workers) "
              f"vs RQ SimpleWorker x2 on {c.rq_jobs} no-op jobs", flush=True)
        edges = chain_edges(c.tp_len, "t")
        bodies = [self.quick_request(edges, self.wid("tp")) for _ in range(c.tp_chains)]
        cpu0, svc0 = self.cpu(), self.service_cpu("N")
        wids = self.submit_many(bodies)
        wfs = self.wait_workflows(wids, 300)
        cpu1, svc1 = self.cpu(), self.service_cpu("N")
        ran = sum(len(self.service_tasks("N", w)) for w in wids)
        bad = [w for w in wids if wfs[w]["status"] != "complete"]
        if bad or ran != n:
            raise LostWork(f"throughput: {len(bad)} chains not complete, {ran} service tasks for {n} nodes")
        span = max(float(w["finished_ts"]) for w in wfs.values()) - min(float(w["created_ts"]) for w in wfs.values())
        rate = n / span
        rq_rate = self.rq_rate(c.rq_jobs)
        self.row("7", "node tasks/s, 2 workers (first created -> last finished)", f"{rate:.0f}/s")
        self.row("7", "RQ SimpleWorker x2, no-op jobs/s (first started -> last ended)", f"{rq_rate:.0f}/s")
        self.row("7", "orchestrator / RQ SimpleWorker", f"{rate / rq_rate:.2f}x", ">= 2x", rate / rq_rate >= 2)
        per = {k: (cpu1[k] - cpu0[k]) * 1000 / n for k in ("API", "workers", "Redis")}
        per["service N"] = (svc1 - svc0) * 1000 / n
        self.row("7", "CPU ms per node task (both workers together; all processes share 2 cores)",
                 ", ".join(f"{k} {v:.2f}" for k, v in per.items()))

    async def _floor_once(self, http, script: str, tid: str) -> float:
        """The round trips a hop cannot avoid: the status answer and the output of the finished
        task, one script (finish, which also claims the next node) and the next execute."""
        base = self.url("N")
        t0 = time.perf_counter()
        await http.request("GET", f"{base}/control/status/{tid}")
        await http.request("GET", f"{base}/control/output/{tid}")
        self.r.evalsha(script, 0)
        nxt = f"floor-{os.urandom(6).hex()}"
        code, _ = await http.request("POST", f"{base}/control/execute",
                                     json_body={"method": "Noop", "task_id": nxt, "inputs": [], "parameters": {}})
        took = time.perf_counter() - t0
        if code not in (200, 201, 202):
            raise RuntimeError(f"floor: execute answered {code}")
        return took

    async def _floor(self, reps: int) -> list[float]:

        http = HTTPClient(timeout=10)
        script = self.r.script_load("return 1")
        tid = f"floor-{os.urandom(6).hex()}"
        await http.request("POST", f"{self.url('N')}/control/execute",
                           json_body={"method": "Noop", "task_id": tid, "inputs": [], "parameters": {}})
        await http.request("GET", f"{self.url('N')}/control/status/{tid}", params={"wait": "5"})
        try:
            return [await self._floor_once(http, script, tid) for _ in range(reps)]
        finally:
            await http.aclose()

    def part8(self) -> None:
        c = self.cfg
        print(f"\n== 8. background-node hop (Noop, {c.bg_chains} chain(s) of {c.chain_len}) vs its floor "
              f"(status + output + 1 Redis script + execute, measured here)", flush=True)
        edges = chain_edges(c.chain_len, "g")
        hops: list[float] = []
        floors: list[float] = []
        for _ in range(c.bg_chains):
            wid = self.wid("bg")
            self.submit(self.quick_request(edges, wid, "Noop"))
            wf = self.wait_workflows([wid], 120)[wid]
            if wf["status"] != "complete":
                raise LostWork(f"background chain {wid}: {wf['status']} ({wf.get('error')})")
            tasks = sorted(self.service_tasks("N", wid), key=lambda t: int(t["task_id"].split(".")[2]))
            hops += [ts(b["started_at"]) - ts(a["finished_at"]) for a, b in zip(tasks, tasks[1:])]
            floors += asyncio.run(self._floor(c.floor_reps))  # interleaved: same load for both
        s, f = summary(hops), summary(floors)
        self.row("8", "background-node hop (finished -> next started_at)", hop_line(s))
        self.row("8", "floor (status, output, 1 script, execute round trips)", hop_line(f))
        self.row("8", "hop p50 / floor p50", f"{s['p50'] / f['p50']:.2f}x", "<= 2x", s["p50"] / f["p50"] <= 2)

    def part9(self) -> None:
        c = self.cfg
        n = c.submit_fan
        print(f"\n== 9. submit of a {n:,}-node fan (1 -> {n - 2:,} -> 1), then cancelled", flush=True)
        edges = fanout_edges(n - 2, "s")
        wid = self.wid("submit")
        body = self.quick_request(edges, wid)
        raw = json.dumps(body).encode()
        t0 = time.perf_counter()
        r = self.http.post(f"{self.api}/workflows", content=raw, headers={"Content-Type": "application/json"},
                           timeout=120)
        took = time.perf_counter() - t0
        if r.status_code not in (200, 201, 202):
            raise RuntimeError(f"submit: HTTP {r.status_code}: {r.text[:500]}")
        self.http.post(f"{self.api}/workflows/{wid}/cancel")
        self.wait_workflows([wid], 300)
        self.row("9", f"POST /workflows of a {n:,}-node fan ({len(raw) / 1e6:.1f} MB)", f"{took * 1000:.0f} ms",
                 "< 1 s", took < 1.0)

    # -- output -------------------------------------------------------------------------------
    def table(self) -> str:
        heads = ("part", "figure", "value", "target", "")
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(heads)]
        line = "  ".join("-" * w for w in widths)
        out = ["  ".join(h.ljust(w) for h, w in zip(heads, widths)), line]
        last = None
        for r in self.rows:
            if last is not None and r[0] != last:
                out.append("")
            last = r[0]
            out.append("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every part small: a smoke run")
    parser.add_argument("--parts", default="1,2,3,4,5,6,7,8,9",
                        help="comma list of the parts to run (4 also runs 1 and 2); default: all")
    args = parser.parse_args()
    cfg = QUICK if args.quick else Config()
    parts = {int(x) for x in args.parts.split(",") if x.strip()}

    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    import rq
    cmd = " ".join([os.path.relpath(PY, ROOT) if PY.startswith(str(ROOT)) else PY,
                    os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    print(f"$ {cmd}")
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, rq {rq.__version__}, "
          f"{'QUICK smoke run' if args.quick else 'full run'}; orchestrator with default settings "
          f"(poll_wait 10 s, lease_ttl 15 s), 2 workers", flush=True)
    bench = Bench(cfg, args.quick)
    t0 = time.monotonic()
    try:
        bench.setup()
        print(f"redis {bench.redis_url}, API {bench.api}, services "
              + ", ".join(f"{k}:{v}" for k, v in bench.svc.items()) + " (P: SERVICE_MAX_WAIT=0)", flush=True)
        base: dict = {}
        if 1 in parts or 4 in parts:
            base = bench.part1()
        if 2 in parts or 4 in parts:
            bench.part2()
        for k in sorted(parts - {1, 2}):
            getattr(bench, f"part{k}")(*([base] if k == 4 else []))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", flush=True)
        return 130
    except LostWork as exc:
        bench.problems.append(str(exc))
    except Exception:  # noqa: BLE001 - report, then print what was measured
        import traceback
        traceback.print_exc()
        bench.problems.append("the run stopped on an error (traceback above)")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            bench.kids.stop_all()
        except KeyboardInterrupt:
            bench.kids.stop_all()
    print(f"\n== results ({time.monotonic() - t0:.0f} s in all)\n")
    print(bench.table())
    if bench.problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(bench.problems))
        return 1
    misses = [r for r in bench.rows if r[4] == "MISS"]
    print(f"\n{len(misses)} target(s) missed" + (": " + "; ".join(f"({r[0]}) {r[1]}" for r in misses) if misses else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
