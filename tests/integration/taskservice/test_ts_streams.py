"""Push channels of the example service (SSE and WebSocket) and completion callbacks,
against a real process."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import websockets

from tests.support import wait_until

FINISHED = {"complete", "failed", "cancelled"}


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def long_process(client, tid, duration=0.6, steps=3, **extra):
    r = client.post("/control/execute", json={"method": "LongProcess", "task_id": tid,
                                              "parameters": {"duration": duration, "steps": steps}, **extra})
    assert r.status_code == 202, r.text
    return r


def read_sse(client, params, limit_s=15.0) -> list[tuple[str, dict]]:
    """All (event, data) pairs of an SSE stream until it ends (or `end` arrives)."""
    events: list[tuple[str, dict]] = []
    event, data = "message", []
    with client.stream("GET", "/control/events", params=params, timeout=limit_s) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith(":"):
                continue
            if line == "":
                if data:
                    events.append((event, json.loads("\n".join(data))))
                    if event == "end":
                        break
                event, data = "message", []
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    return events


# -- SSE ---------------------------------------------------------------------------------------

def test_sse_snapshot_then_changes_then_end(client):
    tid = uid("sse")
    long_process(client, tid, duration=0.6, steps=3)
    events = read_sse(client, {"task_id": tid})
    kinds = [e for e, _ in events]
    assert kinds[0] == "snapshot"
    assert kinds[-1] == "end"
    snap = events[0][1]["tasks"]
    assert len(snap) == 1 and snap[0]["task_id"] == tid
    changes = [d for e, d in events if e == "task"]
    assert changes, "changes between the snapshot and the end"
    assert all(d["task_id"] == tid for d in changes)
    assert events[-1][1]["status"] == "complete" and events[-1][1]["progress"] == 100
    progresses = [d["progress"] for d in changes]
    assert progresses == sorted(progresses)


def test_sse_of_a_finished_task_ends_at_once(client):
    tid = uid("sse-done")
    long_process(client, tid, duration=0.05, steps=1)
    wait_until(lambda: client.get(f"/control/status/{tid}").json()["status"] in FINISHED)
    t0 = time.monotonic()
    events = read_sse(client, {"task_id": tid})
    assert [e for e, _ in events] == ["snapshot", "end"]
    assert time.monotonic() - t0 < 2


def test_sse_reports_cancellation(client):
    tid = uid("sse-stop")
    long_process(client, tid, duration=30, steps=30)
    threading.Timer(0.3, lambda: httpx.post(f"{client.base_url}/control/stop/{tid}")).start()
    events = read_sse(client, {"task_id": tid})
    assert events[-1][0] == "end" and events[-1][1]["status"] == "cancelled"


def test_sse_unknown_task_is_404(client):
    assert client.get("/control/events", params={"task_id": "nope-sse"}).status_code == 404


# -- WebSocket ---------------------------------------------------------------------------------

def test_websocket_snapshot_then_changes_then_end(client, service):
    tid = uid("ws")
    long_process(client, tid, duration=0.6, steps=3)

    async def collect():
        url = f"ws://127.0.0.1:{service.port}/control/ws?task_id={tid}"
        msgs = []
        async with websockets.connect(url) as ws:
            async def reader():
                async for raw in ws:
                    msg = json.loads(raw)
                    msgs.append(msg)
                    if msg["type"] == "end":
                        return
            await asyncio.wait_for(reader(), 15)
        return msgs

    msgs = asyncio.run(collect())
    assert msgs[0]["type"] == "snapshot" and msgs[0]["tasks"][0]["task_id"] == tid
    assert msgs[-1]["type"] == "end" and msgs[-1]["task"]["status"] == "complete"
    assert any(m["type"] == "task" for m in msgs[1:-1])


def test_websocket_unknown_task_reports_error(service):
    async def first_message():
        async with websockets.connect(f"ws://127.0.0.1:{service.port}/control/ws?task_id=nope-ws") as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert asyncio.run(first_message())["type"] == "error"


# -- callbacks ---------------------------------------------------------------------------------

class Receiver:
    """A tiny HTTP receiver in a thread: records JSON bodies, answers `code`."""

    def __init__(self, code: int = 200) -> None:
        self.code = code
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                outer.bodies.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(outer.code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(200)
    yield r
    r.close()


@pytest.fixture
def failing_receiver():
    r = Receiver(500)
    yield r
    r.close()


def test_callback_receives_the_record_on_completion(client, receiver):
    tid = uid("cb")
    long_process(client, tid, duration=0.1, steps=1, callback={"url": receiver.url})
    body = wait_until(lambda: receiver.bodies and receiver.bodies[0], timeout=10, what="callback")
    assert body["task_id"] == tid and body["status"] == "complete"
    rec = wait_until(lambda: (r := client.get(f"/control/status/{tid}").json()).get("callback_info", {})
                     .get("status") == "delivered" and r, timeout=10, what="delivered")
    assert rec["status"] == "complete"
    assert len(receiver.bodies) == 1


def test_callback_for_quick_method(client, receiver):
    tid = uid("cbq")
    r = client.post("/control/execute", json={"method": "QuickTask", "task_id": tid,
                                              "callback": {"url": receiver.url}})
    assert r.status_code == 200
    body = wait_until(lambda: receiver.bodies and receiver.bodies[0], timeout=10, what="callback")
    assert body["task_id"] == tid and body["status"] == "complete"


def test_failing_callback_is_retried_then_marked_failed(client, failing_receiver):
    tid = uid("cbf")
    long_process(client, tid, duration=0.05, steps=1, callback={"url": failing_receiver.url})
    rec = wait_until(lambda: (r := client.get(f"/control/status/{tid}").json()).get("callback_info", {})
                     .get("status") == "failed" and r, timeout=20, what="callback failed")
    assert rec["status"] == "complete", "a failing receiver never changes the task's status"
    assert len(failing_receiver.bodies) > 1, "delivery was retried"
    assert rec["callback_info"]["attempts"] == len(failing_receiver.bodies)
    assert client.get(f"/control/output/{tid}").status_code == 200
