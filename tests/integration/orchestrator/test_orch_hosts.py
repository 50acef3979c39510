"""Workers on three hosts (network namespaces), Redis, the API and a service on a fourth; one
worker host is cut off mid-run and healed: every workflow completes, each node runs once, and
the cut-off worker writes nothing stale."""

from __future__ import annotations

import shutil

import httpx
import pytest
import redis

from tests.support import PYTHON, ROOT, Process, wait_until
from tests.support.netns import Hosts, why_not

from .conftest import EXAMPLES, TEMPLATE, FAST, load, long_params

REASON = why_not()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no network namespaces here: {REASON}")

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


def test_orch_workers_on_three_hosts_survive_a_partition_of_one():
    hosts = Hosts(3)
    procs: list[Process] = []
    try:
        hub = hosts.run_in(hosts.hub)
        procs.append(Process([*hub, shutil.which("redis-server") or "redis-server", "--port", "6379",
                              "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"],
                             name="hub-redis"))
        svc = Process([*hub, PYTHON, "service.py"], cwd=TEMPLATE, env={"PORT": "8080", "HOST": "0.0.0.0"},
                      name="hub-svc")
        procs.append(svc)
        env = {**FAST, "REDIS_URL": f"redis://{Hosts.HUB_ADDR}:6379/0", "ORCHESTRATOR_PREFIX": "hosts",
               "ORCHESTRATOR_QUEUE": "hosts", "ORCHESTRATOR_LOG_LEVEL": "INFO"}
        api = Process([*hub, PYTHON, "-m", "uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"],
                      cwd=ROOT / "orchestrator", env=env, name="hub-api")
        procs.append(api)
        base = f"http://{Hosts.HUB_SIDE}:8000"
        http = httpx.Client(base_url=base, timeout=10)
        wait_until(lambda: http.get("/health").status_code == 200, timeout=30, what="API in the hub")
        r = redis.Redis(host=Hosts.HUB_SIDE, port=6379, decode_responses=True)
        workers = [Process([*hosts.run_in(ns), PYTHON, "-m", "worker"], cwd=ROOT / "orchestrator", env=env,
                           name=f"worker-{ns}") for ns in hosts.hosts]
        procs += workers
        for w in workers:
            wait_until(lambda w=w: "listening on" in w.log() or not w.alive(), timeout=30, what="worker")
            assert w.alive(), w.log()

        dockerinfo = {"docker_info_list": [{"container_name": n["container_name"], "ip_address": Hosts.HUB_ADDR,
                                            "port": "8080"} for n in DIAMOND["nodes"]]}
        wids = []

        def submit() -> None:
            res = http.post("/workflows", json={"blueprint": DIAMOND, "dockerinfo": dockerinfo,
                                                "parameters": long_params(DIAMOND, 2.0, 10)})
            assert res.status_code == 201, res.text
            wids.append(res.json()["workflow_id"])

        for _ in range(6):
            submit()

        def owned_by_first() -> list[str]:
            # a leased node's hash names the worker holding its lease (`owner`)
            owners = {m: r.hget("hosts:wf:{}:n:{}".format(*m.rsplit("|", 1)), "owner") or ""
                      for m in r.zrange("hosts:leases", 0, -1)}
            return [m for m, o in owners.items() if o.split(":")[1:2] == [str(workers[0].pid)]]
        def driven_from_host_0() -> list[str]:
            # which worker takes a root, or a finished parent's children, is up to the workers:
            # more work until host 0's worker holds some
            owned = owned_by_first()
            if not owned and len(wids) < 30:
                submit()
            return owned
        cut = wait_until(driven_from_host_0, timeout=60, interval=0.5, what="a node driven from host 0")
        hosts.partition(0)  # host 0 still believes it drives `cut`

        def all_ended() -> bool:
            return all(http.get(f"/workflows/{w}").json()["status"] in ("complete", "failed", "cancelled")
                       for w in wids)
        wait_until(all_ended, timeout=90, interval=0.5, what="every workflow ended while host 0 is cut off")
        before = {w: http.get(f"/workflows/{w}/tasks").json()["tasks"] for w in wids}
        hosts.heal(0)
        # once healed, host 0's worker talks to Redis again (it takes new work) ...
        res = http.post("/workflows", json={"blueprint": DIAMOND, "dockerinfo": dockerinfo,
                                            "parameters": long_params(DIAMOND, 0.1, 1)})
        last = res.json()["workflow_id"]
        wait_until(lambda: http.get(f"/workflows/{last}").json()["status"] == "complete", timeout=60,
                   what="a workflow after the heal")
        wait_until(lambda: "lease" in workers[0].log() or "Redis" in workers[0].log(), timeout=30,
                   what="host 0 noticing what happened while it was cut off")
        # ... and nothing it wrote reached the nodes others completed meanwhile
        keys = ("status", "attempt", "task_id", "retries", "last_error", "updated_at", "finished_at", "output")
        for w in wids:
            assert http.get(f"/workflows/{w}").json()["status"] == "complete"
            after = http.get(f"/workflows/{w}/tasks").json()["tasks"]
            assert [{k: t[k] for k in keys} for t in after] == [{k: t[k] for k in keys} for t in before[w]]
            ran = httpx.get(f"http://{Hosts.HUB_SIDE}:8080/control/tasks",
                            params={"workflow_id": w, "limit": 100}, timeout=5).json()["tasks"]
            assert len(ran) == 4 and all(t["status"] == "complete" for t in ran), ran  # each node once
        assert all(w.alive() for w in workers)
        assert cut
    finally:
        for p in reversed(procs):
            p.stop()
        hosts.close()
