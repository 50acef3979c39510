"""Cancel, retry, per-node timeout and failure handling against real services."""

from __future__ import annotations

import httpx

from .conftest import EXAMPLES, Orchestrator, dockerinfo_for, load, long_params

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


def service_status(service, task_id: str) -> str:
    return httpx.get(f"{service.url}/control/status/{task_id}", timeout=5).json()["status"]


def test_orch_cancel_stops_running_tasks_then_retry_reruns_only_unfinished(orch, service):
    orch.start_worker()
    params = long_params(DIAMOND, 0.2, 2, left={"duration": 30, "steps": 300}, right={"duration": 30, "steps": 300})
    sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=params)
    wid = sub["workflow_id"]
    left = orch.wait_node(wid, "left", ("running",))
    orch.wait_node(wid, "right", ("running",))
    r = orch.http.post(f"/workflows/{wid}/cancel")
    assert r.status_code == 200 and r.json()["status"] in ("stopping", "cancelled"), r.text
    wf = orch.wait(wid, timeout=15)
    assert wf["status"] == "cancelled"
    t = orch.tasks(wid)
    assert [t[c]["status"] for c in ("source", "left", "right", "sink")] == \
        ["complete", "cancelled", "cancelled", "cancelled"]
    assert service_status(service, left["task_id"]) == "cancelled"  # really stopped on the service
    assert orch.http.post(f"/workflows/{wid}/cancel").status_code == 409

    # retry: only the cancelled nodes run again, with a new attempt and task id; quick this time
    orch.redis.hset(f"{orch.prefix}:wf:{wid}", "spec", orch.redis.hget(f"{orch.prefix}:wf:{wid}", "spec")
                    .replace('"duration":30', '"duration":0.1'))  # same blueprint, shorter work
    r = orch.http.post(f"/workflows/{wid}/retry")
    assert r.status_code == 200, r.text
    wf = orch.wait(wid)
    assert wf["status"] == "complete", wf
    t2 = orch.tasks(wid)
    assert t2["source"]["attempt"] == 1 and t2["source"]["task_id"] == t["source"]["task_id"]
    assert t2["left"]["attempt"] == 2 and t2["left"]["task_id"] != left["task_id"]
    assert t2["sink"]["attempt"] == 2


def test_orch_failed_node_cancels_running_ones_and_fails_workflow(orch, service):
    orch.start_worker()
    bp = load(EXAMPLES / "diamond" / "blueprint.json")
    bp["nodes"][1]["operation_signature_list"][0]["operation_signature"]["operation_name"] = "LongProcess"
    params = long_params(bp, 0.1, 1, right={"duration": 30, "steps": 300},
                         left={"duration": "not a number"})  # the service answers 422
    sub = orch.submit(bp, dockerinfo_for(bp, service.port), parameters=params)
    wf = orch.wait(sub["workflow_id"], timeout=15)
    assert wf["status"] == "failed"
    assert wf["failed_node"]["node"] == "left.LongProcess" and "422" in wf["failed_node"]["error"]
    t = orch.tasks(sub["workflow_id"])
    assert t["sink"]["status"] == "cancelled"
    orch.wait_node(sub["workflow_id"], "right", ("cancelled",), timeout=10)


def test_orch_node_timeout_stops_the_task_and_fails_the_node(orch, service):
    orch.start_worker()
    params = long_params(DIAMOND, 0.05, 1, left={"duration": 30, "steps": 300})
    sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=params,
                      options={"node_timeouts": {"left": 0.5}, "fail_fast": True})
    wf = orch.wait(sub["workflow_id"], timeout=15)
    assert wf["status"] == "failed", wf
    left = orch.tasks(sub["workflow_id"])["left"]
    assert left["status"] == "failed" and "timed out after 0.5 s" in left["error"]
    assert service_status(service, left["task_id"]) in ("stopping", "cancelled")


def test_orch_unreachable_service_fails_after_the_outage_tolerance(redis_server):
    from tests.support import free_port
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_OUTAGE_TOLERANCE": "1.5"})
    try:
        orch.start_worker()
        sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, free_port()))
        wf = orch.wait(sub["workflow_id"], timeout=15)
        assert wf["status"] == "failed"
        assert wf["failed_node"]["node"] == "source.LongProcess" and "service outage" in wf["error"]
        src = orch.tasks(sub["workflow_id"])["source"]
        assert src["retries"] >= 2 and "outage tolerance 1.5 s" in src["error"] and "Connect" in src["error"]
    finally:
        orch.close()


def test_orch_max_retries_is_refused_naming_what_replaced_it(orch):
    r = orch.http.post("/workflows", json={"blueprint": DIAMOND, "dockerinfo": dockerinfo_for(DIAMOND, 1),
                                           "options": {"max_retries": 3}})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"][-1] == "max_retries" and "max_attempts" in detail["msg"] \
        and "ORCHESTRATOR_OUTAGE_TOLERANCE" in detail["msg"]
