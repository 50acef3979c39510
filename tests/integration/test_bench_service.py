"""`bench/service.py --quick` runs end to end and prints its tables (no timing assertions).

The bench starts the bare ping app and the bench-only noop service on free
ports, loads them with wrk, and stops them again; exit status 0 means every
part ran. Whether a target is met depends on the machine, so it is not checked.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import PYTHON, ROOT

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

HEADINGS = [
    "== 1. Throughput",
    "== 2. Task start latency",
    "== 3. Memory",
    "== 4. Task queries",
    "== Summary",
]
FIGURES = [
    "GET /ping (bare FastAPI, same uvicorn)",
    "POST /control/execute Noop -> 202",
    "GET /control/status/{id} (finished)",
    "started_at - 202 received  (start latency)",
    "bytes per retained task",
    "execute (Noop, 202) / ping req/s",
    "status / ping req/s",
    "task start latency p50",
    "query (status=complete, limit=50) / status p50",
    "status p50 under a query loop / idle",
]


@pytest.mark.timeout(170)
def test_bench_service_quick() -> None:
    proc = subprocess.run([PYTHON, str(ROOT / "bench" / "service.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=150)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for heading in HEADINGS:
        assert heading in proc.stdout, f"missing {heading!r}:\n{out[-6000:]}"
    for figure in FIGURES:
        assert figure in proc.stdout, f"missing {figure!r}:\n{out[-6000:]}"
    assert "command: .venv/bin/python bench/service.py --quick" in proc.stdout
    assert "MISMATCH" not in proc.stdout, out[-6000:]
