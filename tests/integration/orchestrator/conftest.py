"""Real processes for orchestrator tests: API (uvicorn), workers, template services.

Each `Orchestrator` uses its own key prefix and RQ queue on the session's
redis-server, so tests never see each other's workflows.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support import PYTHON, ROOT, Process, ServiceProcess, free_port, wait_until

TEMPLATE = ROOT / "templates" / "concurrent"
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "blueprints"  # real exported blueprints, verbatim
FINAL = ("complete", "failed", "cancelled")

FAST = {  # short leases so takeover tests run in seconds (defaults: 15 s lease, 3 s heartbeat)
    "ORCHESTRATOR_LEASE_TTL": "3", "ORCHESTRATOR_HEARTBEAT_INTERVAL": "0.5",
    "ORCHESTRATOR_REAPER_INTERVAL": "0.2", "ORCHESTRATOR_RETRY_BACKOFF": "0.1",
    "ORCHESTRATOR_RETRY_BACKOFF_MAX": "1", "ORCHESTRATOR_POLL_WAIT": "5",
}


class Orchestrator:
    def __init__(self, redis_url: str, env: dict[str, str] | None = None) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:8]}"
        self.redis_url = redis_url
        self.env = {"REDIS_URL": redis_url, "ORCHESTRATOR_PREFIX": self.prefix,
                    "ORCHESTRATOR_QUEUE": self.prefix, **FAST, **(env or {})}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers: list[Process] = []
        self.api = Process([PYTHON, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(self.port)],
                           cwd=ROOT / "orchestrator", env=self.env, name="orch-api")
        self.http = httpx.Client(base_url=self.base, timeout=10)

        def ready() -> bool:
            if not self.api.alive():
                raise RuntimeError(self.api.log())
            return self.http.get("/health").status_code == 200
        wait_until(ready, timeout=20, what="orchestrator API")
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)

    def start_worker(self, *args: str) -> Process:
        w = Process([PYTHON, "-m", "worker", *args], cwd=ROOT / "orchestrator", env=self.env, name="orch-worker")
        self.workers.append(w)
        wait_until(lambda: "listening on" in w.log() or not w.alive(), timeout=20, what="worker start")
        assert w.alive(), w.log()
        return w

    def submit(self, blueprint: dict, dockerinfo: dict, expect: int = 201, **extra: Any) -> dict:
        r = self.http.post("/workflows", json={"blueprint": blueprint, "dockerinfo": dockerinfo, **extra})
        assert r.status_code == expect, r.text
        return r.json()

    def workflow(self, wid: str) -> dict:
        r = self.http.get(f"/workflows/{wid}")
        assert r.status_code == 200, r.text
        return r.json()

    def tasks(self, wid: str) -> dict[str, dict]:
        r = self.http.get(f"/workflows/{wid}/tasks")
        assert r.status_code == 200, r.text
        return {t["container"]: t for t in r.json()["tasks"]}

    def wait(self, wid: str, statuses: tuple[str, ...] = FINAL, timeout: float = 30) -> dict:
        box: dict = {}

        def check() -> bool:
            box["wf"] = self.workflow(wid)
            return box["wf"]["status"] in statuses
        try:
            wait_until(check, timeout=timeout, interval=0.05, what=f"workflow {wid} in {statuses}")
        except TimeoutError:
            raise AssertionError(f"{box.get('wf')}\n{self.logs()}") from None
        return box["wf"]

    def wait_node(self, wid: str, container: str, statuses: tuple[str, ...], timeout: float = 20) -> dict:
        box: dict = {}

        def check() -> bool:
            box["t"] = self.tasks(wid)[container]
            return box["t"]["status"] in statuses
        wait_until(check, timeout=timeout, interval=0.03, what=f"{container} in {statuses}")
        return box["t"]

    def logs(self) -> str:
        return "\n".join([f"--- api\n{self.api.log()[-3000:]}"] +
                         [f"--- worker {w.pid}\n{w.log()[-3000:]}" for w in self.workers])

    def close(self) -> None:
        self.http.close()
        for w in self.workers:
            w.stop()
        self.api.stop()
        self.redis.close()


@pytest.fixture
def orch(redis_server):
    o = Orchestrator(redis_server.url)
    yield o
    o.close()


@pytest.fixture(scope="module")
def service():
    s = ServiceProcess(TEMPLATE, name="template-svc")
    yield s
    s.stop()


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def dockerinfo_for(blueprint: dict, *ports: int) -> dict:
    """Point every container at local services (round-robin over `ports`)."""
    names = [n["container_name"] for n in blueprint["nodes"]]
    return {"docker_info_list": [{"container_name": c, "ip_address": "127.0.0.1", "port": str(ports[i % len(ports)])}
                                 for i, c in enumerate(names)]}


def long_params(blueprint: dict, duration: float = 0.2, steps: int = 2, **over: dict) -> dict:
    params = {n["container_name"]: {"duration": duration, "steps": steps} for n in blueprint["nodes"]}
    params.update(over)
    return params


def service_tasks(service_url: str, wid: str) -> list[dict]:
    r = httpx.get(f"{service_url}/control/tasks", params={"workflow_id": wid, "limit": 1000}, timeout=5)
    r.raise_for_status()
    return r.json()["tasks"]
