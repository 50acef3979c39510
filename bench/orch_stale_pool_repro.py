#!/usr/bin/env python3
"""Reproduce: a node fails after a burst of parallel nodes followed by > 5 s of quiet.

`.venv/bin/python bench/orch_stale_pool_repro.py [--idle 7] [--branches 60]`

A worker's control client (`orchestrator/http11.py`) keeps up to 256 idle
keep-alive connections per service. After a fan-out of N parallel nodes it
holds ~N of them; uvicorn (the template's server) closes idle connections
after 5 s (`timeout_keep_alive`). The next request pops a stale connection,
retries once on the *next pooled* one (also stale) and fails; the runner
counts a transient fault and retries with backoff, each time burning two more
stale connections, and after `max_retries` (5) the node fails - and with it
the workflow. Exit 1 when the probe workflow failed (the bug), 0 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("orch_bench", Path(__file__).with_name("orchestrator.py"))
ob = importlib.util.module_from_spec(_spec)
sys.modules["orch_bench"] = ob
_spec.loader.exec_module(ob)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=7.0, help="quiet seconds between the burst and the probe")
    ap.add_argument("--branches", type=int, default=60)
    a = ap.parse_args()
    b = ob.Bench(ob.Config(), quick=True)
    try:
        b.setup()
        ports = [b.svc["A"]]
        edges = ob.fanout_edges(a.branches)
        params = {k: {"duration": 1.0, "steps": 1} for k in edges}
        w = b.submit(b.request(edges, ports, params, b.wid("burst")))
        print("burst:", b.wait_workflows([w], 120)[w]["status"], f"({a.branches} parallel nodes on one service)")
        print(f"idle {a.idle} s ...", flush=True)
        time.sleep(a.idle)
        probe = b.wid("probe")
        b.submit(b.request({"only": []}, ports, {"only": {"duration": 0.05, "steps": 1}}, probe))
        wf = b.wait_workflows([probe], 120)[probe]
        print("probe:", wf["status"], wf.get("error") or "")
        return 1 if wf["status"] != "complete" else 0
    finally:
        b.kids.stop_all()


if __name__ == "__main__":
    sys.exit(main())
