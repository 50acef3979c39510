"""Seed 001's task object, queries and options, and seed 003's shapes, against a real
service process (tests/fixtures/seed_service): cancellable, callback, result, the three
query examples sent literally, timeout -1 and refused timeouts, 423 on a non-cancellable
stop, the id generator, DELETE, status_url, pending first status, priority, pause/resume."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.support import PYTHON, ROOT, ServiceProcess, free_port, wait_until

SEED_SERVICE = ROOT / "tests" / "fixtures" / "seed_service"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data = tmp_path_factory.mktemp("seed-data")
    proc = ServiceProcess(SEED_SERVICE, name="seed-service",
                          env={"SERVICE_DATA_DIR": str(data), "SERVICE_TASK_TIMEOUT": "1",
                               "SERVICE_STATE_DB": ":memory:"})
    yield proc
    proc.stop()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def execute(client: httpx.Client, method: str, **body) -> httpx.Response:
    return client.post("/control/execute", json={"method": method, **body})


def final(client: httpx.Client, task_id: str) -> dict:
    return wait_until(lambda: (r := client.get(f"/control/status/{task_id}", params={"wait": 5}).json())
                      ["status"] in ("complete", "failed", "cancelled") and r, timeout=20, what=f"{task_id} ends")


class Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's spelling
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.bodies.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


# -- seed 001: the task object ------------------------------------------------------------

def test_record_has_cancellable_callback_masked_and_result(client):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tid = uid("obj")
        callback = {"url": f"http://127.0.0.1:{server.server_port}/hook", "method": "POST",
                    "headers": {"Authorization": "Bearer s3cret", "X-Api-Key": "k1", "X-Trace": "t-1"}}
        started = execute(client, "Echo", task_id=tid, parameters={"n": 7}, callback=callback)
        assert started.status_code == 202
        rec = final(client, tid)
        assert rec["status"] == "complete"
        assert rec["cancellable"] is True
        assert rec["result"] == {"echo": {"n": 7}}
        shown = rec["callback"]
        assert shown["url"] == callback["url"] and shown["method"] == "POST"
        assert shown["headers"]["X-Trace"] == "t-1"
        assert shown["headers"]["Authorization"] != "Bearer s3cret" and shown["headers"]["X-Api-Key"] != "k1"
        assert "s3cret" not in json.dumps(rec)
        delivered = wait_until(lambda: [b for b in Receiver.bodies if b["task_id"] == tid], what="callback body")
        assert delivered[0]["status"] == "complete" and delivered[0]["result"] == {"echo": {"n": 7}}
        info = wait_until(lambda: client.get(f"/control/status/{tid}").json().get("callback_info", {})
                          .get("delivered_at"), what="delivered_at")
        assert info.endswith("Z") and "T" in info  # ISO 8601 like every other time
    finally:
        server.shutdown()


# -- seed 001: queries, sent literally ----------------------------------------------------

@pytest.fixture(scope="module")
def finished_mix(client):
    """One complete cancellable task, one complete non-cancellable, one cancelled."""
    ok, weld, stopped = uid("q-ok"), uid("q-weld"), uid("q-stop")
    execute(client, "Echo", task_id=ok, parameters={})
    execute(client, "Weld", task_id=weld, parameters={"seconds": 0.05})
    execute(client, "Unbounded", task_id=stopped, parameters={"seconds": 30})
    client.post(f"/control/stop/{stopped}")
    for tid in (ok, weld, stopped):
        final(client, tid)
    return ok, weld, stopped


def ids_of(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {t["task_id"] for t in response.json()["tasks"]}


@pytest.mark.parametrize("prefix", ["/control", ""])
def test_seed_query_examples_literally(client, finished_mix, prefix):
    ok, weld, stopped = finished_mix
    query = {"State": {"op": "EQ", "value": "Completed"}, "Cancellable": {"op": "EQ", "value": True}}
    hits = ids_of(client.post(f"{prefix}/tasks/query?limit=1000", json=query))
    assert ok in hits and weld not in hits and stopped not in hits
    hits = ids_of(client.get(f"{prefix}/tasks?filter[State][op]=EQ&filter[State][value]=Completed&limit=1000"))
    assert {ok, weld} <= hits and stopped not in hits
    hits = ids_of(client.get(f"{prefix}/tasks?State=Completed,Cancellable=True&limit=1000"))
    assert ok in hits and weld not in hits and stopped not in hits


def test_seed_field_names_and_state_spellings(client, finished_mix):
    ok, weld, stopped = finished_mix
    assert ids_of(client.get(f"/control/tasks?Id={ok}")) == {ok}
    assert ids_of(client.get(f"/control/tasks?Cancellable=false&State=completed")) >= {weld}
    assert ok not in ids_of(client.get("/control/tasks?Cancellable=false&limit=1000"))
    assert stopped in ids_of(client.get("/control/tasks?State=Cancelled&limit=1000"))
    assert stopped in ids_of(client.get("/control/tasks?state=CANCELLED,Completed&limit=1000"))
    created = client.get(f"/control/status/{ok}").json()["created_at"]
    assert ok in ids_of(client.get(f"/control/tasks?filter[CreationTime][ge]={created}&limit=1000"))
    assert ok in ids_of(client.post("/control/tasks/query?limit=1000",
                                    json={"CompletedTime": {"op": "GE", "value": created}, "Progress": 100}))
    assert ids_of(client.get("/control/tasks?State=NotStarted&Error=nothing")) == set()
    bad = client.get("/control/tasks?Cancellable=maybe")
    assert bad.status_code == 400 and "Cancellable" in bad.json()["detail"]


# -- seed 001: options ----------------------------------------------------------------------

def test_timeout_minus_one_disables_it_while_the_default_applies(client):
    free, bound = uid("nolimit"), uid("bound")
    execute(client, "Unbounded", task_id=free, parameters={"seconds": 1.5})
    execute(client, "Sleep", task_id=bound, parameters={"seconds": 30})  # service default here: 1 s
    assert final(client, free)["status"] == "complete"
    rec = final(client, bound)
    assert rec["status"] == "failed" and "timed out" in rec["error"]
    methods = {m["name"]: m for m in client.get("/control/methods").json()["methods"]}
    assert methods["Unbounded"]["timeout"] == -1 and methods["Weld"]["cancellable"] is False
    assert methods["Scan"]["pausable"] is True


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_zero_or_negative_timeout_is_refused_at_startup(tmp_path, timeout):
    env = {"PORT": str(free_port()), "HOST": "127.0.0.1", "SERVICE_DATA_DIR": str(tmp_path),
           "SERVICE_METHOD_OPTIONS": json.dumps({"Echo": {"timeout": float(timeout)}})}
    import os
    proc = subprocess.run([PYTHON, "service.py"], cwd=SEED_SERVICE, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Echo" in proc.stderr and "timeout" in proc.stderr


def test_default_timeout_is_600_minutes():
    from taskservice import ServiceSettings
    assert ServiceSettings().task_timeout == 36_000
    assert ServiceSettings(task_timeout=-1).task_timeout == -1
    with pytest.raises(ValueError):
        ServiceSettings(task_timeout=0)


def test_non_cancellable_stop_answers_423(client):
    tid = uid("weld")
    started = execute(client, "Weld", task_id=tid, parameters={"seconds": 0.5})
    assert started.json()["cancellable"] is False
    for refused in (client.post(f"/control/stop/{tid}"), client.delete(f"/control/tasks/{tid}")):
        assert refused.status_code == 423
        assert tid in refused.json()["detail"] and refused.json()["task_id"] == tid
    assert final(client, tid)["status"] == "complete"


def test_make_task_id_hook_names_new_tasks(client):
    body = execute(client, "Echo", parameters={"x": 1}).json()
    assert body["task_id"].startswith("echo-")
    assert final(client, body["task_id"])["status"] == "complete"


def test_delete_stops_like_post_stop(client):
    tid = uid("del")
    execute(client, "Unbounded", task_id=tid, parameters={"seconds": 30})
    stopped = client.delete(f"/control/tasks/{tid}")
    assert stopped.status_code == 200 and stopped.json()["status"] in ("stopping", "cancelled")
    assert final(client, tid)["status"] == "cancelled"
    assert client.get(f"/control/tasks/{tid}").json()["status"] == "cancelled"
    assert client.delete(f"/task?id={tid}").status_code == 409  # already finished


# -- seed 003: shapes, priority, pause ------------------------------------------------------

def test_202_body_has_status_url_and_waiting_task_reads_pending(client):
    blocker, waiting = uid("blk"), uid("wait")
    first = execute(client, "Limited", task_id=blocker, parameters={"seconds": 30})
    assert first.status_code == 202 and first.json()["status_url"] == f"/control/status/{blocker}"
    rec = first.json()
    assert rec["status"] == "running" and rec["started_at"] is not None
    second = execute(client, "Limited", task_id=waiting, parameters={"seconds": 0})
    assert second.json()["status"] == "pending" and second.json()["started_at"] is None
    assert client.get(second.json()["status_url"]).json()["status"] == "pending"
    client.post(f"/control/stop/{blocker}")
    assert final(client, waiting)["status"] == "complete"


def test_waiting_tasks_start_by_priority_then_arrival(client):
    blocker = uid("blk")
    execute(client, "Limited", task_id=blocker, parameters={"seconds": 30})
    order = [("low", 0), ("high-1", 5), ("mid", 2), ("high-2", 5), ("neg", -3)]
    ids = {}
    for label, priority in order:
        ids[label] = tid = uid(label)
        r = execute(client, "Limited", task_id=tid, priority=priority, parameters={"seconds": 0, "label": label})
        assert r.status_code == 202 and r.json()["status"] == "pending" and r.json()["priority"] == priority
    client.post(f"/control/stop/{blocker}")
    records = {label: final(client, tid) for label, tid in ids.items()}
    started = sorted(records, key=lambda label: records[label]["started_at"])
    assert started == ["high-1", "high-2", "mid", "low", "neg"]


def test_bad_priority_is_a_4xx_naming_the_field(client):
    r = execute(client, "Echo", priority="soon")
    assert 400 <= r.status_code < 500 and "priority" in r.text


def test_pause_and_resume(client):
    tid = uid("scan")
    execute(client, "Scan", task_id=tid, parameters={"steps": 10_000, "step": 0.005})
    wait_until(lambda: client.get(f"/control/status/{tid}").json()["details"].get("step"), what="a first step")
    paused = client.post(f"/control/pause/{tid}")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    # a step in flight may still land; after that, a long-poll sees no change while paused
    client.get(f"/control/status/{tid}", params={"wait": 0.5})
    before = client.get(f"/control/status/{tid}").json()
    after = client.get(f"/control/status/{tid}", params={"wait": 0.5}).json()
    assert before["status"] == after["status"] == "paused"
    assert after["details"]["step"] == before["details"]["step"]
    resumed = client.post(f"/control/resume/{tid}")
    assert resumed.status_code == 200 and resumed.json()["status"] == "running"
    wait_until(lambda: client.get(f"/control/status/{tid}").json()["details"]["step"] > before["details"]["step"],
               what="steps after resume")
    client.post(f"/control/pause/{tid}")
    client.post(f"/control/stop/{tid}")  # a stop wakes a paused task
    assert final(client, tid)["status"] == "cancelled"


def test_time_paused_does_not_count_against_the_timeout(client):
    tid = uid("survey")  # 0.5 s of work under a 1.5 s timeout, paused for longer than that
    execute(client, "Survey", task_id=tid, parameters={"steps": 25, "step": 0.02})
    wait_until(lambda: client.get(f"/control/status/{tid}").json()["details"].get("step"), what="a first step")
    assert client.post(f"/control/pause/{tid}").json()["status"] == "paused"
    client.get(f"/control/status/{tid}", params={"wait": 0.5})  # a step in flight may still land
    # a long-poll returns at once on any change (a timeout would be one): none while paused
    held = client.get(f"/control/status/{tid}", params={"wait": 2}).json()
    assert held["status"] == "paused", held
    assert client.post(f"/control/resume/{tid}").json()["status"] == "running"
    done = final(client, tid)
    assert done["status"] == "complete", done
    assert done["result"] == {"steps": 25}


def test_pause_of_a_method_that_is_not_pausable_is_409(client):
    tid = uid("nopause")
    execute(client, "Unbounded", task_id=tid, parameters={"seconds": 30})
    r = client.post(f"/control/pause/{tid}")
    assert r.status_code == 409 and "pausable" in r.json()["detail"]
    assert client.post("/control/pause/unknown-task").status_code == 404
    client.post(f"/control/stop/{tid}")


def test_python_client_pauses_resumes_and_sends_priority(service):
    from taskservice.client import ServiceClient, ServiceError

    with ServiceClient(service.url) as sc:
        started = sc.execute("Scan", parameters={"steps": 10_000, "step": 0.005}, priority=3)
        assert started.priority == 3
        assert sc.pause(started.task_id).status.value == "paused"
        assert sc.resume(started.task_id).status.value == "running"
        sc.stop(started.task_id)
        assert sc.wait(started.task_id, timeout=20).status.value == "cancelled"
        other = sc.execute("Unbounded", parameters={"seconds": 30})
        with pytest.raises(ServiceError) as refused:
            sc.pause(other.task_id)
        assert refused.value.status_code == 409
        sc.stop(other.task_id)
