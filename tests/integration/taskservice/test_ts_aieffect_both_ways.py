"""AI-Effect's orchestrator driving our service, both ways (issue 13, item 1).

It derives a node's task id from the node's name, so every run of a blueprint
sends the same ids: a finished task's id coming back from another workflow is
fresh work, while it is still active a 409, and within one workflow the same
task. It accepts only `complete`, `running` and `failed`: with
`SERVICE_STATUS_DIALECT=ai-effect`, waiting and cancelled tasks read in those
words. The client is the contract test's copy of its ControlClient and models.
"""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

from tests.integration.taskservice.test_ts_aieffect_contract import (ControlClient, DataReference, Format,
                                                                      StatusResponse)
from tests.support import ROOT, ServiceProcess, wait_until

SEED_SERVICE = ROOT / "tests" / "fixtures" / "seed_service"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    proc = ServiceProcess(SEED_SERVICE, name="seed-aieffect",
                          env={"SERVICE_DATA_DIR": str(tmp_path_factory.mktemp("aieffect-data")),
                               "SERVICE_STATUS_DIALECT": "ai-effect"})  # the durable SQLite store
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def control(service):
    return ControlClient(service.url)


@pytest.fixture(scope="module")
def http(service):
    with httpx.Client(base_url=service.url, timeout=15) as c:
        yield c


def inline(value) -> DataReference:
    return DataReference.from_inline_data(json.dumps(value).encode(), Format.JSON)


def run_node(control: ControlClient, workflow_id: str, task_id: str, value) -> tuple[dict, object]:
    """One node as its worker runs it: execute, poll until not running, fetch output."""
    first = control.execute("Inputs", workflow_id, task_id, [inline(value)])
    assert first.task_id == task_id and first.status in ("running", "complete")
    status = wait_until(lambda: (s := control.get_status(task_id)).status != "running" and s, what="node ends")
    assert status.status == "complete", status
    output = control.get_output(task_id).output
    return json.loads(base64.b64decode(output.uri)), first


def test_reused_task_id_in_a_new_workflow_is_fresh_work(control, http):
    node = f"node-{uuid.uuid4().hex[:6]}"  # AI-Effect: the node's name, the same in every run
    first_run, _ = run_node(control, "wf-run-1", node, {"run": 1})
    assert first_run == {"inputs": [{"run": 1}]}
    created_1 = http.get(f"/control/status/{node}").json()["created_at"]

    raw = http.post("/control/execute", json={"method": "Inputs", "workflow_id": "wf-run-2", "task_id": node,
                                              "inputs": [inline({"run": 2}).model_dump(mode="json")]})
    assert raw.status_code == 202, raw.text
    assert raw.json()["replaced"] == {"workflow_id": "wf-run-1", "status": "complete"}
    wait_until(lambda: http.get(f"/control/status/{node}").json()["status"] == "complete", what="run 2")
    second = json.loads(base64.b64decode(control.get_output(node).output.uri))
    assert second == {"inputs": [{"run": 2}]}  # the new run's own output, not the first run's

    # run 3 through the client itself; then a retry within run 3 is the same task (idempotent)
    third, _ = run_node(control, "wf-run-3", node, {"run": 3})
    assert third == {"inputs": [{"run": 3}]}
    created_3 = http.get(f"/control/status/{node}").json()["created_at"]
    assert created_3 > created_1
    again = control.execute("Inputs", "wf-run-3", node, [inline({"run": 3})])
    assert again.status == "complete"
    record = http.get(f"/control/status/{node}").json()
    assert record["created_at"] == created_3 and record["workflow_id"] == "wf-run-3"
    other_work = http.post("/control/execute", json={"method": "Inputs", "workflow_id": "wf-run-3",
                                                     "task_id": node, "inputs": []})
    assert other_work.status_code == 409


def test_reused_id_while_still_active_is_409(http):
    node = f"node-{uuid.uuid4().hex[:6]}"
    busy = http.post("/control/execute", json={"method": "Unbounded", "workflow_id": "wf-a", "task_id": node,
                                               "parameters": {"seconds": 30}})
    assert busy.status_code == 202
    clash = http.post("/control/execute", json={"method": "Unbounded", "workflow_id": "wf-b", "task_id": node,
                                                "parameters": {"seconds": 30}})
    assert clash.status_code == 409 and node in clash.json()["detail"] and "wf-a" in clash.json()["detail"]
    http.post(f"/control/stop/{node}")


def test_waiting_and_cancelled_tasks_speak_its_three_words(control, http):
    blocker, node = f"blk-{uuid.uuid4().hex[:6]}", f"node-{uuid.uuid4().hex[:6]}"
    http.post("/control/execute", json={"method": "Limited", "task_id": blocker, "workflow_id": "wf-x",
                                        "parameters": {"seconds": 30}})
    first = control.execute("Limited", "wf-y", node)  # waits for the resource: ours says pending
    assert first.status == "running"
    assert control.get_status(node).status == "running"
    assert http.get("/control/tasks", params={"Id": node}).json()["tasks"][0]["status"] == "pending"
    http.post(f"/control/stop/{blocker}")
    cancelled: StatusResponse = wait_until(lambda: (s := control.get_status(blocker)).status != "running" and s,
                                           what="blocker ends")
    assert cancelled.status == "failed" and "cancelled" in cancelled.error
    done = wait_until(lambda: (s := control.get_status(node)).status != "running" and s, what="node ends")
    assert done.status == "complete"
