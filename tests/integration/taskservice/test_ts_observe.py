"""A real template service tells operators what it does: JSON log lines per task step and /metrics."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import ROOT, ServiceProcess, wait_until

TEMPLATE = ROOT / "templates" / "concurrent"


@pytest.fixture(scope="module")
def json_service(tmp_path_factory):
    data = tmp_path_factory.mktemp("observe-data")
    proc = ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(data), "SERVICE_LOG_FORMAT": "json"},
                          name="ts-observe")
    yield proc
    proc.stop()


def metrics(client: httpx.Client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def lines(proc: ServiceProcess) -> list[dict]:
    out = []
    for line in proc.log().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_ts_task_steps_are_logged_as_json_and_counted_in_metrics(json_service):
    wid = f"wf-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=json_service.url, timeout=15) as c:
        before = metrics(c)
        assert before[("taskservice_pool_busy", ())] == 0
        assert before[("taskservice_pool_size", ())] == 32

        r = c.post("/control/execute", json={"method": "LongProcess", "task_id": "obs-ok", "workflow_id": wid,
                                             "parameters": {"duration": 0.05, "steps": 1}})
        assert r.status_code == 202, r.text
        assert c.get("/control/status/obs-ok", params={"wait": 10}).json()["status"] in ("running", "complete")
        wait_until(lambda: c.get("/control/status/obs-ok").json()["status"] == "complete", what="complete")

        r = c.post("/control/execute", json={"method": "LongProcess", "task_id": "obs-stop", "workflow_id": wid,
                                             "parameters": {"duration": 60, "steps": 60}})
        assert r.status_code == 202
        wait_until(lambda: metrics(c)[("taskservice_pool_busy", ())] == 1, what="pool busy")
        assert c.post("/control/stop/obs-stop").status_code == 200
        wait_until(lambda: c.get("/control/status/obs-stop").json()["status"] == "cancelled", what="cancelled")

        assert c.post("/control/execute", json={"method": "QuickTask", "task_id": "obs-quick"}).status_code == 200
        r = c.post("/control/execute", json={"method": "TrainModel", "task_id": "obs-bad",
                                             "inputs": [{"protocol": "inline", "uri": "inline://bad",
                                                         "format": "json", "data": {"not": "X and y"}}]})
        assert r.status_code == 202, r.text
        wait_until(lambda: c.get("/control/status/obs-bad").json()["status"] == "failed", what="failed")

        after = metrics(c)
    key = "taskservice_tasks_total"
    assert after[(key, (("method", "LongProcess"), ("status", "complete")))] == 1
    assert after[(key, (("method", "LongProcess"), ("status", "cancelled")))] == 1
    assert after[(key, (("method", "QuickTask"), ("status", "complete")))] == 1
    assert after[(key, (("method", "TrainModel"), ("status", "failed")))] == 1
    assert after[("taskservice_tasks_accepted_total", (("method", "LongProcess"),))] == 2
    assert after[("taskservice_task_duration_seconds_count", (("method", "LongProcess"),))] == 2
    assert after[("taskservice_stop_requests_total", (("method", "LongProcess"),))] == 1
    assert after[("taskservice_tasks_retained", ())] == 4
    assert after[("taskservice_pool_busy", ())] == 0 and after[("taskservice_tasks_queued", ())] == 0

    log = lines(json_service)
    mine = [ln for ln in log if ln.get("task_id") == "obs-ok"]
    assert [ln["event"] for ln in mine] == ["task accepted", "task started", "task finished"]
    assert all(ln["workflow_id"] == wid and ln["method"] == "LongProcess" for ln in mine)
    assert mine[-1]["status"] == "complete" and mine[-1]["duration"] >= 0.04 and "timestamp" in mine[-1]
    stop = [ln for ln in log if ln.get("task_id") == "obs-stop"]
    assert [ln["event"] for ln in stop] == ["task accepted", "task started", "task stop requested", "task finished"]
    assert stop[-1]["status"] == "cancelled"
    bad = [ln for ln in log if ln.get("task_id") == "obs-bad" and ln["event"] == "task finished"]
    assert bad[0]["status"] == "failed" and bad[0]["level"] == "warning" and bad[0]["error"]
    # no line per status call
    assert not [ln for ln in log if "status" in ln.get("event", "")]
