"""A quiet spell after a burst must not fail the next node on stale pooled connections.

The worker's control client keeps the burst's keep-alive connections; the template
service (uvicorn) closes connections idle for 5 s. The next workflow's calls must go
out on live connections: no transient fault, no retry.
"""

from __future__ import annotations

import time

from .conftest import EXAMPLES, dockerinfo_for, load, long_params

FANOUT = load(EXAMPLES / "fanout20" / "blueprint.json")
DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


def test_orch_burst_then_idle_longer_than_keepalive_then_no_retries(orch, service):
    orch.start_worker()  # one worker: it holds every pooled connection of the burst
    burst = orch.submit(FANOUT, dockerinfo_for(FANOUT, service.port), parameters=long_params(FANOUT, 0.3, 1))
    assert orch.wait(burst["workflow_id"], timeout=30)["status"] == "complete"

    time.sleep(6)  # longer than uvicorn's 5 s keep-alive: the service closed every idle connection

    probe = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 0.05, 1))
    wf = orch.wait(probe["workflow_id"], timeout=30)
    assert wf["status"] == "complete", (wf, orch.logs())
    tasks = orch.tasks(probe["workflow_id"])
    assert [(t["retries"], t["attempts"], t["last_error"]) for t in tasks.values()] == [(0, 1, None)] * 4, tasks
