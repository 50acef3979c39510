"""The example service (templates/concurrent/service.py) as a real process over HTTP (issue 2).

One process serves the whole module; tests use distinct task and workflow ids.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pytest

from tests.support import wait_until

FINISHED = {"complete", "failed", "cancelled"}
ACTIVE = {"pending", "running", "stopping"}


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def inline(data, uri: str = "inline://x") -> dict:
    return {"protocol": "inline", "uri": uri, "format": "json", "data": data}


def execute(client, method: str, task_id: str | None = None, **body) -> httpx.Response:
    payload = {"method": method, **body}
    if task_id is not None:
        payload["task_id"] = task_id
    return client.post("/control/execute", json=payload)


def wait_done(client, task_id: str, timeout: float = 20.0) -> dict:
    """Long-poll until the task has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/control/status/{task_id}", params={"wait": 5})
        assert r.status_code == 200, r.text
        if r.json()["status"] in FINISHED:
            return r.json()
    raise TimeoutError(f"{task_id} did not finish")


def started_total(client) -> int:
    return client.get("/health").json()["started_total"]


# -- execute -----------------------------------------------------------------------------

def test_background_execute_202_with_location_and_status_never_404(client):
    for _ in range(15):
        tid = uid("lp")
        r = execute(client, "LongProcess", tid, workflow_id="wf-reg", parameters={"duration": 0.2, "steps": 2})
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] in ("running", "pending") and body["task_id"] == tid
        assert r.headers["location"].endswith(f"/control/status/{tid}")
        s = client.get(r.headers["location"])
        assert s.status_code == 200, "a status call right after execute must never 404"
        assert s.json()["task_id"] == tid
    done = wait_done(client, tid)
    assert done["status"] == "complete" and done["progress"] == 100


def test_status_record_fields_and_iso_utc_times(client):
    tid = uid("rec")
    execute(client, "LongProcess", tid, workflow_id="wf-rec", parameters={"duration": 0.1, "steps": 1})
    rec = wait_done(client, tid)
    for key in ("task_id", "method", "status", "progress", "details", "error", "created_at", "started_at",
                "finished_at"):
        assert key in rec
    assert rec["method"] == "LongProcess" and rec["workflow_id"] == "wf-rec"
    assert isinstance(rec["details"], dict) and rec["details"].get("step") == 1
    assert rec["error"] is None
    times = [datetime.fromisoformat(rec[k].replace("Z", "+00:00")) for k in ("created_at", "started_at",
                                                                           "finished_at")]
    assert all(t.utcoffset().total_seconds() == 0 for t in times)
    assert times[0] <= times[1] <= times[2]


def test_id_is_made_when_absent(client):
    r = execute(client, "LongProcess", parameters={"duration": 0.05, "steps": 1})
    assert r.status_code == 202
    tid = r.json()["task_id"]
    assert tid and client.get(f"/control/status/{tid}").status_code == 200
    r = execute(client, "QuickTask")
    assert r.status_code == 200 and r.json()["task_id"]


def test_quick_method_answers_200_with_output(client):
    tid = uid("q")
    r = execute(client, "QuickTask", tid, inputs=[inline([1, 2])], parameters={"k": "v"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "complete" and body["task_id"] == tid
    out = body["output"]
    assert {"protocol", "uri", "format"} <= out.keys()
    assert out["data"] == {"inputs": [[1, 2]], "parameters": {"k": "v"}}
    # also readable afterwards
    assert client.get(f"/control/status/{tid}").json()["status"] == "complete"
    o = client.get(f"/control/output/{tid}")
    assert o.status_code == 200 and o.json()["output"]["data"] == out["data"]


def test_long_process_output_holds_inputs_in_order_and_parameters(client):
    tid = uid("chain")
    inputs = [inline({"a": 1}, "inline://one"), inline([2, 3], "inline://two"), inline("three", "inline://3")]
    params = {"duration": 0.1, "steps": 2, "label": "x"}
    r = execute(client, "LongProcess", tid, inputs=inputs, parameters=params)
    assert r.status_code == 202
    assert wait_done(client, tid)["status"] == "complete"
    out = client.get(f"/control/output/{tid}").json()
    assert out["task_id"] == tid
    assert out["output"]["data"] == {"inputs": [{"a": 1}, [2, 3], "three"], "parameters": params}


# -- idempotency --------------------------------------------------------------------------

def test_idempotent_execute_returns_same_task_without_second_run(client):
    tid = uid("idem")
    body = dict(workflow_id="wf-idem", inputs=[inline(1)], parameters={"duration": 0.4, "steps": 2})
    before = started_total(client)
    first = execute(client, "LongProcess", tid, **body)
    second = execute(client, "LongProcess", tid, **body)
    assert first.status_code == 202 and second.status_code == 202
    assert second.json()["task_id"] == tid and second.json()["status"] in ACTIVE
    assert started_total(client) - before == 1
    wait_done(client, tid)
    third = execute(client, "LongProcess", tid, **body)
    assert third.status_code == 200, third.text
    assert third.json()["status"] == "complete"
    assert third.json()["output"]["data"]["inputs"] == [1]
    assert started_total(client) - before == 1
    listed = client.get("/control/tasks", params={"workflow_id": "wf-idem"}).json()
    assert [t["task_id"] for t in listed["tasks"]] == [tid]


def test_idempotent_quick_execute(client):
    tid = uid("qidem")
    a = execute(client, "QuickTask", tid, parameters={"n": 1})
    b = execute(client, "QuickTask", tid, parameters={"n": 1})
    assert a.status_code == b.status_code == 200
    assert a.json()["output"] == b.json()["output"]


@pytest.mark.parametrize("change", [
    {"parameters": {"duration": 0.3, "steps": 3}},
    {"method": "TrainModel"},
    {"inputs": [{"protocol": "inline", "uri": "inline://x", "format": "json", "data": 2}]},
])
def test_same_id_different_work_is_409(client, change):
    tid = uid("conf")
    body = {"method": "LongProcess", "task_id": tid, "inputs": [inline(1)],
            "parameters": {"duration": 0.3, "steps": 2}}
    assert client.post("/control/execute", json=body).status_code == 202
    r = client.post("/control/execute", json={**body, **change})
    assert r.status_code == 409, r.text
    assert tid in r.text
    wait_done(client, tid)


# -- bad input --------------------------------------------------------------------------------

def test_unknown_method_is_400_listing_known_methods(client):
    r = execute(client, "NoSuchMethod", uid())
    assert r.status_code == 400
    text = r.text
    for name in ("QuickTask", "LongProcess", "TrainModel", "MakeDataset", "LongTask"):
        assert name in text


def _locs(r: httpx.Response) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in r.json()["detail"]]


def test_malformed_bodies_are_422_naming_the_field(client):
    r = client.post("/control/execute", json={"task_id": "x"})
    assert r.status_code == 422 and any("method" in loc for loc in _locs(r))
    r = client.post("/control/execute", json={"method": "LongProcess", "inputs": "not-a-list"})
    assert r.status_code == 422 and any("inputs" in loc for loc in _locs(r))
    r = client.post("/control/execute", json={"method": "LongProcess", "inputs": [{"uri": "x"}]})
    assert r.status_code == 422 and any("protocol" in loc for loc in _locs(r))
    r = execute(client, "LongProcess", uid(), parameters={"duration": "long"})
    assert r.status_code == 422 and any("duration" in loc for loc in _locs(r))
    r = execute(client, "LongProcess", uid(), parameters={"steps": 0})
    assert r.status_code == 422 and any("steps" in loc for loc in _locs(r))
    r = client.post("/control/execute", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/control/execute", json=[1, 2])
    assert r.status_code == 422
    assert client.get("/health").json()["status"] == "ok"


def test_unknown_ids_are_404(client):
    assert client.get("/control/status/nope-404").status_code == 404
    assert client.get("/control/output/nope-404").status_code == 404
    assert client.post("/control/stop/nope-404").status_code == 404


# -- output -------------------------------------------------------------------------------

def test_output_is_409_with_status_until_complete(client):
    tid = uid("out")
    execute(client, "LongProcess", tid, parameters={"duration": 0.5, "steps": 5})
    r = client.get(f"/control/output/{tid}")
    assert r.status_code == 409
    assert r.json()["status"] in ACTIVE
    wait_done(client, tid)
    r = client.get(f"/control/output/{tid}")
    assert r.status_code == 200 and r.json()["output"]["protocol"] == "inline"


def test_query_forms_of_status_output_and_stop(client):
    tid = uid("qf")
    execute(client, "LongProcess", tid, parameters={"duration": 0.1, "steps": 1})
    wait_done(client, tid)
    s = client.get("/control/status", params={"task_id": tid})
    assert s.status_code == 200 and s.json()["task_id"] == tid
    o = client.get("/control/output", params={"task_id": tid})
    assert o.status_code == 200 and o.json()["task_id"] == tid
    assert client.get("/control/status", params={"task_id": "nope"}).status_code == 404
    assert client.get("/control/output", params={"task_id": "nope"}).status_code == 404


# -- stop ---------------------------------------------------------------------------------

def test_stop_long_process_stopping_then_cancelled_within_100ms(client):
    tid = uid("stop")
    execute(client, "LongProcess", tid, parameters={"duration": 30, "steps": 3})
    wait_until(lambda: client.get(f"/control/status/{tid}").json()["started_at"], what="started")
    t0 = time.time()
    r = client.post(f"/control/stop/{tid}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] in ("stopping", "cancelled")
    rec = wait_done(client, tid, timeout=5)
    assert rec["status"] == "cancelled"
    finished = datetime.fromisoformat(rec["finished_at"].replace("Z", "+00:00")).timestamp()
    assert finished - t0 < 0.1 + 0.05, f"took {finished - t0:.3f} s to honour the stop"
    assert client.get(f"/control/output/{tid}").status_code == 409
    r = client.post(f"/control/stop/{tid}")
    assert r.status_code == 409 and r.json().get("status") == "cancelled"


@pytest.mark.parametrize("method,parameters", [
    ("TrainModel", {"epochs": 100_000, "samples": 200}),
    ("LongTask", {"steps": 2, "duration": 3}),
])
def test_every_example_method_honours_stop_within_100ms(client, method, parameters):
    tid = uid("stop-" + method)
    r = execute(client, method, tid, parameters=parameters)
    assert r.status_code == 202, r.text
    wait_until(lambda: client.get(f"/control/status/{tid}").json()["started_at"], what="started")
    time.sleep(0.2)  # let the work get going
    t0 = time.time()
    assert client.post(f"/control/stop/{tid}").status_code == 200
    rec = wait_done(client, tid, timeout=15)
    assert rec["status"] == "cancelled"
    finished = datetime.fromisoformat(rec["finished_at"].replace("Z", "+00:00")).timestamp()
    assert finished - t0 < 0.1 + 0.05, f"{method} took {finished - t0:.3f} s to honour the stop"


def test_stop_finished_task_is_409(client):
    tid = uid("fin")
    execute(client, "LongProcess", tid, parameters={"duration": 0.05, "steps": 1})
    wait_done(client, tid)
    r = client.post(f"/control/stop/{tid}")
    assert r.status_code == 409
    r = client.post("/control/stop", params={"task_id": tid})
    assert r.status_code == 409


# -- long-poll ------------------------------------------------------------------------------

def test_long_poll_returns_early_on_change(client):
    tid = uid("lpoll")
    execute(client, "LongProcess", tid, parameters={"duration": 1.0, "steps": 2})
    first = client.get(f"/control/status/{tid}").json()
    t0 = time.monotonic()
    r = client.get(f"/control/status/{tid}", params={"wait": 20})
    elapsed = time.monotonic() - t0
    assert r.status_code == 200
    assert elapsed < 5, "long-poll must return as soon as the task changes"
    changed = r.json()
    assert (changed["progress"], changed["status"], changed["details"]) != (
        first["progress"], first["status"], first["details"]) or elapsed < 0.1
    wait_done(client, tid)


def test_long_poll_returns_at_once_when_finished(client):
    tid = uid("lpdone")
    execute(client, "LongProcess", tid, parameters={"duration": 0.05, "steps": 1})
    wait_done(client, tid)
    t0 = time.monotonic()
    r = client.get(f"/control/status/{tid}", params={"wait": 30})
    assert r.status_code == 200 and r.json()["status"] == "complete"
    assert time.monotonic() - t0 < 1.0


def test_long_poll_learns_of_completion_quickly(client):
    tid = uid("lpend")
    t0 = time.monotonic()
    execute(client, "LongProcess", tid, parameters={"duration": 0.6, "steps": 1})
    r = client.get(f"/control/status/{tid}", params={"wait": 20})
    assert r.json()["status"] == "complete"
    assert time.monotonic() - t0 < 3


def test_negative_wait_is_rejected(client):
    tid = uid("neg")
    execute(client, "LongProcess", tid, parameters={"duration": 0.05, "steps": 1})
    assert client.get(f"/control/status/{tid}", params={"wait": -1}).status_code == 422


# -- tasks list and queries ---------------------------------------------------------------

def test_tasks_filters_newest_first_and_pagination(client):
    wf = uid("wf")
    ids = []
    for i in range(5):
        tid = f"{wf}-{i}"
        ids.append(tid)
        execute(client, "LongProcess" if i % 2 == 0 else "QuickTask", tid, workflow_id=wf,
                parameters={"duration": 0.05, "steps": 1})
        time.sleep(0.002)  # distinct creation times
    for tid in ids:
        wait_done(client, tid)
    r = client.get("/control/tasks", params={"workflow_id": wf})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 5
    assert [t["task_id"] for t in body["tasks"]] == ids[::-1], "newest first"
    page1 = client.get("/control/tasks", params={"workflow_id": wf, "limit": 2, "offset": 0}).json()
    page2 = client.get("/control/tasks", params={"workflow_id": wf, "limit": 2, "offset": 2}).json()
    page3 = client.get("/control/tasks", params={"workflow_id": wf, "limit": 2, "offset": 4}).json()
    assert [t["task_id"] for t in page1["tasks"] + page2["tasks"] + page3["tasks"]] == ids[::-1]
    assert page1["total"] == page2["total"] == 5 and len(page3["tasks"]) == 1
    r = client.get("/control/tasks", params={"workflow_id": wf, "method": "QuickTask"}).json()
    assert [t["task_id"] for t in r["tasks"]] == [ids[3], ids[1]]
    r = client.get("/control/tasks", params={"workflow_id": wf, "status": "complete,failed"}).json()
    assert r["total"] == 5
    r = client.get("/control/tasks", params={"workflow_id": wf, "status": "running"}).json()
    assert r["total"] == 0
    # deepObject time filters: created after the third task
    third = client.get(f"/control/status/{ids[2]}").json()["created_at"]
    # (whether the boundary task itself is excluded is checked in test_time_filter_boundary_is_exclusive)
    r = client.get("/control/tasks", params={"workflow_id": wf, "filter[created_at][gt]": third}).json()
    assert [t["task_id"] for t in r["tasks"] if t["task_id"] != ids[2]] == [ids[4], ids[3]]
    r = client.get("/control/tasks", params={"workflow_id": wf, "filter[created_at][lt]": third}).json()
    assert [t["task_id"] for t in r["tasks"] if t["task_id"] != ids[2]] == [ids[1], ids[0]]
    # JSON body query
    r = client.post("/control/tasks/query", params={"limit": 10},
                    json={"filter": {"workflow_id": wf, "created_at": {"op": "ge", "value": third},
                                     "method": "LongProcess"}})
    assert r.status_code == 200
    assert [t["task_id"] for t in r.json()["tasks"] if t["task_id"] != ids[2]] == [ids[4]]


def test_time_filter_boundary_is_exclusive(client):
    """`created_at gt/lt <a task's own created_at>` must not match that task: the
    comparison has to use the same (microsecond) precision the record reports."""
    wf = uid("wfb")
    tids = [f"{wf}-{i}" for i in range(6)]
    for tid in tids:
        execute(client, "QuickTask", tid, workflow_id=wf)
    for tid in tids:
        own = client.get(f"/control/status/{tid}").json()["created_at"]
        for op in ("gt", "lt"):
            r = client.get("/control/tasks", params={"workflow_id": wf, f"filter[created_at][{op}]": own}).json()
            assert tid not in [t["task_id"] for t in r["tasks"]], f"{op} {own} matched {tid} itself"
        for op in ("ge", "le", "eq"):
            r = client.get("/control/tasks", params={"workflow_id": wf, f"filter[created_at][{op}]": own}).json()
            assert tid in [t["task_id"] for t in r["tasks"]], f"{op} {own} should match {tid} itself"


def test_bad_task_queries_are_4xx(client):
    assert client.get("/control/tasks", params={"filter[colour][eq]": "red"}).status_code == 400
    assert client.get("/control/tasks", params={"filter[created_at][gt]": "soon"}).status_code == 400
    assert client.get("/control/tasks", params={"limit": 0}).status_code == 422
    assert client.post("/control/tasks/query", json=[1]).status_code == 422


# -- methods and health ---------------------------------------------------------------------

def test_methods_list_with_docstrings(client):
    r = client.get("/control/methods")
    assert r.status_code == 200
    methods = {m["name"]: m for m in r.json()["methods"]}
    assert {"QuickTask", "LongProcess", "TrainModel", "MakeDataset", "LongTask"} <= methods.keys()
    for m in methods.values():
        assert m["doc"], f"{m['name']} has no docstring"
    assert "duration" in methods["LongProcess"]["doc"]


def test_health_reports_ok(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert "started_total" in r.json()


# -- the ML job and chaining by reference -----------------------------------------------------

def test_train_model_writes_a_model_file(client, service):
    tid = uid("train")
    r = execute(client, "TrainModel", tid, parameters={"epochs": 30, "samples": 200, "features": 3})
    assert r.status_code == 202
    progress = []
    deadline = time.monotonic() + 30
    rec = None
    while time.monotonic() < deadline:
        rec = client.get(f"/control/status/{tid}", params={"wait": 5}).json()
        progress.append(rec["progress"])
        if rec["status"] in FINISHED:
            break
    assert rec["status"] == "complete", rec
    assert rec["details"].get("epoch") == 30
    out = client.get(f"/control/output/{tid}").json()["output"]
    assert out["protocol"] == "file" and out["format"] == "json"
    path = Path(unquote(urlparse(out["uri"]).path))
    assert path.exists()
    assert Path(service.data_dir).resolve() in path.resolve().parents
    model = json.loads(path.read_text())
    assert len(model["weights"]) == 4  # 3 features + bias
    assert model["accuracy"] > 0.7


def test_dataset_file_chained_into_training(client):
    ds = execute(client, "MakeDataset", uid("ds"), parameters={"samples": 150, "features": 2})
    assert ds.status_code == 200, ds.text
    ref = ds.json()["output"]
    assert ref["protocol"] == "file" and ref["format"] == "csv"
    tid = uid("train2")
    r = execute(client, "TrainModel", tid, inputs=[ref], parameters={"epochs": 10})
    assert r.status_code == 202
    rec = wait_done(client, tid)
    assert rec["status"] == "complete", rec
    summary = client.get(f"/control/output/{tid}").json()["output"]["data"]
    assert summary["samples"] == 150 and summary["features"] == 2


def test_train_model_with_unreadable_input_fails_cleanly(client):
    tid = uid("trainbad")
    bad = {"protocol": "file", "uri": "file:///nonexistent/data.csv", "format": "csv"}
    r = execute(client, "TrainModel", tid, inputs=[bad], parameters={"epochs": 2})
    assert r.status_code == 422, r.text  # refused at the door: outside the file roots
    assert r.json()["detail"][0]["loc"] == ["body", "inputs", 0, "uri"]
    assert client.get(f"/control/status/{tid}").status_code == 404
    assert client.get("/health").json()["status"] == "ok"


# -- the explicit (seed) style --------------------------------------------------------------

def test_explicit_style_long_task(client):
    tid = uid("lt")
    r = execute(client, "LongTask", tid, workflow_id="wf-lt", parameters={"steps": 3, "duration": 0.3})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "running" and r.json()["task_id"] == tid
    assert client.get(f"/control/status/{tid}").status_code == 200
    rec = wait_done(client, tid)
    assert rec["status"] == "complete" and rec["progress"] == 100
    assert rec["method"] == "LongTask"
    out = client.get(f"/control/output/{tid}").json()["output"]
    assert out["data"] == {"steps": 3}


def test_explicit_style_long_task_stops(client):
    tid = uid("ltstop")
    execute(client, "LongTask", tid, parameters={"steps": 100, "duration": 20})
    r = client.post(f"/control/stop/{tid}")
    assert r.status_code == 200
    assert wait_done(client, tid, timeout=5)["status"] == "cancelled"


def test_explicit_style_failure_is_reported(client):
    tid = uid("ltfail")
    r = execute(client, "LongTask", tid, parameters={"steps": 0})
    assert r.status_code in (200, 202)
    rec = wait_done(client, tid)
    assert rec["status"] == "failed" and rec["error"]


def test_no_work_left_behind(client):
    """Runs last in this module: every task ended and no worker is still busy."""
    def idle():
        h = client.get("/health").json()
        return h["running_jobs"] == 0 and h["pending"] == 0 and h["active"] == 0 and h
    wait_until(idle, timeout=10, what="service idle")
    assert client.get("/health").json()["status"] == "ok"
