"""Users and ownership on a real template service (issue 9): SERVICE_API_KEYS maps tokens to users
and roles, SERVICE_API_KEY is an admin key. A user sees, lists, stops and queries only its own tasks
(another's answers 404, on every task route, SSE and WebSocket included); an admin sees everything."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from tests.support import ROOT, ServiceProcess, wait_until

TEMPLATE = ROOT / "templates" / "concurrent"
KEYS = {"tok-alice": {"user": "alice", "role": "user"}, "tok-bob": {"user": "bob"},
        "tök-root-☃": {"user": "root", "role": "admin"}}
SINGLE_ADMIN = "single-admin-key"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    data = tmp_path_factory.mktemp("owners-data")
    keys = data / "keys.json"
    keys.write_text(json.dumps(KEYS))
    proc = ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(data), "SERVICE_API_KEYS": f"@{keys}",
                                         "SERVICE_API_KEY": SINGLE_ADMIN, "SERVICE_MAX_WAIT": "0.5"},
                          name="owners")
    headers = {"alice": "tok-alice", "bob": "tok-bob", "admin": SINGLE_ADMIN}
    proc.users = {u: httpx.Client(base_url=proc.url, timeout=15, headers={"Authorization": f"Bearer {t}"})
                  for u, t in headers.items()}
    proc.users["root"] = httpx.Client(base_url=proc.url, timeout=15,
                                      headers=[(b"Authorization", "Bearer tök-root-☃".encode())])
    yield proc
    for c in proc.users.values():
        c.close()
    proc.stop()


def start(client, duration=30.0, method="LongProcess") -> str:
    tid = f"own-{uuid.uuid4().hex[:10]}"
    r = client.post("/control/execute", json={"method": method, "task_id": tid,
                                              "parameters": {"duration": duration, "steps": 1}})
    assert r.status_code in (200, 202), r.text
    return tid


def first_sse_event(client, params) -> tuple[int, str, dict | None]:
    with client.stream("GET", "/control/events", params=params, timeout=10) as r:
        if r.status_code != 200:
            r.read()
            return r.status_code, "", None
        event = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                return 200, event, json.loads(line.split(":", 1)[1])
    return 0, "", None


def test_bad_tokens_are_401_even_when_not_ascii(svc):
    for raw in (b"Bearer \xff\xfe", "Bearer tok-alicé".encode(), b"Bearer  x", b"Basic tok-alice", b"tok-alice"):
        with httpx.Client(base_url=svc.url, headers=[(b"Authorization", raw)]) as c:
            assert c.get("/control/tasks").status_code == 401, raw
            assert c.post("/control/execute", content=b"\xff").status_code == 401, raw
    assert svc.users["root"].get("/control/tasks").status_code == 200  # a non-ASCII token that is valid


def test_ownership_matrix(svc):
    alice, bob, admin, root = (svc.users[u] for u in ("alice", "bob", "admin", "root"))
    a_task = start(alice)
    b_task = start(bob)
    done_a = start(alice, method="QuickTask")
    assert alice.get(f"/control/status/{a_task}").json()["user"] == "alice"
    assert admin.get(f"/control/status/{b_task}").json()["user"] == "bob"

    # status, output (path and query), long-poll included: another's task is 404
    for path in (f"/control/status/{a_task}", f"/control/output/{done_a}"):
        assert bob.get(path).status_code == 404
        assert alice.get(path).status_code == 200
        assert admin.get(path).status_code == 200 and root.get(path).status_code == 200
    assert bob.get("/control/status", params={"task_id": a_task, "wait": 0.2}).status_code == 404
    assert bob.get("/control/output", params={"task_id": done_a}).status_code == 404
    assert bob.get("/control/output", params={"task_id": a_task}).status_code == 404
    assert alice.get("/control/output", params={"task_id": a_task}).status_code == 409

    # execute with another's task id: neither a replay of their record nor a second task
    r = bob.post("/control/execute", json={"method": "LongProcess", "task_id": a_task,
                                           "parameters": {"duration": 30, "steps": 1}})
    assert r.status_code == 409 and "user" not in r.json() and "parameters" not in r.text
    assert alice.get(f"/control/status/{a_task}").json()["user"] == "alice"

    # lists and queries show only one's own; admins see all and can filter by user
    def ids(client, **params):
        return {t["task_id"] for t in client.get("/control/tasks", params={"limit": 1000, **params}).json()["tasks"]}

    def qids(client, body):
        return {t["task_id"] for t in client.post("/control/tasks/query", json=body).json()["tasks"]}

    assert {a_task, done_a} <= ids(alice) and b_task not in ids(alice)
    assert b_task in ids(bob) and not {a_task, done_a} & ids(bob)
    assert {a_task, b_task, done_a} <= ids(admin)
    assert ids(admin, user="bob") >= {b_task} and not {a_task, done_a} & ids(admin, user="bob")
    assert not ids(bob, user="alice")
    assert a_task not in qids(bob, {"task_id": a_task}) and a_task in qids(alice, {"task_id": a_task})
    assert qids(admin, {"user": "alice"}) >= {a_task, done_a} and b_task not in qids(admin, {"user": "alice"})

    # SSE: another's task is 404; the all-tasks stream holds only one's own
    assert first_sse_event(bob, {"task_id": a_task})[0] == 404
    code, event, data = first_sse_event(alice, {"task_id": a_task})
    assert code == 200 and event == "snapshot" and data["tasks"][0]["task_id"] == a_task
    code, event, data = first_sse_event(bob, {})
    assert code == 200 and event == "snapshot"
    assert {t["user"] for t in data["tasks"]} == {"bob"}
    code, _, data = first_sse_event(admin, {})
    assert {a_task, b_task} <= {t["task_id"] for t in data["tasks"]}

    # WebSocket: the same rules
    ws_url = f"ws://127.0.0.1:{svc.port}/control/ws"

    async def ws_first(token: str, query: str = "") -> dict:
        async with websockets.connect(ws_url + query, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    msg = asyncio.run(ws_first("tok-bob", f"?task_id={a_task}"))
    assert msg["type"] == "error" and a_task in msg["error"]
    msg = asyncio.run(ws_first("tok-bob"))
    assert msg["type"] == "snapshot" and {t["user"] for t in msg["tasks"]} == {"bob"}
    msg = asyncio.run(ws_first("tok-alice", f"?task_id={a_task}"))
    assert msg["type"] == "snapshot" and msg["tasks"][0]["task_id"] == a_task
    msg = asyncio.run(ws_first(SINGLE_ADMIN))
    assert {a_task, b_task} <= {t["task_id"] for t in msg["tasks"]}
    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(ws_first("nope"))

    # changes pushed later are filtered too: bob's stream sees his new task, never alice's
    async def bob_sees_only_his() -> list[dict]:
        async with websockets.connect(ws_url, additional_headers={"Authorization": "Bearer tok-bob"}) as ws:
            await asyncio.wait_for(ws.recv(), 10)  # snapshot
            await asyncio.to_thread(start, alice, 0.05)
            mine = await asyncio.to_thread(start, bob, 0.05)
            seen = []
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                seen.append(msg["task"])
                if msg["task"]["task_id"] == mine:
                    return seen

    assert {t["user"] for t in asyncio.run(bob_sees_only_his())} == {"bob"}

    # stop (path and query): another's task is 404 and keeps running
    assert bob.post(f"/control/stop/{a_task}").status_code == 404
    assert bob.post("/control/stop", params={"task_id": a_task}).status_code == 404
    assert alice.get(f"/control/status/{a_task}").json()["status"] == "running"
    assert alice.post(f"/control/stop/{a_task}").status_code == 200
    assert admin.post("/control/stop", params={"task_id": b_task}).status_code == 200
    for tid, client in ((a_task, alice), (b_task, bob)):
        wait_until(lambda: client.get(f"/control/status/{tid}").json()["status"] == "cancelled", timeout=10,
                   what=f"{tid} cancelled")
