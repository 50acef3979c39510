"""`bench/orchestrator.py --quick` runs end to end and prints its table (no timing assertions).

The bench starts its own redis-server, template services, the orchestrator API
and two workers; exit status 0 means every part ran and nothing was lost.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import PYTHON, ROOT

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")

HEADINGS = [
    "== 1. hop delay along a 20-node chain",
    "== 2. ",
    "== 3. ",
    "== 4. the chain hop again with",
    "== 5. hop with and without push",
    "== 6. quick-node cost per node",
    "== 7. throughput",
    "== 8. background-node hop",
    "== 9. submit of a",
    "== results",
]
FIGURES = [
    "orchestrator hop (finished -> next started_at)",
    "RQ SimpleWorker depends_on hop",
    "RQ forking Worker depends_on hop",
    "node tasks per second (2 workers)",
    "peak running node tasks on the services",
    "worker RSS idle -> peak",
    "hop p50 ratio (4)/(1)",
    "hop WITH push",
    "hop WITHOUT push",
    "Redis CPU per node (commandstats, each command once)",
    "Redis CPU per node (INFO cpu",
    "orchestrator / RQ SimpleWorker",
    "hop p50 / floor p50",
    "POST /workflows of a",
]


@pytest.mark.timeout(270)
def test_bench_orchestrator_quick() -> None:
    proc = subprocess.run([PYTHON, str(ROOT / "bench" / "orchestrator.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for heading in HEADINGS:
        assert heading in proc.stdout, f"missing {heading!r}:\n{out[-6000:]}"
    table = proc.stdout.split("== results", 1)[1]
    assert "part" in table and "figure" in table and "target" in table, table
    for figure in FIGURES:
        assert figure in table, f"missing {figure!r} in the table:\n{table}"
    assert "nothing lost" in table and "PROBLEMS" not in proc.stdout, out[-6000:]
