"""Benchmark of the concurrent service template (taskservice), in one run.

    .venv/bin/python bench/service.py            # full run, about 1.5 minutes
    .venv/bin/python bench/service.py --quick    # smoke run, a few seconds

It starts, on free loopback ports,
- `bench/ping_app.py`: a bare FastAPI ping endpoint served the same way as a service;
- `bench/noop_service/service.py` twice: one for throughput and latency (default
  settings), one with SERVICE_RETENTION_MAX=200000 for memory;
and measures
1. requests/s and p50/p99 latency under `wrk --latency` (2 threads, 50
   connections) of GET /ping, POST /control/execute (background Noop, 202; and
   QuickNoop, 200, for information) and GET /control/status/{id} of a finished
   task. The runs are interleaved (each round runs every endpoint once, in a
   rotated order) and the median of the rounds is reported, as a ratio to ping;
2. task start latency: ~500 sequential executes of Noop from one keep-alive
   connection; the task's `started_at` (and the method's own entry time) minus
   the client's time when the 202 arrived. Negative means the task started
   before the answer reached the client; nothing is clamped;
3. RSS of a service holding 100,000 finished tasks: (RSS after - RSS after
   startup) / retained;
4. task queries on that service (100,000 retained): p50 of sequential
   `GET /control/tasks?status=complete&limit=50` against p50 of sequential
   status calls, and the status p50 while wrk runs a query loop beside it
   against its idle value; interleaved rounds, medians of the rounds.
Every service runs with the durable SQLite record store (the default).

The machine is shared and noisy: compare the ratios, which are measured within
one run, rather than absolute rates across runs. Every process started here is
stopped at the end, on errors and on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
EXECUTE_LUA = BENCH / "execute.lua"

TARGET_EXECUTE_RATIO = 0.5
TARGET_STATUS_RATIO = 0.7
TARGET_START_P50_MS = 2.0
TARGET_BYTES_PER_TASK = 2048
TARGET_QUERY_RATIO = 3.0
TARGET_STATUS_UNDER_QUERIES = 1.5


# -- processes ---------------------------------------------------------------------------------

_children: set[subprocess.Popen] = set()  # everything started here, stopped in `stop_all`


def _spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    # A session of its own: a terminal's Ctrl-C reaches only this script, which then stops the child.
    popen = subprocess.Popen(args, start_new_session=True, **kwargs)
    _children.add(popen)
    return popen


def _stop(popen: subprocess.Popen, timeout: float = 10.0) -> None:
    if popen.poll() is None:
        try:
            popen.send_signal(signal.SIGTERM)
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)
        except ProcessLookupError:
            pass
    _children.discard(popen)


def stop_all() -> None:
    for popen in list(_children):
        _stop(popen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process (`python <script>` in its folder) on a free port, its output in a log file."""

    def __init__(self, name: str, script: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
        full_env = dict(os.environ)
        full_env.update({"PORT": str(self.port), "HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1",
                         "SERVICE_ACCESS_LOG": "false", "SERVICE_LOG_LEVEL": "info"})
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        full_env.update(env or {})
        with open(self.log_path, "wb") as log:
            self.popen = _spawn([PYTHON, script.name], cwd=script.parent, env=full_env,
                                stdout=log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                status, _ = request("127.0.0.1", self.port, "GET", path, timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready on port {self.port} after {timeout} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.popen.pid).cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return psutil.Process(self.popen.pid).memory_info().rss

    def stop(self) -> None:
        _stop(self.popen)
        self.log_path.unlink(missing_ok=True)


def request(host: str, port: int, method: str, path: str, body: Any = None,
            timeout: float = 10) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, data, {"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def health(server: Server) -> dict[str, Any]:
    status, body = request("127.0.0.1", server.port, "GET", "/health")
    if status != 200:
        raise RuntimeError(f"{server.name} /health answered {status}: {body}")
    return body


# -- wrk -----------------------------------------------------------------------------------------

@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int = 0
    socket_errors: int = 0
    cpu_us: float = math.nan  # the server's CPU time (all threads) per answered request


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"cannot read wrk time {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> WrkResult:
    def find(pattern: str) -> re.Match:
        m = re.search(pattern, out, re.M)
        if m is None:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{out}")
        return m

    rps = float(find(r"^Requests/sec:\s+([\d.]+)").group(1))
    p50 = _ms(find(r"^\s+50%\s+(\S+)").group(1))
    p99 = _ms(find(r"^\s+99%\s+(\S+)").group(1))
    requests = int(find(r"^\s+(\d+) requests in").group(1))
    non2xx_m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock_m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(rps, p50, p99, requests, int(non2xx_m.group(1)) if non2xx_m else 0,
                     sum(int(g) for g in sock_m.groups()) if sock_m else 0)


def run_wrk(url: str, seconds: int, threads: int, connections: int,
            script: Path | None = None, script_args: list[str] | None = None) -> WrkResult:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    popen = _spawn(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = popen.communicate(timeout=seconds + 30)
    finally:
        _stop(popen)
    if popen.returncode != 0:
        raise RuntimeError(f"wrk failed ({popen.returncode}):\n{out}")
    return parse_wrk(out)


# -- tasks ----------------------------------------------------------------------------------------

def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def finished_task(server: Server) -> str:
    """Id of a freshly made, finished Noop task (made anew each time: retention may drop old ones)."""
    task_id = f"bench-status-{uuid.uuid4().hex[:12]}"
    status, body = request("127.0.0.1", server.port, "POST", "/control/execute",
                           {"method": "Noop", "task_id": task_id, "parameters": {}})
    if status != 202:
        raise RuntimeError(f"execute answered {status}: {body}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, body = request("127.0.0.1", server.port, "GET", f"/control/status/{task_id}")
        if status == 200 and body["status"] == "complete":
            return task_id
        time.sleep(0.01)
    raise RuntimeError(f"task {task_id} did not complete: {body}")


def wait_idle(server: Server, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        h = health(server)
        if h["active"] == 0 and h["running_jobs"] == 0 and h["pending"] == 0:
            return h
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} still busy after {timeout} s: {h}")
        time.sleep(0.05)


# -- statistics and printing ----------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    """Percentile by linear interpolation (q in 0..100)."""
    s = sorted(values)
    if not s:
        return math.nan
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def table(headers: list[str], rows: list[list[Any]], aligns: str | None = None) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    aligns = aligns or "l" + "r" * (len(headers) - 1)

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if a == "l" else v.rjust(w) for v, w, a in zip(values, widths, aligns)).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in cells)])


def heading(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- the three measurements -----------------------------------------------------------------------

@dataclass
class Endpoint:
    key: str
    label: str
    target: float | None
    runs: list[WrkResult] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)


def measure_throughput(ping: Server, noop: Server, cfg: argparse.Namespace) -> dict[str, Endpoint]:
    heading(f"1. Throughput: wrk --latency, {cfg.threads} threads, {cfg.connections} connections, "
            f"{cfg.duration} s per run, {cfg.rounds} interleaved round(s), median")
    endpoints = {
        "ping": Endpoint("ping", "GET /ping (bare FastAPI, same uvicorn)", None),
        "execute": Endpoint("execute", "POST /control/execute Noop -> 202", TARGET_EXECUTE_RATIO),
        "quick": Endpoint("quick", "POST /control/execute QuickNoop -> 200", None),
        "status": Endpoint("status", "GET /control/status/{id} (finished)", TARGET_STATUS_RATIO),
    }
    run_tag = uuid.uuid4().hex[:8]
    notes: list[str] = []

    def one(key: str, seconds: int, tag: str) -> WrkResult:
        server = ping if key == "ping" else noop
        cpu0 = server.cpu_seconds()
        res = load(key, seconds, tag)
        res.cpu_us = (server.cpu_seconds() - cpu0) / max(res.requests, 1) * 1e6
        return res

    def load(key: str, seconds: int, tag: str) -> WrkResult:
        w = (cfg.threads, cfg.connections)
        if key == "ping":
            return run_wrk(f"{ping.url}/ping", seconds, *w)
        if key in ("execute", "quick"):
            before = health(noop)["started_total"]
            method = "Noop" if key == "execute" else "QuickNoop"
            res = run_wrk(noop.url, seconds, *w, script=EXECUTE_LUA, script_args=[method, f"{run_tag}-{tag}"])
            if key == "execute":
                started = health(noop)["started_total"] - before
                if started < res.requests - res.non2xx:
                    notes.append(f"execute {tag}: {res.requests} answers but only {started} tasks started")
            return res
        task_id = finished_task(noop)
        return run_wrk(f"{noop.url}/control/status/{task_id}", seconds, *w)

    order = list(endpoints)
    for key in order:  # warm-up: first requests, thread pool, caches; not counted
        one(key, cfg.warmup, f"warm-{key}")
    wait_idle(noop)
    for rnd in range(cfg.rounds):
        rotated = order[rnd % len(order):] + order[:rnd % len(order)]
        for key in rotated:
            endpoints[key].runs.append(one(key, cfg.duration, f"r{rnd}-{key}"))
            if key in ("execute", "quick"):
                wait_idle(noop)
        print(f"   round {rnd + 1}/{cfg.rounds}: " + ", ".join(
            f"{k} {endpoints[k].runs[-1].rps:,.0f}/s" for k in order), flush=True)

    ping_rps = endpoints["ping"].median("rps")
    ping_cpu = endpoints["ping"].median("cpu_us")
    rows = []
    for ep in endpoints.values():
        rps = ep.median("rps")
        ratio = rps / ping_rps
        target = f">= {ep.target:.1f}x" if ep.target is not None else "-"
        result = verdict(ratio >= ep.target) if ep.target is not None else ""
        errors = sum(r.non2xx + r.socket_errors for r in ep.runs)
        cpu = ep.median("cpu_us")
        rows.append([ep.label, f"{rps:,.0f}", f"{ratio:.2f}x", target, result,
                     f"{ep.median('p50_ms'):.2f}", f"{ep.median('p99_ms'):.2f}",
                     f"{cpu:.0f}", f"{ping_cpu / cpu:.2f}x",
                     " / ".join(f"{r.rps:,.0f}" for r in ep.runs), errors])
    print(table(["endpoint", "req/s", "x ping", "target", "", "p50 ms", "p99 ms", "CPU us/req", "CPU x ping",
                 "runs req/s", "errors"], rows, "lrrrlrrrrlr"))
    print("   CPU us/req: the server's CPU time (all threads, psutil) per answer; 'CPU x ping' is ping's CPU/req\n"
          "   over this one's: a steadier ratio than req/s on a shared machine (the targets use req/s).")
    for note in notes:
        print(f"   note: {note}")
    return endpoints


def measure_start_latency(ping: Server, noop: Server, cfg: argparse.Namespace) -> dict[str, list[float]]:
    n = cfg.executes
    heading(f"2. Task start latency: {n} sequential executes of Noop on one keep-alive connection")
    tag = uuid.uuid4().hex[:8]
    headers = {"Content-Type": "application/json"}

    # Reference: the round-trip of the bare ping from the same client.
    conn = http.client.HTTPConnection("127.0.0.1", ping.port, timeout=10)
    ping_rtt = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", "/ping")
        conn.getresponse().read()
        ping_rtt.append((time.perf_counter() - t0) * 1e3)
    conn.close()

    conn = http.client.HTTPConnection("127.0.0.1", noop.port, timeout=10)
    sent: dict[str, tuple[float, float, float]] = {}
    for i in range(n):
        task_id = f"lat-{tag}-{i}"
        body = json.dumps({"method": "Noop", "task_id": task_id, "parameters": {"stamp": True}})
        t_send = time.time()
        p0 = time.perf_counter()
        conn.request("POST", "/control/execute", body, headers)
        resp = conn.getresponse()
        resp.read()
        p1 = time.perf_counter()
        t_recv = time.time()
        if resp.status != 202:
            raise RuntimeError(f"execute answered {resp.status}")
        sent[task_id] = (t_send, t_recv, (p1 - p0) * 1e3)

    rtt, start_vs_recv, entry_vs_recv, start_vs_send = [], [], [], []
    for task_id, (t_send, t_recv, rt) in sent.items():
        for _ in range(200):
            conn.request("GET", f"/control/status/{task_id}")
            resp = conn.getresponse()
            rec = json.loads(resp.read())
            if rec.get("status") == "complete":
                break
            time.sleep(0.005)
        else:
            raise RuntimeError(f"task {task_id} did not complete: {rec}")
        started = parse_iso(rec["started_at"])
        rtt.append(rt)
        start_vs_recv.append((started - t_recv) * 1e3)
        start_vs_send.append((started - t_send) * 1e3)
        entry_vs_recv.append((rec["details"]["entered_at"] - t_recv) * 1e3)
    conn.close()

    series = {
        "execute round-trip (send -> 202 received)": rtt,
        "ping round-trip, same client (reference)": ping_rtt,
        "started_at - 202 received  (start latency)": start_vs_recv,
        "method entry - 202 received": entry_vs_recv,
        "started_at - request sent": start_vs_send,
    }
    rows = [[name, f"{pct(v, 50):.3f}", f"{pct(v, 99):.3f}", f"{min(v):.3f}", f"{max(v):.3f}",
             f"{statistics.fmean(v):.3f}"] for name, v in series.items()]
    print(table(["measure (ms)", "p50", "p99", "min", "max", "mean"], rows))
    neg = sum(1 for v in start_vs_recv if v < 0)
    print(f"   started_at before the 202 arrived (negative): {neg}/{n}; "
          f"target: start latency p50 < {TARGET_START_P50_MS:g} ms -> "
          f"{verdict(pct(start_vs_recv, 50) < TARGET_START_P50_MS)}")
    return series


def gc_probe(server: Server) -> dict[str, Any]:
    """The noop service's GcProbe: one full collection's pause and the GC-tracked objects before it."""
    status, body = request("127.0.0.1", server.port, "POST", "/control/execute", {"method": "GcProbe"})
    if status != 200:
        raise RuntimeError(f"GcProbe answered {status}: {body}")
    return body["output"]["data"]


def measure_memory(mem: Server, rss_before: int, gc_before: dict[str, Any], cfg: argparse.Namespace,
                   rate_hint: float) -> dict[str, Any]:
    goal = cfg.tasks
    heading(f"3. Memory: RSS with {goal:,} finished tasks retained (SERVICE_RETENTION_MAX={cfg.retention_max})")
    base = health(mem)
    tag = uuid.uuid4().hex[:8]
    t0 = time.monotonic()
    chunk = 0
    rate = max(rate_hint, 500.0)
    while True:
        h = health(mem)
        remaining = goal - h["retained"] - h["active"]
        if remaining <= 0:
            break
        seconds = max(1, min(30, math.ceil(remaining / rate * 1.05)))
        res = run_wrk(mem.url, seconds, cfg.threads, cfg.connections, script=EXECUTE_LUA,
                      script_args=["Noop", f"mem-{tag}-{chunk}"])
        if res.non2xx or res.socket_errors:
            print(f"   note: chunk {chunk}: {res.non2xx} non-2xx, {res.socket_errors} socket errors")
        rate = max(res.rps, 100.0)
        chunk += 1
    drive_s = time.monotonic() - t0
    h = wait_idle(mem)
    time.sleep(0.5)
    rss_after = mem.rss()
    retained = h["retained"]
    per_task = (rss_after - rss_before) / retained if retained else math.nan
    gc_info = gc_probe(mem)  # after the RSS reading: a collection may free memory
    tracked = (gc_info["tracked_objects"] - gc_before["tracked_objects"]) / retained if retained else math.nan
    made = h["started_total"] - base["started_total"]
    rows = [
        ["RSS after startup", f"{rss_before / 2**20:,.1f} MiB"],
        ["RSS with tasks retained", f"{rss_after / 2**20:,.1f} MiB"],
        ["tasks made (wrk runs, seconds)", f"{made:,} ({chunk} run(s), {drive_s:.1f} s, {made / drive_s:,.0f}/s)"],
        ["/health retained / active / running_jobs / pending",
         f"{retained:,} / {h['active']} / {h['running_jobs']} / {h['pending']}"],
        ["/health started_total", f"{h['started_total']:,}"],
        ["bytes per retained task", f"{per_task:,.0f} B  (target < {TARGET_BYTES_PER_TASK} B: "
                                    f"{verdict(per_task < TARGET_BYTES_PER_TASK)})"],
        ["full gc.collect() pause (info)", f"{gc_before['pause_ms']:.1f} ms after startup, {gc_info['pause_ms']:.1f} ms "
                                           f"with the tasks ({tracked:.1f} GC-tracked objects per task)"],
    ]
    print(table(["measure", "value"], rows, "ll"))
    # every task made here must be retained (the bound is far above), none left active
    consistent = retained == base["retained"] + made and h["active"] == 0
    print(f"   /health check: retained {retained:,} = {base['retained']} before + {made:,} made, active {h['active']}: "
          f"{'ok' if consistent else 'MISMATCH'}")
    return {"rss_before": rss_before, "rss_after": rss_after, "retained": retained, "per_task": per_task,
            "consistent": consistent, "gc_pause_ms": gc_info["pause_ms"]}


# -- task queries -------------------------------------------------------------------------------

def sequential_ms(server: Server, path: str, count: int) -> list[float]:
    """Latencies of `count` GETs of `path` on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    out = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            out.append((time.perf_counter() - t0) * 1e3)
            if resp.status != 200:
                raise RuntimeError(f"GET {path} answered {resp.status}")
    finally:
        conn.close()
    return out


def status_under_query_loop(mem: Server, status_path: str, query_path: str, n: int) -> list[float]:
    """Status latencies while wrk runs a loop of queries (two connections) beside them."""
    loop = _spawn(["wrk", "-t1", "-c2", "-d120s", f"{mem.url}{query_path}"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        return sequential_ms(mem, status_path, n)
    finally:
        _stop(loop)


def measure_queries(mem: Server, cfg: argparse.Namespace) -> dict[str, float]:
    retained = health(mem)["retained"]
    heading(f"4. Task queries with {retained:,} tasks retained (durable store), "
            f"{cfg.rounds} interleaved round(s) of {cfg.samples} sequential requests")
    task_id = finished_task(mem)
    status_path = f"/control/status/{task_id}"
    query_path = "/control/tasks?status=complete&limit=50"
    infos = {
        "status=complete&limit=50&offset=1000": "/control/tasks?status=complete&limit=50&offset=1000",
        "status=complete&method=Noop&limit=50": "/control/tasks?status=complete&method=Noop&limit=50",
        "status=complete&filter[created_at][gt]=...&limit=50":
            "/control/tasks?status=complete&filter[created_at][gt]=2000-01-01T00:00:00Z&limit=50",
        "workflow_id=none-such&limit=50": "/control/tasks?workflow_id=none-such&limit=50",
    }
    n = cfg.samples
    sequential_ms(mem, status_path, 50)  # warm up
    sequential_ms(mem, query_path, 50)
    idle, query, busy = [], [], []
    for r in range(cfg.rounds):
        idle.append(pct(sequential_ms(mem, status_path, n), 50))
        query.append(pct(sequential_ms(mem, query_path, n), 50))
        busy.append(pct(status_under_query_loop(mem, status_path, query_path, n), 50))
        print(f"   round {r + 1}/{cfg.rounds}: status {idle[-1]:.3f} ms, query {query[-1]:.3f} ms, "
              f"status beside a query loop {busy[-1]:.3f} ms", flush=True)
    figures = {"status_idle": statistics.median(idle), "query": statistics.median(query),
               "status_busy": statistics.median(busy)}
    rows = [["GET /control/status/{id}, idle", f"{figures['status_idle']:.3f} ms"],
            [f"GET {query_path}", f"{figures['query']:.3f} ms ({figures['query'] / figures['status_idle']:.2f}x status)"],
            ["GET /control/status/{id} while a query loop runs",
             f"{figures['status_busy']:.3f} ms ({figures['status_busy'] / figures['status_idle']:.2f}x idle)"]]
    for name, path in infos.items():
        p50 = pct(sequential_ms(mem, path, max(20, n // 4)), 50)
        rows.append([f"GET /control/tasks?{name} (info)", f"{p50:.3f} ms"])
    print(table(["median of the rounds' p50", "value"], rows, "ll"))
    return figures


# -- main -----------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a short smoke run (a few seconds)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 3, quick 1)")
    p.add_argument("--rounds", type=int, help="interleaved rounds per endpoint (default 3, quick 1)")
    p.add_argument("--executes", type=int, help="sequential executes for start latency (default 500, quick 100)")
    p.add_argument("--tasks", type=int, help="finished tasks for the memory figure (default 100000, quick 5000)")
    p.add_argument("--samples", type=int, help="sequential requests per query figure (default 400, quick 100)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=50)
    cfg = p.parse_args(argv)
    defaults = (dict(duration=1, rounds=1, executes=100, tasks=5_000, warmup=1, samples=100) if cfg.quick
                else dict(duration=3, rounds=3, executes=500, tasks=100_000, warmup=1, samples=400))
    for key, value in defaults.items():
        if getattr(cfg, key, None) is None:
            setattr(cfg, key, value)
    cfg.retention_max = max(200_000, 2 * cfg.tasks)
    return cfg


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package wrk)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    command = " ".join([".venv/bin/python", "bench/service.py", *(argv if argv is not None else sys.argv[1:])])
    data_dir = tempfile.mkdtemp(prefix="bench-data-")
    started = time.monotonic()
    servers: list[Server] = []
    try:
        def env(name: str) -> dict[str, str]:  # a data folder (and so a task database) per service
            return {"SERVICE_DATA_DIR": os.path.join(data_dir, name)}

        ping = Server("ping", BENCH / "ping_app.py", env("ping"))
        noop = Server("noop", BENCH / "noop_service" / "service.py", env("noop"))
        mem = Server("noop-memory", BENCH / "noop_service" / "service.py",
                     {**env("memory"), "SERVICE_RETENTION_MAX": str(cfg.retention_max)})
        servers += [ping, noop, mem]
        ping.wait_ready("/ping")
        noop.wait_ready("/health")
        mem.wait_ready("/health")
        rss_before = mem.rss()
        gc_before = gc_probe(mem)  # after the RSS reading; makes one (quick) task
        print(f"bench: {'quick' if cfg.quick else 'full'} run; ping {ping.url} (pid {ping.popen.pid}), "
              f"noop {noop.url} (pid {noop.popen.pid}), noop-memory {mem.url} (pid {mem.popen.pid}); "
              f"{os.cpu_count()} CPUs", flush=True)

        endpoints = measure_throughput(ping, noop, cfg)
        series = measure_start_latency(ping, noop, cfg)
        memory = measure_memory(mem, rss_before, gc_before, cfg, endpoints["execute"].median("rps"))
        queries = measure_queries(mem, cfg)

        for server in servers:
            if server.popen.poll() is not None:
                raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")

        ping_rps = endpoints["ping"].median("rps")
        exec_ratio = endpoints["execute"].median("rps") / ping_rps
        status_ratio = endpoints["status"].median("rps") / ping_rps
        quick_ratio = endpoints["quick"].median("rps") / ping_rps
        start_p50 = pct(series["started_at - 202 received  (start latency)"], 50)
        query_ratio = queries["query"] / queries["status_idle"]
        busy_ratio = queries["status_busy"] / queries["status_idle"]
        start_p99 = pct(series["started_at - 202 received  (start latency)"], 99)
        checks = [
            ("execute (Noop, 202) / ping req/s", f"{exec_ratio:.2f}x", f">= {TARGET_EXECUTE_RATIO}x",
             exec_ratio >= TARGET_EXECUTE_RATIO),
            ("status / ping req/s", f"{status_ratio:.2f}x", f">= {TARGET_STATUS_RATIO}x",
             status_ratio >= TARGET_STATUS_RATIO),
            ("task start latency p50 (p99)", f"{start_p50:.3f} ms ({start_p99:.3f})",
             f"< {TARGET_START_P50_MS:g} ms", start_p50 < TARGET_START_P50_MS),
            ("bytes per retained task", f"{memory['per_task']:,.0f} B", f"< {TARGET_BYTES_PER_TASK} B",
             memory["per_task"] < TARGET_BYTES_PER_TASK),
            ("query (status=complete, limit=50) / status p50", f"{query_ratio:.2f}x",
             f"<= {TARGET_QUERY_RATIO:g}x", query_ratio <= TARGET_QUERY_RATIO),
            ("status p50 under a query loop / idle", f"{busy_ratio:.2f}x",
             f"<= {TARGET_STATUS_UNDER_QUERIES:g}x", busy_ratio <= TARGET_STATUS_UNDER_QUERIES),
        ]
        heading("Summary")
        rows = [[name, value, target, verdict(ok)] for name, value, target, ok in checks]
        rows.append(["quick execute (QuickNoop, 200) / ping", f"{quick_ratio:.2f}x", "-", "info"])
        rows.append(["ping req/s (absolute, noisy machine)", f"{ping_rps:,.0f}", "-", "info"])
        print(table(["metric", "value", "target", "result"], rows, "lrrl"))
        print(f"\ncommand: {command}   ({time.monotonic() - started:.0f} s)")
        missed = [name for name, _, _, ok in checks if not ok]
        return 1 if cfg.strict and missed else 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            server.stop()
        stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
