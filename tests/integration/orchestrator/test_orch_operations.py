"""Long work survives operations: Redis restarts, pauses and failovers, service deploys and outages.

Every fault is made with real processes (redis-server with AOF, Sentinel, template services, a TCP
proxy that refuses or resets connections). Settings are short where the behaviour scales with them.
"""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.support import PYTHON, Process, ServiceProcess, free_port, wait_until
from tests.support.redis_ops import DurableRedis, SentinelGroup
from tests.support.tcp_proxy import FaultProxy

from .conftest import EXAMPLES, TEMPLATE, Orchestrator, dockerinfo_for, load, long_params, service_tasks

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


def submit_many(orch: Orchestrator, port: int, n: int, duration: float) -> list[str]:
    params = long_params(DIAMOND, duration, 4)
    return [orch.submit(DIAMOND, dockerinfo_for(DIAMOND, port), parameters=params)["workflow_id"]
            for _ in range(n)]


def four_running(orch: Orchestrator, port: int) -> tuple[list[Process], list[str]]:
    """Two workers driving four diamonds of 1 s nodes, once all four run."""
    workers = [orch.start_worker(), orch.start_worker()]
    wids = submit_many(orch, port, 4, 1.0)
    wait_until(lambda: all(orch.workflow(w)["status"] == "running" for w in wids), timeout=20, what="all running")
    return workers, wids


def assert_all_complete_once(orch: Orchestrator, service_url: str, wids: list[str], timeout: float = 60) -> None:
    """Every workflow complete; on the service, each node ran exactly one task (no duplicate)."""
    for wid in wids:
        wf = orch.wait(wid, timeout=timeout)
        assert wf["status"] == "complete", (wf["error"], wf["failed_node"], orch.logs())
        ran = service_tasks(service_url, wid)
        assert sorted(t["task_id"] for t in ran) == sorted(t["task_id"] for t in orch.tasks(wid).values()), ran
        assert len(ran) == 4


def test_orch_redis_sigkilled_and_restarted_with_aof_mid_run(service):
    rds = DurableRedis()
    orch = Orchestrator(rds.url)
    try:
        assert orch.http.get("/health").json()["redis_persistence"] == "aof"
        workers, wids = four_running(orch, service.port)
        for _ in range(2):  # twice, each after the AOF's everysec fsync had time to hold the submissions
            wait_until(lambda: orch.http.get("/health").status_code == 200, timeout=20, what="redis back")
            rds.kill()
            rds.start()
        assert_all_complete_once(orch, service.url, wids)
        assert all(w.alive() for w in workers), orch.logs()
    finally:
        orch.close()
        rds.stop()


def test_orch_health_says_when_redis_keeps_nothing(orch):
    health = orch.http.get("/health").json()  # the test redis-server runs without AOF or RDB
    assert health["status"] == "ok" and health["redis_persistence"] == "none"


def test_orch_redis_paused_8s_with_the_default_lease_fails_nothing(service):
    rds = DurableRedis()
    orch = Orchestrator(rds.url, env={"ORCHESTRATOR_LEASE_TTL": "15", "ORCHESTRATOR_HEARTBEAT_INTERVAL": "3",
                                      "ORCHESTRATOR_REAPER_INTERVAL": "1"})
    try:
        workers, wids = four_running(orch, service.port)
        rds.pause()
        try:
            with pytest.raises(TimeoutError):  # 8 s in which Redis answers nobody
                wait_until(lambda: False, timeout=8, interval=0.5, what="8 s of paused Redis")
        finally:
            rds.resume()
        assert_all_complete_once(orch, service.url, wids)
        assert all(w.alive() for w in workers), orch.logs()
    finally:
        orch.close()
        rds.stop()


def test_orch_small_submission_while_redis_paused_answers_503_at_once(service):
    """Small submissions are stored on the API's event loop: a paused Redis must cost them a short
    timeout (no retries), not the loop a read timeout per try; once Redis is back they go through."""
    rds = DurableRedis()
    orch = Orchestrator(rds.url)
    try:
        orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port))  # the API has looked for replicas
        rds.pause()
        try:
            started = time.monotonic()
            r = orch.http.post("/workflows", json={"blueprint": DIAMOND,
                                                   "dockerinfo": dockerinfo_for(DIAMOND, service.port)})
            took = time.monotonic() - started
        finally:
            rds.resume()
        assert r.status_code == 503 and "Redis unavailable" in r.text, r.text
        assert took < 4, took  # the store's own clients would wait 5 s per try, four tries
        wid = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port))["workflow_id"]
        orch.start_worker()
        assert orch.wait(wid, timeout=60)["status"] == "complete"
    finally:
        orch.close()
        rds.stop()


def test_orch_sentinel_failover_mid_run(service):
    group = SentinelGroup()
    orch = Orchestrator(group.master.url, env={"ORCHESTRATOR_REDIS_SENTINELS": group.sentinels,
                                               "ORCHESTRATOR_REDIS_MASTER": SentinelGroup.MASTER})
    try:
        workers = [orch.start_worker(), orch.start_worker()]
        wids = submit_many(orch, service.port, 4, 1.0)  # each 201 waited for the replica's ack
        old = group.master.port
        group.master.kill()  # the master dies mid-run; the Sentinel promotes the replica
        wait_until(lambda: group.master_port() != old, timeout=30, interval=0.2, what="failover")
        assert group.master_port() == group.replica.port
        more = submit_many(orch, service.port, 2, 0.2)  # the API follows the new master too
        assert_all_complete_once(orch, service.url, wids + more)
        assert all(w.alive() for w in workers), orch.logs()
    finally:
        orch.close()
        group.close()


def _template_keeps_interrupted_tasks() -> bool:
    root = TEMPLATE.parent.parent
    return any("interrupted" in p.read_text(errors="ignore")
               for d in ("taskservice", "templates") for p in (root / d).rglob("*.py"))


@pytest.mark.skipif(not _template_keeps_interrupted_tasks(),
                    reason="needs the template's side of issue 8.3 (SIGTERMed tasks recorded as interrupted)")
def test_orch_service_sigtermed_mid_node_and_started_again_completes(orch, tmp_path):
    port = free_port()
    env = {"SERVICE_STATE_DB": str(tmp_path / "tasks.db"), "SERVICE_SHUTDOWN_GRACE": "0.2"}
    svc = ServiceProcess(TEMPLATE, port=port, env=env, name="deployed-svc")
    try:
        orch.start_worker()
        params = long_params(DIAMOND, 0.1, 1, source={"duration": 3, "steps": 30})
        wid = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, port), parameters=params)["workflow_id"]
        wait_until(lambda: orch.tasks(wid)["source"]["progress"] > 0, timeout=15, what="source progress")
        first = orch.tasks(wid)["source"]["task_id"]
        svc.stop()  # SIGTERM: a deploy
        svc = ServiceProcess(TEMPLATE, port=port, env=env, name="deployed-svc")
        wf = orch.wait(wid, timeout=40)
        assert wf["status"] == "complete", wf
        src = orch.tasks(wid)["source"]
        assert src["attempt"] == 2 and src["task_id"] != first
        old = httpx.get(f"{svc.url}/control/status/{first}", timeout=5).json()
        assert old["status"] == "failed" and old["interrupted"] is True, old
    finally:
        svc.stop()


def source_running_behind(proxy: FaultProxy, orch: Orchestrator, duration: float) -> str:
    """A diamond whose services are reached through `proxy`, once its long source node runs."""
    orch.start_worker()
    params = long_params(DIAMOND, 0.1, 1, source={"duration": duration, "steps": int(duration * 10)})
    wid = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, proxy.port), parameters=params)["workflow_id"]
    orch.wait_node(wid, "source", ("running",))
    return wid


def test_orch_service_down_6s_within_the_outage_tolerance_completes(redis_server, service):
    proxy = FaultProxy(service.port)
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_OUTAGE_TOLERANCE": "30"})
    try:
        wid = source_running_behind(proxy, orch, 3)
        proxy.down()
        with pytest.raises(TimeoutError):  # 6 s unreachable (tolerance 30 s; the default is 600 s)
            wait_until(lambda: orch.workflow(wid)["status"] != "running", timeout=6, interval=0.2,
                       what="6 s outage")
        proxy.up()
        wf = orch.wait(wid, timeout=30)
        assert wf["status"] == "complete", wf
        src = orch.tasks(wid)["source"]
        assert src["attempt"] == 1 and src["retries"] >= 2  # the same task, re-attached
    finally:
        orch.close()
        proxy.close()


def test_orch_service_down_longer_than_the_tolerance_fails_and_the_stop_reaches_it(redis_server, service):
    proxy = FaultProxy(service.port)
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_OUTAGE_TOLERANCE": "2",
                                               "ORCHESTRATOR_STOP_RETRY_INTERVAL": "0.3"})
    try:
        wid = source_running_behind(proxy, orch, 60)
        task_id = orch.tasks(wid)["source"]["task_id"]
        proxy.down()
        wf = orch.wait(wid, timeout=20)
        assert wf["status"] == "failed", wf
        assert wf["failed_node"]["node"] == "source.LongProcess"
        assert "service outage" in wf["error"] and "outage tolerance 2 s" in wf["error"], wf["error"]
        # the service never heard of it: its task still runs, the stop waits in Redis
        assert httpx.get(f"{service.url}/control/status/{task_id}", timeout=5).json()["status"] == "running"
        assert orch.redis.zcard(f"{orch.prefix}:stops") == 1
        proxy.up()
        wait_until(lambda: httpx.get(f"{service.url}/control/status/{task_id}", timeout=5).json()["status"]
                   in ("stopping", "cancelled"), timeout=15, what="the pending stop reaching the service")
        wait_until(lambda: orch.redis.zcard(f"{orch.prefix}:stops") == 0, timeout=10, what="stop delivered")
    finally:
        orch.close()
        proxy.close()


def test_orch_20_connection_resets_spread_over_a_long_node_complete_it(redis_server, service):
    proxy = FaultProxy(service.port)
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_POLL_WAIT": "1"})
    try:
        wid = source_running_behind(proxy, orch, 8)
        resets = 0
        while resets < 20:  # reset whatever is open (the long-poll), every ~0.3 s
            assert orch.workflow(wid)["status"] == "running"
            with pytest.raises(TimeoutError):
                wait_until(lambda: False, timeout=0.3, interval=0.1, what="spacing")
            resets += 1 if proxy.reset_all() else 0
        wf = orch.wait(wid, timeout=30)
        assert wf["status"] == "complete", wf
        assert orch.tasks(wid)["source"]["attempt"] == 1
        assert len(service_tasks(service.url, wid)) == 4
    finally:
        orch.close()
        proxy.close()


def test_orch_stale_owner_after_a_partition_writes_nothing(orch, service):
    w1 = orch.start_worker()
    params = long_params(DIAMOND, 0.1, 1, source={"duration": 2.5, "steps": 25})
    wid = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=params)["workflow_id"]
    wait_until(lambda: orch.tasks(wid)["source"]["progress"] > 0, timeout=15, what="source progress")
    os.kill(w1.pid, signal.SIGSTOP)  # cut off: it still believes it owns the node
    try:
        orch.start_worker()
        wf = orch.wait(wid, timeout=30)  # the other worker took over after the lease and finished
        assert wf["status"] == "complete", wf
        before = orch.tasks(wid)
    finally:
        os.kill(w1.pid, signal.SIGCONT)  # healed
    # the stale owner comes back; once it has done other work, its old node is behind it
    orch.workers[1].stop()
    other = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 0.05, 1))
    assert orch.wait(other["workflow_id"], timeout=30)["status"] == "complete"
    after = orch.tasks(wid)
    keys = ("status", "retries", "last_error", "attempt", "task_id", "updated_at", "finished_at")
    for c in before:  # nothing it wrote reached the nodes the other worker completed
        assert {k: after[c][k] for k in keys} == {k: before[c][k] for k in keys}
    assert len(service_tasks(service.url, wid)) == 4
    assert w1.alive()


def _flaky(fail_attempts: int) -> tuple[Process, int]:
    from pathlib import Path
    port = free_port()
    stub = Process([PYTHON, str(Path(__file__).with_name("flaky_stub.py")), str(port)],
                   env={"FAIL_ATTEMPTS": str(fail_attempts)}, name="flaky-stub")
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200,
               timeout=20, what="flaky stub")
    return stub, port


def test_orch_node_failures_get_max_attempts_then_fail_the_node(orch):
    stub, port = _flaky(fail_attempts=2)
    try:
        orch.start_worker()
        di = dockerinfo_for(DIAMOND, port)
        ok = orch.submit(DIAMOND, di, options={"max_attempts": 3})["workflow_id"]  # fails twice, third runs
        short = orch.submit(DIAMOND, di, options={"node_max_attempts": {"source": 2}})["workflow_id"]
        once = orch.submit(DIAMOND, di)["workflow_id"]  # default: 1 attempt
        wf = orch.wait(ok, timeout=30)
        assert wf["status"] == "complete", wf
        assert {t["attempt"] for t in orch.tasks(ok).values()} == {3}
        wf = orch.wait(short, timeout=30)
        assert wf["status"] == "failed" and wf["failed_node"]["node"] == "source.LongProcess"
        src = orch.tasks(short)["source"]
        assert src["attempt"] == 2 and "the work failed" in src["error"] and "attempt 2 of 2" in src["error"]
        wf = orch.wait(once, timeout=30)
        assert wf["status"] == "failed" and orch.tasks(once)["source"]["attempt"] == 1
    finally:
        stub.stop()
