"""Crashes: a worker SIGKILLed mid-node, a service killed and restarted mid-node."""

from __future__ import annotations

import os
import signal
import time

from tests.support import ServiceProcess, free_port, wait_until

from .conftest import EXAMPLES, TEMPLATE, Orchestrator, dockerinfo_for, load, long_params, service_tasks

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


def test_orch_worker_sigkilled_mid_node_is_taken_over_within_30s(redis_server, service):
    # the shipped defaults (15 s lease, 3 s heartbeat), not the fast test settings
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_LEASE_TTL": "15", "ORCHESTRATOR_HEARTBEAT_INTERVAL": "3",
                                               "ORCHESTRATOR_REAPER_INTERVAL": "1"})
    try:
        w1 = orch.start_worker()
        params = long_params(DIAMOND, 0.2, 2, source={"duration": 3, "steps": 30})
        sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=params)
        wid = sub["workflow_id"]
        orch.wait_node(wid, "source", ("running",))
        owner = orch.redis.hget(f"{orch.prefix}:wf:{wid}:n:0", "owner")
        assert owner and owner.split(":")[1] == str(w1.pid)
        w2 = orch.start_worker()
        os.kill(w1.pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: orch.redis.hget(f"{orch.prefix}:wf:{wid}:n:0", "owner") not in (owner,),
                   timeout=30, interval=0.1, what="takeover")
        assert time.monotonic() - killed < 30
        wf = orch.wait(wid, timeout=40)
        assert wf["status"] == "complete", wf
        # each node executed exactly once on the service: one task per vertex, none repeated
        executed = service_tasks(service.url, wid)
        assert len(executed) == 4
        assert sorted(t["task_id"] for t in executed) == sorted(t["task_id"] for t in orch.tasks(wid).values())
        assert all(t["attempt"] == 1 for t in orch.tasks(wid).values())
        assert w2.alive()
    finally:
        orch.close()


def test_orch_service_killed_and_restarted_mid_node(orch):
    port = free_port()
    svc = ServiceProcess(TEMPLATE, port=port, name="restarting-svc")
    try:
        orch.start_worker()
        params = long_params(DIAMOND, 0.1, 1, source={"duration": 2, "steps": 20})
        sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, port), parameters=params)
        wid = sub["workflow_id"]
        wait_until(lambda: orch.tasks(wid)["source"]["progress"] > 0, timeout=10, what="source progress")
        svc.kill()
        svc = ServiceProcess(TEMPLATE, port=port, name="restarting-svc")
        wf = orch.wait(wid, timeout=30)
        assert wf["status"] == "complete", wf
        src = orch.tasks(wid)["source"]
        # the lost task (vanished, or interrupted where the service keeps records) ran again as attempt 2
        assert src["retries"] >= 1 and src["attempt"] == 2
        ran = service_tasks(svc.url, wid)
        assert src["task_id"] in {t["task_id"] for t in ran}
        assert len({t["task_id"] for t in ran if t["status"] == "complete"}) == 4
    finally:
        svc.stop()
