"""`GET /workflows/{id}/events` and the client, against real redis-server, API, workers and services."""

from __future__ import annotations

import threading

import httpx
import pytest

from orchestrator.client import Event, LiveWorkflow, OrchestratorClient, OrchestratorError
from orchestrator.store import Store

from .conftest import EXAMPLES, Orchestrator, dockerinfo_for, load, long_params

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")
ORDER = {"pending": 0, "running": 1, "stopping": 2, "complete": 3, "failed": 3, "cancelled": 3}


class Collector(threading.Thread):
    """Reads a workflow's event stream in the background."""

    def __init__(self, client: OrchestratorClient, wid: str) -> None:
        super().__init__(daemon=True)
        self.client, self.wid = client, wid
        self.events: list[Event] = []
        self.got_snapshot = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for ev in self.client.events(self.wid):
                self.events.append(ev)
                self.got_snapshot.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.got_snapshot.set()

    def finish(self, timeout: float = 30) -> list[Event]:
        self.join(timeout)
        assert not self.is_alive(), "event stream did not end"
        assert self.error is None, self.error
        return self.events


def test_orch_events_snapshot_then_every_change_in_order_then_end(orch, service):
    client = OrchestratorClient(orch.base)
    params = long_params(DIAMOND, 0.6, 6)
    wid = client.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=params).workflow_id
    reader = Collector(client, wid)
    reader.start()  # no worker yet: the snapshot shows everything pending
    assert reader.got_snapshot.wait(10)
    orch.start_worker()
    events = reader.finish()

    first, last = events[0], events[-1]
    assert first.event == "snapshot"
    assert first.data["workflow"]["status"] == "pending" and first.data["workflow"]["name"] == "diamond"
    assert [v["node"] for v in first.data["graph"]["vertices"]] == \
        ["source.LongProcess", "left.LongProcess", "right.LongProcess", "sink.LongProcess"]
    assert first.data["graph"]["vertices"][3]["parents"] == [1, 2]
    assert {n["status"] for n in first.data["nodes"]} == {"pending"}
    assert last.event == "end" and last.data["status"] == "complete" and last.data["progress"] == 100
    assert {e.event for e in events[1:-1]} <= {"node", "progress", "workflow"}

    # every change exactly once, in order: seq strictly increasing, each node pending -> running -> complete
    # (progress is held back by the throttle, so only state changes are in global order; per node, all are)
    seqs = [e.data["seq"] for e in events[1:-1] if e.event == "node"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for i in range(4):
        mine = [e.data["seq"] for e in events if e.event in ("node", "progress") and e.data["index"] == i]
        assert mine == sorted(mine) and len(set(mine)) == len(mine)
    for i in range(4):
        transitions = [(e.data["previous"], e.data["status"]) for e in events
                       if e.event == "node" and e.data["index"] == i]
        assert transitions == [("pending", "running"), ("running", "complete")], transitions
        progress = [e.data["progress"] for e in events if e.event == "progress" and e.data["index"] == i]
        assert progress == sorted(progress) and 0 < len(progress) <= 6, progress  # throttled, monotonic
    # a node only starts once its parents completed (the order the stream reports it in)
    pos = {(e.data["index"], e.data["status"]): k for k, e in enumerate(events) if e.event == "node"}
    assert pos[(0, "complete")] < pos[(1, "running")] and pos[(0, "complete")] < pos[(2, "running")]
    assert max(pos[(1, "complete")], pos[(2, "complete")]) < pos[(3, "running")]
    wf_events = [e.data["status"] for e in events if e.event == "workflow"]
    assert wf_events[0] == "running" and wf_events[-1] == "complete"

    # the folded state matches the API's
    live = LiveWorkflow(wid)
    for e in events:
        live.apply(e)
    assert live.ended and live.status == "complete" and live.progress == 100
    assert [n.status for n in live.nodes] == [t.status for t in client.tasks(wid)] == ["complete"] * 4

    # a finished workflow: snapshot then end at once; unknown ids are 404
    again = list(client.events(wid))
    assert [e.event for e in again] == ["snapshot", "end"]
    with pytest.raises(OrchestratorError) as err:
        list(client.events("no-such-workflow"))
    assert err.value.status_code == 404
    client.close()


def test_orch_events_cancel_and_delete_end_the_stream(orch, service):
    orch.start_worker()
    client = OrchestratorClient(orch.base)
    params = long_params(DIAMOND, 0.05, 1, left={"duration": 30, "steps": 300}, right={"duration": 30, "steps": 300})
    wid = client.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=params).workflow_id
    orch.wait_node(wid, "left", ("running",))
    reader = Collector(client, wid)
    reader.start()
    assert reader.got_snapshot.wait(10)
    assert client.cancel(wid)["status"] in ("stopping", "cancelled")
    events = reader.finish()
    assert events[-1].event == "end" and events[-1].data["status"] == "cancelled"
    by_node = {}
    for e in events:
        if e.event == "node":
            by_node.setdefault(e.data["node"], []).append(e.data["status"])
    assert by_node["sink.LongProcess"] == ["cancelled"]
    for name in ("left.LongProcess", "right.LongProcess"):
        statuses = by_node[name]
        assert statuses[-1] == "cancelled" and all(
            ORDER[a] <= ORDER[b] for a, b in zip(statuses, statuses[1:])), statuses

    # retry, then the workflow disappears while it runs (retention pruning): the stream ends as "deleted"
    client.retry(wid)
    orch.wait_node(wid, "left", ("running",))
    reader = Collector(client, wid)
    reader.start()
    assert reader.got_snapshot.wait(10)
    Store.from_url(orch.redis_url, orch.prefix).delete(wid)
    events = reader.finish()
    assert events[0].event == "snapshot" and events[-1].event == "end"
    assert events[-1].data["status"] == "deleted"
    client.close()


def test_orch_client_wait_list_and_query_token(redis_server, service):
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_API_KEY": "k3y"})
    try:
        orch.start_worker()
        with OrchestratorClient(orch.base, api_key="k3y") as client:
            sub = client.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port),
                                parameters=long_params(DIAMOND, 0.3, 3), workflow_id="client-wait")
            seen: list[float] = []
            final = client.wait(sub.workflow_id, timeout=30, on_progress=lambda live: seen.append(live.progress))
            assert final.status == "complete" and final.nodes_done == 4
            assert seen[0] < 100 and seen[-1] == 100 and seen == sorted(seen)
            listed = client.list()
            assert listed[0].workflow_id == "client-wait" and listed[0].name == "diamond"
            assert client.list(status="failed") == []
            task = client.task("client-wait", "sink.LongProcess")
            assert task.status == "complete" and task.upstream == ["left.LongProcess", "right.LongProcess"]
            assert [t.node for t in client.tasks("client-wait")][0] == "source.LongProcess"
        # EventSource cannot send headers: the events route also takes ?api_key=
        url = f"{orch.base}/workflows/client-wait/events"
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, params={"api_key": "nope"}, timeout=5).status_code == 401
        with httpx.stream("GET", url, params={"api_key": "k3y"}, timeout=5) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            body = r.read().decode()
        assert body.index("event: snapshot") < body.index("event: end")
        assert httpx.get(f"{orch.base}/workflows", params={"api_key": "k3y"}, timeout=5).status_code == 401
    finally:
        orch.close()
