"""The example service under settings from the environment (issue 2): bearer auth,
per-method concurrency/queue/timeout from SERVICE_METHOD_OPTIONS, the long-poll
cap, and graceful shutdown on SIGTERM. One process per distinct environment."""

from __future__ import annotations

import json
import signal
import time
import uuid

import httpx
import pytest

from tests.support import ROOT, ServiceProcess, wait_until

TEMPLATE = ROOT / "templates" / "concurrent"
FINISHED = {"complete", "failed", "cancelled"}


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def start(tmp_path_factory, name: str, **env: str) -> ServiceProcess:
    data = tmp_path_factory.mktemp(name)
    return ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(data), **env}, name=name)


def long_process(client, tid, duration=0.5, steps=5, **extra):
    return client.post("/control/execute", json={"method": "LongProcess", "task_id": tid,
                                                 "parameters": {"duration": duration, "steps": steps}, **extra})


def wait_done(client, tid, timeout=15.0) -> dict:
    return wait_until(lambda: (r := client.get(f"/control/status/{tid}").json())["status"] in FINISHED and r,
                      timeout=timeout, what=f"{tid} to finish")


# -- concurrency limit: 409 naming the running task ----------------------------------------

@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    proc = start(tmp_path_factory, "template-limit", SERVICE_MAX_WORKERS="2",
                 SERVICE_METHOD_OPTIONS=json.dumps({"LongProcess": {"concurrency": 1},
                                                    "LongTask": {"concurrency": 1}}))
    with httpx.Client(base_url=proc.url, timeout=10) as client:
        yield client
    proc.stop()


def test_concurrency_limit_409_names_the_running_task(limited):
    first = uid("hw1")
    assert long_process(limited, first, duration=30, steps=30).status_code == 202
    second = uid("hw2")
    r = long_process(limited, second, duration=0.1, steps=1)
    assert r.status_code == 409, r.text
    assert first in r.text, "the 409 must name the running task"
    assert limited.get(f"/control/status/{second}").status_code == 404
    # other methods are not limited
    assert limited.post("/control/execute", json={"method": "QuickTask"}).status_code == 200
    # once the first ends, the method is free again
    assert limited.post(f"/control/stop/{first}").status_code == 200
    wait_done(limited, first)
    third = uid("hw3")
    assert long_process(limited, third, duration=0.05, steps=1).status_code == 202
    assert wait_done(limited, third)["status"] == "complete"


def test_bounded_pool_leaves_extra_tasks_pending(limited):
    """SERVICE_MAX_WORKERS=2: a third background task waits in `pending`."""
    ids = [uid(f"pool{i}") for i in range(3)]
    for tid in ids:
        r = limited.post("/control/execute", json={"method": "TrainModel", "task_id": tid,
                                                   "parameters": {"epochs": 100_000, "samples": 50}})
        assert r.status_code == 202, r.text
    assert [limited.get(f"/control/status/{t}").json()["status"] for t in ids] == ["running", "running", "pending"]
    assert limited.get("/health").json()["running_jobs"] == 2
    limited.post(f"/control/stop/{ids[0]}")
    wait_until(lambda: limited.get(f"/control/status/{ids[2]}").json()["status"] == "running",
               what="the pending task starts when a worker is free")
    for tid in ids[1:]:
        limited.post(f"/control/stop/{tid}")
    for tid in ids:
        assert wait_done(limited, tid)["status"] == "cancelled"


def test_concurrency_limit_applies_to_explicit_style_methods(limited):
    first, second = uid("ex1"), uid("ex2")
    body = {"method": "LongTask", "parameters": {"steps": 100, "duration": 20}}
    assert limited.post("/control/execute", json={**body, "task_id": first}).status_code == 202
    try:
        r = limited.post("/control/execute", json={**body, "task_id": second})
        assert r.status_code == 409, f"LongTask concurrency=1 should refuse a second task: {r.status_code} {r.text}"
        assert first in r.text
    finally:
        for tid in (first, second):
            limited.post(f"/control/stop/{tid}")
        wait_done(limited, first)


def test_methods_describe_the_overridden_options(limited):
    methods = {m["name"]: m for m in limited.get("/control/methods").json()["methods"]}
    assert methods["LongProcess"]["concurrency"] == 1


# -- queueing --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def queued(tmp_path_factory):
    proc = start(tmp_path_factory, "template-queue",
                 SERVICE_METHOD_OPTIONS=json.dumps({"LongProcess": {"concurrency": 1, "queue": True}}))
    with httpx.Client(base_url=proc.url, timeout=10) as client:
        yield client
    proc.stop()


def test_queued_method_waits_pending_then_runs_in_order(queued):
    ids = [uid(f"q{i}") for i in range(3)]
    codes = [long_process(queued, tid, duration=0.3, steps=3) for tid in ids]
    assert [c.status_code for c in codes] == [202, 202, 202]
    assert codes[0].json()["status"] == "running"
    assert [c.json()["status"] for c in codes[1:]] == ["pending", "pending"]
    assert queued.get(f"/control/status/{ids[2]}").json()["status"] == "pending"
    recs = [wait_done(queued, tid) for tid in ids]
    assert [r["status"] for r in recs] == ["complete"] * 3
    starts = [r["started_at"] for r in recs]
    finishes = [r["finished_at"] for r in recs]
    assert starts == sorted(starts), "FIFO"
    assert finishes[0] <= starts[1] and finishes[1] <= starts[2], "one at a time"


def test_stopping_a_queued_task_cancels_it_at_once(queued):
    a, b = uid("qa"), uid("qb")
    long_process(queued, a, duration=30, steps=30)
    assert long_process(queued, b, duration=0.1, steps=1).json()["status"] == "pending"
    r = queued.post(f"/control/stop/{b}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert queued.get(f"/control/status/{b}").json()["started_at"] is None
    queued.post(f"/control/stop/{a}")
    assert wait_done(queued, a)["status"] == "cancelled"


# -- timeout, long-poll cap, bearer auth (one process) ------------------------------------------

API_KEY = "s3cret-key"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    proc = start(tmp_path_factory, "template-guarded", SERVICE_API_KEY=API_KEY, SERVICE_MAX_WAIT="0.5",
                 SERVICE_METHOD_OPTIONS=json.dumps({"LongProcess": {"timeout": 0.5}, "LongTask": {"timeout": 0.5}}))
    proc.http = httpx.Client(base_url=proc.url, timeout=10, headers={"Authorization": f"Bearer {API_KEY}"})
    yield proc
    proc.http.close()
    proc.stop()


def test_bearer_auth_required_except_health(guarded):
    anon = httpx.Client(base_url=guarded.url, timeout=10)
    wrong = httpx.Client(base_url=guarded.url, timeout=10, headers={"Authorization": "Bearer nope"})
    with anon, wrong:
        assert anon.get("/health").status_code == 200
        for c in (anon, wrong):
            assert c.post("/control/execute", json={"method": "QuickTask"}).status_code == 401
            assert c.get("/control/status/x").status_code == 401
            assert c.get("/control/output/x").status_code == 401
            assert c.post("/control/stop/x").status_code == 401
            assert c.get("/control/tasks").status_code == 401
            assert c.get("/control/methods").status_code == 401
        assert anon.get("/control/status", params={"task_id": "x"}).status_code == 401
    r = guarded.http.post("/control/execute", json={"method": "QuickTask"})
    assert r.status_code == 200


def test_timeout_fails_the_task_with_a_timeout_error(guarded):
    tid = uid("to")
    t0 = time.monotonic()
    r = long_process(guarded.http, tid, duration=30, steps=30)
    assert r.status_code == 202
    rec = wait_done(guarded.http, tid, timeout=10)
    assert rec["status"] == "failed"
    assert "timed out" in rec["error"].lower()
    assert time.monotonic() - t0 < 5
    assert guarded.http.get(f"/control/output/{tid}").status_code == 409
    # within the timeout a task completes
    ok = uid("to-ok")
    long_process(guarded.http, ok, duration=0.1, steps=1)
    assert wait_done(guarded.http, ok)["status"] == "complete"


def test_timeout_applies_to_explicit_style_methods(guarded):
    tid = uid("to-ex")
    r = guarded.http.post("/control/execute", json={"method": "LongTask", "task_id": tid,
                                                    "parameters": {"steps": 100, "duration": 20}})
    assert r.status_code == 202
    try:
        rec = wait_done(guarded.http, tid, timeout=4)
        assert rec["status"] == "failed" and "timed out" in rec["error"].lower()
    finally:
        guarded.http.post(f"/control/stop/{tid}")


def test_long_poll_wait_is_capped(guarded):
    tid = uid("cap")
    long_process(guarded.http, tid, duration=30, steps=1)  # no change for a long time (until the timeout)
    guarded.http.get(f"/control/status/{tid}")
    t0 = time.monotonic()
    r = guarded.http.get(f"/control/status/{tid}", params={"wait": 30})
    elapsed = time.monotonic() - t0
    assert r.status_code == 200
    assert elapsed < 3, f"wait=30 should be capped at SERVICE_MAX_WAIT=0.5, took {elapsed:.2f}s"
    wait_done(guarded.http, tid)


# -- graceful shutdown ------------------------------------------------------------------------

def test_sigterm_interrupts_running_tasks_after_the_grace_period(tmp_path_factory):
    proc = start(tmp_path_factory, "template-sigterm", SERVICE_SHUTDOWN_GRACE="1")
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as client:
            tid = uid("term")
            assert long_process(client, tid, duration=60, steps=60).status_code == 202
            wait_until(lambda: client.get(f"/control/status/{tid}").json()["started_at"], what="started")
            t0 = time.monotonic()
            proc.popen.send_signal(signal.SIGTERM)
            code = proc.popen.wait(timeout=15)
            elapsed = time.monotonic() - t0
        # the 60 s task was stopped once the 1 s grace period was over, not waited for
        assert elapsed < 10, f"exit took {elapsed:.2f}s"
        # uvicorn re-raises the SIGTERM it handled once shutdown is done: -15 is a clean exit too
        assert code in (0, -signal.SIGTERM), proc.log()
        assert "ignored cancellation" not in proc.log()
        log = proc.log()
        assert "Traceback" not in log, log
    finally:
        proc.stop()
