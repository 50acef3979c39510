"""Users and ownership (ORCHESTRATOR_API_KEYS): two users and an admin across every workflow route."""

from __future__ import annotations

import json

import httpx
import pytest

from .conftest import Orchestrator

ONE = {"nodes": [{"container_name": "only", "operation_signature_list": [
    {"operation_signature": {"operation_name": "Op"}}]}]}
DI = {"docker_info_list": [{"container_name": "only", "ip_address": "127.0.0.1", "port": 9}]}
KEYS = {"alice-token": {"user": "alice", "role": "user"}, "bob-token": {"user": "bob"},
        "root-token": {"user": "root", "role": "admin"}}


@pytest.fixture(scope="module")
def orch(redis_server):
    o = Orchestrator(redis_server.url, env={"ORCHESTRATOR_API_KEYS": json.dumps(KEYS),
                                            "ORCHESTRATOR_API_KEY": "legacy-admin"})
    yield o
    o.close()


def _as(orch: Orchestrator, token: str) -> httpx.Client:
    return httpx.Client(base_url=orch.base, timeout=10, headers={"Authorization": f"Bearer {token}"})


def _events_status(orch: Orchestrator, wid: str, **kw) -> int:
    with httpx.Client(base_url=orch.base, timeout=10) as c, c.stream("GET", f"/workflows/{wid}/events", **kw) as r:
        if r.status_code == 200:
            first = next(r.iter_lines())
            assert first.startswith("event: snapshot"), first
        return r.status_code


def test_orch_ownership_matrix(orch):
    alice, bob, root = _as(orch, "alice-token"), _as(orch, "bob-token"), _as(orch, "root-token")
    a = alice.post("/workflows", json={"blueprint": ONE, "dockerinfo": DI, "services_api_key": "svc-key"})
    b = bob.post("/workflows", json={"blueprint": ONE, "dockerinfo": DI})
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    wa, wb = a.json()["workflow_id"], b.json()["workflow_id"]
    assert a.json()["user"] == "alice"

    reads = ("/workflows/{}", "/workflows/{}?nodes=false", "/workflows/{}/tasks", "/workflows/{}/tasks/0",
             "/workflows/{}/tasks/only.Op")
    for path in reads:
        assert alice.get(path.format(wa)).status_code == 200
        assert alice.get(path.format(wb)).status_code == 404, path
        assert bob.get(path.format(wa)).status_code == 404, path
        assert root.get(path.format(wa)).status_code == 200
    assert alice.get(f"/workflows/{wa}").json()["user"] == "alice"
    assert alice.get(f"/workflows/{wa}/tasks").json()["tasks"][0]["user"] == "alice"
    # SSE: header or ?api_key=, only for one's own
    assert _events_status(orch, wa, params={"api_key": "alice-token"}) == 200
    assert _events_status(orch, wa, headers={"Authorization": "Bearer alice-token"}) == 200
    assert _events_status(orch, wb, params={"api_key": "alice-token"}) == 404
    assert _events_status(orch, wa, params={"api_key": "wrong"}) == 401
    assert _events_status(orch, wb, params={"api_key": "root-token"}) == 200

    # lists: a user sees its own only, whatever it asks; an admin all, or one user's
    def ids(client: httpx.Client, **params) -> set[str]:
        r = client.get("/workflows", params=params)
        assert r.status_code == 200, r.text
        return {w["workflow_id"] for w in r.json()["workflows"]}
    assert ids(alice) == {wa} and ids(bob) == {wb}
    assert ids(alice, user="bob") == set()
    assert ids(root) >= {wa, wb}
    assert ids(root, user="alice") == {wa}
    assert ids(root, user="bob", status="pending") == {wb}
    assert {w["user"] for w in root.get("/workflows").json()["workflows"]} >= {"alice", "bob"}

    # steering another's workflow: 404, and nothing changed
    for method, path in (("POST", "/workflows/{}/cancel"), ("POST", "/workflows/{}/retry"),
                         ("DELETE", "/workflows/{}")):
        assert bob.request(method, path.format(wa)).status_code == 404, path
    assert alice.get(f"/workflows/{wa}").json()["status"] == "pending"
    # one's own: allowed
    assert alice.post(f"/workflows/{wa}/cancel").status_code == 200
    assert alice.post(f"/workflows/{wa}/retry").status_code == 200
    # an admin steers anyone's; the single ORCHESTRATOR_API_KEY is an admin too
    legacy = _as(orch, "legacy-admin")
    assert legacy.get(f"/workflows/{wb}").status_code == 200
    assert root.post(f"/workflows/{wb}/cancel").status_code == 200
    assert root.delete(f"/workflows/{wb}").status_code == 200
    assert bob.get(f"/workflows/{wb}").status_code == 404
    assert alice.delete(f"/workflows/{wa}").status_code == 200
    # the services key never came back
    for client in (alice, root):
        assert "svc-key" not in client.get("/workflows").text
    for c in (alice, bob, root, legacy):
        c.close()
