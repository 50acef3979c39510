"""Pause and resume on the example service: its PausableProcess declares `pausable=True`,
its LongProcess does not (409)."""

from __future__ import annotations

import uuid

from tests.support import wait_until


def test_example_pausable_process_pauses_and_resumes(client):
    tid = f"pp-{uuid.uuid4().hex[:8]}"
    r = client.post("/control/execute", json={"method": "PausableProcess", "task_id": tid,
                                              "parameters": {"duration": 2, "steps": 200}})
    assert r.status_code == 202 and r.json()["pausable"] is True
    wait_until(lambda: client.get(f"/control/status/{tid}").json()["progress"] > 0, what="progress")
    assert client.post(f"/control/pause/{tid}").json()["status"] == "paused"
    assert client.get(f"/control/status/{tid}").json()["status"] == "paused"
    assert client.post(f"/control/resume/{tid}").json()["status"] == "running"
    done = wait_until(lambda: (rec := client.get(f"/control/status/{tid}", params={"wait": 5}).json())
                      ["status"] not in ("running", "paused") and rec, timeout=30, what="end")
    assert done["status"] == "complete" and done["progress"] == 100


def test_example_long_process_is_not_pausable(client):
    tid = f"lp-{uuid.uuid4().hex[:8]}"
    client.post("/control/execute", json={"method": "LongProcess", "task_id": tid,
                                          "parameters": {"duration": 30, "steps": 30}})
    r = client.post(f"/control/pause/{tid}")
    assert r.status_code == 409 and "not pausable" in r.json()["detail"]
    client.post(f"/control/stop/{tid}")
