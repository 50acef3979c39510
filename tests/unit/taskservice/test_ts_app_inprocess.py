"""create_app with small custom modules, in process: what the example service
cannot show (a quick method that fails, options set by decorator)."""

from __future__ import annotations

import threading
import types

import pytest
from fastapi.testclient import TestClient

from taskservice import ExecuteResponse, ServiceSettings, TaskManager, create_app, method


def _module():
    mod = types.ModuleType("custom_service")

    def execute_Boom(request):
        """Always fails."""
        raise RuntimeError("quick failure")

    def execute_SaysFailed(request):
        """Returns a failed answer."""
        return ExecuteResponse(status="failed", error="not today")

    def execute_Plain(request):
        """Returns plain JSON."""
        return {"echo": request.parameters}

    @method(concurrency=1, resource=lambda request, params: request.parameters.get("stage"))
    def execute_Move(request, task):
        """Moves a stage until stopped."""
        while not task.sleep(0.01):
            pass
        return None

    def execute_Where(request):
        """Names the thread it runs on."""
        return {"thread": threading.current_thread().name}

    for fn in (execute_Boom, execute_SaysFailed, execute_Plain, execute_Move, execute_Where):
        setattr(mod, fn.__name__, fn)
    return mod


@pytest.fixture
def client(tmp_path):
    manager = TaskManager(max_workers=4, data_dir=tmp_path)
    app = create_app(_module(), manager=manager, settings=ServiceSettings(data_dir=tmp_path))
    with TestClient(app) as c:
        yield c


def test_quick_method_that_raises_answers_200_failed(client):
    r = client.post("/control/execute", json={"method": "Boom", "task_id": "b1"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "failed" and "quick failure" in body["error"] and body["task_id"] == "b1"
    rec = client.get("/control/status/b1").json()
    assert rec["status"] == "failed"
    o = client.get("/control/output/b1")
    assert o.status_code == 409 and o.json()["status"] == "failed"


def test_quick_method_returning_failed_answers_200_failed(client):
    r = client.post("/control/execute", json={"method": "SaysFailed"})
    assert r.status_code == 200 and r.json()["status"] == "failed" and r.json()["error"] == "not today"


def test_quick_method_returning_plain_json_is_wrapped_inline(client):
    r = client.post("/control/execute", json={"method": "Plain", "parameters": {"a": 1}})
    assert r.status_code == 200
    out = r.json()["output"]
    assert out["protocol"] == "inline" and out["format"] == "json" and out["data"] == {"echo": {"a": 1}}


def test_per_resource_limit_by_parameter(client):
    a = client.post("/control/execute", json={"method": "Move", "task_id": "mx1", "parameters": {"stage": "x"}})
    assert a.status_code == 202
    b = client.post("/control/execute", json={"method": "Move", "task_id": "mx2", "parameters": {"stage": "x"}})
    assert b.status_code == 409 and "mx1" in b.text
    c = client.post("/control/execute", json={"method": "Move", "task_id": "my1", "parameters": {"stage": "y"}})
    assert c.status_code == 202, "another stage is another resource"
    for tid in ("mx1", "my1"):
        assert client.post(f"/control/stop/{tid}").status_code == 200
        rec = client.get(f"/control/status/{tid}", params={"wait": 5}).json()
        if rec["status"] != "cancelled":
            rec = client.get(f"/control/status/{tid}", params={"wait": 5}).json()
        assert rec["status"] == "cancelled"


def test_quick_methods_run_on_the_services_quick_threads(client):
    r = client.post("/control/execute", json={"method": "Where", "task_id": "w1"})
    assert r.status_code == 200 and r.json()["output"]["data"]["thread"].startswith("quick")


@pytest.mark.parametrize("query, loc, kind", [
    ("limit=0", "limit", "greater_than_equal"), ("limit=1001", "limit", "less_than_equal"),
    ("limit=abc", "limit", "int_parsing"), ("limit=1.5", "limit", "int_parsing"),
    ("offset=-1", "offset", "greater_than_equal"), ("offset=", "offset", "int_parsing"),
    ("offset=" + "9" * 5000, "offset", "int_parsing"),  # past Python's digit limit
])
def test_task_list_paging_parameters_are_checked(client, query, loc, kind):
    for path in ("/control/tasks", "/tasks"):  # the seed alias too
        r = client.get(f"{path}?{query}")
        assert r.status_code == 422, r.text
        assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [(["query", loc], kind)]


def test_task_list_pages(client):
    for k in range(5):
        assert client.post("/control/execute", json={"method": "Plain", "task_id": f"pg{k}"}).status_code == 200
    first = client.get("/control/tasks?limit=2").json()
    second = client.get("/control/tasks?limit=2&offset=2").json()
    rest = client.get("/control/tasks?offset=4&limit=%2B10").json()
    assert client.get("/control/tasks?offset=" + "9" * 40).json()["tasks"] == []  # any whole number
    assert first["total"] == 5 and (first["limit"], first["offset"]) == (2, 0)
    ids = [t["task_id"] for page in (first, second, rest) for t in page["tasks"]]
    assert ids == [f"pg{k}" for k in range(4, -1, -1)]  # newest first, each once
    params = {p["name"]: p["schema"] for p in client.get("/openapi.json").json()["paths"]["/control/tasks"]["get"]["parameters"]}
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}
