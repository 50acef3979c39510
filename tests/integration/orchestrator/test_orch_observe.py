"""Operators can see what runs: worker registry, /ready, no-worker warnings, /metrics, structured logs.

Real redis-server, API, RQ workers and a template service; the worker's log is
read from its own process output.
"""

from __future__ import annotations

import json
import os
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from tests.support import PYTHON, ROOT, wait_until

from .conftest import EXAMPLES, Orchestrator, dockerinfo_for, load, long_params

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")
OBSERVED = {"ORCHESTRATOR_NO_WORKER_WARNING": "0.5", "ORCHESTRATOR_WORKER_TTL": "3",
            "ORCHESTRATOR_LOG_FORMAT": "json"}


def scrape(orch: Orchestrator) -> dict[tuple[str, tuple], float]:
    r = orch.http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def workers(orch: Orchestrator) -> dict:
    r = orch.http.get("/workers")
    assert r.status_code == 200, r.text
    return r.json()


def test_orch_ready_workers_and_no_worker_warning_with_zero_one_two_workers(redis_server, service):
    orch = Orchestrator(redis_server.url, env=OBSERVED)
    try:
        assert orch.http.get("/health").status_code == 200  # liveness does not care about workers
        r = orch.http.get("/ready")
        assert r.status_code == 503 and "no live worker" in r.json()["reason"], r.text
        assert workers(orch) == {"workers": [], "total": 0}

        sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 0.05, 1))
        wid = sub["workflow_id"]
        warned = wait_until(lambda: orch.workflow(wid)["warnings"], timeout=10, what="no-worker warning")
        assert "no live worker" in warned[0] and orch.workflow(wid)["status"] == "pending"

        first = orch.start_worker()
        wait_until(lambda: orch.http.get("/ready").status_code == 200, timeout=10, what="ready with a worker")
        assert orch.wait(wid)["status"] == "complete"
        assert orch.workflow(wid)["warnings"] == []
        listed = workers(orch)
        assert listed["total"] == 1
        w = listed["workers"][0]
        assert w["pid"] == first.pid and w["queues"] == [orch.prefix] and w["host"]
        assert w["started_at"] and w["last_heartbeat"] and w["id"].endswith(w["id"].split(":")[-1])
        wait_until(lambda: workers(orch)["workers"][0]["nodes_done"] == 4, timeout=10, what="nodes done")
        wait_until(lambda: workers(orch)["workers"][0]["nodes"] == [], timeout=10, what="next heartbeat: idle")

        # a long node shows in "nodes it drives now"
        long = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 30, 30))
        driving = wait_until(lambda: [n for w in workers(orch)["workers"] for n in w["nodes"]], timeout=10,
                             what="a node being driven")
        assert {n["workflow_id"] for n in driving} == {long["workflow_id"]}
        running = {t["index"] for t in orch.tasks(long["workflow_id"]).values() if t["status"] == "running"}
        assert {n["index"] for n in driving} <= running | {0}
        orch.http.post(f"/workflows/{long['workflow_id']}/cancel")

        second = orch.start_worker()
        wait_until(lambda: workers(orch)["total"] == 2, timeout=10, what="two workers")
        assert {w["pid"] for w in workers(orch)["workers"]} == {first.pid, second.pid}
        cli = [PYTHON, "-m", "orchestrator.cli", "--url", orch.base, "workers"]
        listed = json.loads(subprocess.run([*cli, "--json"], cwd=ROOT, capture_output=True, text=True,
                                           timeout=60, check=True).stdout)
        assert {w["pid"] for w in listed} == {first.pid, second.pid}
        table = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
                               env={**os.environ, "COLUMNS": "250"}).stdout
        assert str(first.pid) in table and str(second.pid) in table and orch.prefix in table
        first.stop()
        wait_until(lambda: workers(orch)["total"] == 1, timeout=10, what="one worker left")
        assert workers(orch)["workers"][0]["pid"] == second.pid
        assert orch.http.get("/ready").status_code == 200
        second.kill()  # no clean unregister: it ages out after ORCHESTRATOR_WORKER_TTL
        wait_until(lambda: orch.http.get("/ready").status_code == 503, timeout=15, what="not ready again")
        assert workers(orch)["total"] == 0
    finally:
        orch.close()


def test_orch_metrics_count_every_workers_work_and_failed_node_is_logged(redis_server, service):
    orch = Orchestrator(redis_server.url, env=OBSERVED)
    try:
        orch.start_worker()
        worker = orch.start_worker()
        before = scrape(orch)
        assert before[("orchestrator_nodes_total", (("status", "complete"),))] == 0
        assert before[("orchestrator_workers_live", ())] == 2

        ok = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 0.05, 1))
        bad_params = long_params(DIAMOND, 0.05, 1, left={"duration": "not a number"})  # the service answers 422
        bad = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=bad_params)
        assert orch.wait(ok["workflow_id"])["status"] == "complete"
        assert orch.wait(bad["workflow_id"])["status"] == "failed"

        def settled() -> dict:
            m = scrape(orch)
            return m if m[("orchestrator_nodes_total", (("status", "failed"),))] >= 1 else {}
        after = wait_until(settled, timeout=10, what="failed node counted")
        assert after[("orchestrator_nodes_total", (("status", "complete"),))] >= 5  # 4 + the bad run's source
        assert after[("orchestrator_nodes_total", (("status", "failed"),))] == 1
        assert after[("orchestrator_workflow_actions_total", (("action", "submitted"),))] == 2
        assert after[("orchestrator_workflows", (("status", "complete"),))] == 1
        assert after[("orchestrator_workflows", (("status", "failed"),))] == 1
        assert after[("orchestrator_node_duration_seconds_count", (("status", "complete"),))] >= 5
        assert after[("orchestrator_node_claims_total", ())] >= 6
        assert after[("orchestrator_queue_depth", (("queue", orch.prefix),))] == 0
        # both workers' work is counted, whichever did it
        done = sum(w["nodes_done"] for w in workers(orch)["workers"])
        assert done == after[("orchestrator_nodes_total", (("status", "complete"),))] + 1 + \
            after[("orchestrator_nodes_total", (("status", "cancelled"),))]

        # the failed node left a structured line naming workflow, node and error (in one of the workers);
        # workers write their lines in batches: the info lines of the last nodes may take a moment
        def worker_lines() -> list[dict]:
            lines = [ln for w in orch.workers for ln in json_lines(w.log())]
            done = [ln for ln in lines if ln.get("event") == "node completed" and ln["workflow_id"] == ok["workflow_id"]]
            return lines if len(done) >= 4 else []
        lines = wait_until(worker_lines, timeout=10, what="the workers' node lines")
        failed = [ln for ln in lines if ln.get("event") == "node failed"]
        assert len(failed) == 1, orch.logs()
        assert failed[0]["workflow_id"] == bad["workflow_id"] and failed[0]["node"] == "left.LongProcess"
        assert "422" in failed[0]["error"] and failed[0]["level"] == "error" and failed[0]["worker"]
        assert failed[0]["task_id"] and failed[0]["attempt"] == 1
        completed = [ln for ln in lines if ln.get("event") == "node completed" and ln["workflow_id"] == ok["workflow_id"]]
        assert sorted(ln["node"] for ln in completed) == sorted(
            ["source.LongProcess", "left.LongProcess", "right.LongProcess", "sink.LongProcess"])
        assert any(ln.get("event") == "node claimed" for ln in json_lines(worker.log())) or \
            any(ln.get("event") == "node claimed" for ln in json_lines(orch.workers[0].log()))
        api = [ln for ln in json_lines(orch.api.log()) if ln.get("event") == "workflow submitted"]
        assert {ln["workflow_id"] for ln in api} == {ok["workflow_id"], bad["workflow_id"]}
        assert all(ln["user"] for ln in api)
    finally:
        orch.close()
