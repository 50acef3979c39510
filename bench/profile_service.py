"""Where does a request's time go? py-spy samples the bench noop service under wrk load.

    .venv/bin/pip install py-spy        # a tool for this script only, not a project requirement
    .venv/bin/python bench/profile_service.py execute   # or: status, quick, ping

It starts the service (or the bare ping app), warms it up, then runs wrk
(2 threads, 50 connections) while `py-spy record --gil` samples whichever
thread holds the GIL. It prints the server's CPU time per request (psutil,
all threads) and the functions with the largest inclusive and self shares of
the samples, each also as an estimate in microseconds per request (share x
CPU per request). py-spy slows the server down a little; the shares, not the
rate, are the result.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import service as bench  # noqa: E402  (bench/service.py: servers, wrk, cleanup)

_SITE = re.compile(r"\(.*?/site-packages/")
_STDLIB = re.compile(r"\(/[^()]*?/lib/python3\.\d+/")
_REPO = re.compile(r"\(" + re.escape(str(bench.ROOT)) + "/")


def _frame(text: str) -> str:
    text = _REPO.sub("(", _SITE.sub("(", text))
    text = _STDLIB.sub("(stdlib/", text)
    return re.sub(r":\d+\)$", ")", text)


def aggregate(raw: Path) -> tuple[int, collections.Counter, collections.Counter, collections.Counter]:
    total = 0
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    threads: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        n = int(count)
        total += n
        frames = stack.split(";")
        threads[re.sub(r"\s*\(\d+\)", "", frames[0]).strip()] += n
        names = [_frame(f) for f in frames[1:]]
        if names:
            own[names[-1]] += n
        for name in set(names):
            incl[name] += n
    return total, own, incl, threads


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("endpoint", choices=["execute", "status", "quick", "ping"])
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment of the server, e.g. SERVICE_MAX_WORKERS=4 (repeatable)")
    cfg = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    env = dict(item.split("=", 1) for item in cfg.env)
    raw = Path(tempfile.mkstemp(prefix="bench-profile-", suffix=".txt")[1])
    try:
        if cfg.endpoint == "ping":
            server = bench.Server("ping", bench.BENCH / "ping_app.py", env)
            server.wait_ready("/ping")
        else:
            server = bench.Server("noop", bench.BENCH / "noop_service" / "service.py", env)
            server.wait_ready("/health")

        def load(seconds: int, tag: str) -> bench.WrkResult:
            if cfg.endpoint == "ping":
                return bench.run_wrk(f"{server.url}/ping", seconds, 2, 50)
            if cfg.endpoint in ("execute", "quick"):
                method = "Noop" if cfg.endpoint == "execute" else "QuickNoop"
                return bench.run_wrk(server.url, seconds, 2, 50, script=bench.EXECUTE_LUA,
                                     script_args=[method, f"{tag}-{time.time_ns()}"])
            task_id = bench.finished_task(server)
            return bench.run_wrk(f"{server.url}/control/status/{task_id}", seconds, 2, 50)

        load(2, "warm")
        proc = psutil.Process(server.popen.pid)
        sampler = bench._spawn([spy, "record", "--gil", "--threads", "-r", str(cfg.rate), "-d", str(cfg.seconds + 1),
                                "-f", "raw", "-o", str(raw), "-p", str(server.popen.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        cpu0 = proc.cpu_times()
        result = load(cfg.seconds, "prof")
        cpu1 = proc.cpu_times()
        _, err = sampler.communicate(timeout=cfg.seconds + 30)
        if sampler.returncode != 0 or not raw.stat().st_size:
            print(f"py-spy failed ({sampler.returncode}): {err}", file=sys.stderr)
            return 1
    finally:
        bench.stop_all()
    cpu_us = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / max(result.requests, 1) * 1e6
    total, own, incl, threads = aggregate(raw)
    raw.unlink(missing_ok=True)
    print(f"{cfg.endpoint}: {result.rps:,.0f} req/s under py-spy, server CPU {cpu_us:.0f} us per request "
          f"(all threads), {total} GIL samples")
    print("threads holding the GIL: " + ", ".join(f"{t} {100 * n / total:.1f}%" for t, n in threads.most_common(4)))
    for title, counter in (("inclusive", incl), ("self", own)):
        rows = [[name, f"{100 * n / total:.1f}%", f"{cpu_us * n / total:.0f}"]
                for name, n in counter.most_common(cfg.top)]
        print(f"\n-- {title} --")
        print(bench.table(["function (file)", "share", "~us/req"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
