"""The template's task records outlive its process: SIGKILL and restart, SIGTERM and restart."""

from __future__ import annotations

import signal
import uuid

import httpx

from tests.support import ServiceProcess, wait_until

from .conftest import TEMPLATE

FINISHED = {"complete", "failed", "cancelled"}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _start(data, name: str, **env: str) -> ServiceProcess:
    return ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(data), "SERVICE_SHUTDOWN_GRACE": "0.5", **env},
                          name=name)


def _long(client: httpx.Client, tid: str, duration: float, steps: int = 5) -> httpx.Response:
    return client.post("/control/execute", json={"method": "LongProcess", "task_id": tid, "workflow_id": "wf-d",
                                                 "parameters": {"duration": duration, "steps": steps}})


def _done(client: httpx.Client, tid: str) -> dict:
    return wait_until(lambda: (r := client.get(f"/control/status/{tid}").json())["status"] in FINISHED and r,
                      timeout=15, what=f"{tid} to finish")


def test_sigkill_keeps_finished_tasks_and_marks_running_ones_interrupted(tmp_path):
    proc = _start(tmp_path, "durable-kill")
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as client:
            finished = [uid("fin") for _ in range(3)]
            for tid in finished:
                assert _long(client, tid, 0.05, 1).status_code == 202
            records = {tid: _done(client, tid) for tid in finished}
            outputs = {tid: client.get(f"/control/output/{tid}").json() for tid in finished}
            running = uid("run")
            assert _long(client, running, 60, 60).status_code == 202
            wait_until(lambda: client.get(f"/control/status/{running}").json()["progress"] > 0, timeout=15,
                       what="progress reported")
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(10)
    finally:
        proc.stop()
    again = _start(tmp_path, "durable-kill-2")
    try:
        with httpx.Client(base_url=again.url, timeout=10) as client:
            for tid in finished:
                rec = client.get(f"/control/status/{tid}").json()
                assert rec == records[tid]
                assert client.get(f"/control/output/{tid}").json() == outputs[tid]
            rec = client.get(f"/control/status/{running}").json()
            assert rec["status"] == "failed" and rec["interrupted"] is True, rec
            assert "previous service process ended" in rec["error"]
            page = client.get("/control/tasks", params={"workflow_id": "wf-d", "status": "complete"}).json()
            assert {t["task_id"] for t in page["tasks"]} == set(finished) and page["total"] == 3
    finally:
        again.stop()


def test_sigterm_records_stopped_tasks_as_interrupted_not_cancelled(tmp_path):
    proc = _start(tmp_path, "durable-term")
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as client:
            tid = uid("term")
            assert _long(client, tid, 60, 60).status_code == 202
            wait_until(lambda: client.get(f"/control/status/{tid}").json()["started_at"], what="started")
        proc.popen.send_signal(signal.SIGTERM)
        proc.popen.wait(15)
    finally:
        proc.stop()
    again = _start(tmp_path, "durable-term-2")
    try:
        with httpx.Client(base_url=again.url, timeout=10) as client:
            rec = client.get(f"/control/status/{tid}").json()
            assert rec["status"] == "failed" and rec["interrupted"] is True, rec
            assert "service shut down" in rec["error"]
            # a normal task on the new process is not interrupted
            ok = uid("ok")
            assert _long(client, ok, 0.05, 1).status_code == 202
            assert _done(client, ok)["interrupted"] is False
    finally:
        again.stop()


def test_memory_store_keeps_nothing_across_a_restart(tmp_path):
    proc = _start(tmp_path, "memory-store", SERVICE_STATE_DB=":memory:")
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as client:
            tid = uid("mem")
            assert _long(client, tid, 0.05, 1).status_code == 202
            _done(client, tid)
    finally:
        proc.stop()
    again = _start(tmp_path, "memory-store-2", SERVICE_STATE_DB=":memory:")
    try:
        with httpx.Client(base_url=again.url, timeout=10) as client:
            assert client.get(f"/control/status/{tid}").status_code == 404
        assert not (tmp_path / "tasks.sqlite3").exists()
    finally:
        again.stop()
