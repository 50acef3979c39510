"""The store's atomic transitions, against the session's real redis-server."""

from __future__ import annotations

import threading
import uuid

import pytest

from orchestrator.store import Store

RET = 3600.0


@pytest.fixture
def store(redis_server):
    s = Store.from_url(redis_server.url, prefix=f"u{uuid.uuid4().hex[:8]}")
    s.url = redis_server.url  # type: ignore[attr-defined]
    yield s
    s.r.close()


def diamond(store: Store, wid: str = "wf1") -> list[int]:
    parents = [[], [0], [0], [1, 2]]
    children = [[1, 2], [3], [3], []]
    return store.create(wid, {"graph": {}}, 4, parents, children, lease_until=1e12)


def run(store: Store, wid: str, i: int, me: str = "w1"):
    c = store.claim(wid, i, me, 30)
    assert c is not None
    store.patch(wid, i, {"task_id": f"t{i}"}, allowed=("pending", "running"), new_status="running")
    return c


def test_create_is_exclusive_and_schedules_roots(store):
    assert diamond(store) == [0]
    assert diamond(store) is None
    assert store.workflow("wf1")["status"] == "pending"


def test_fan_in_scheduled_exactly_once_under_races(store):
    for k in range(30):
        wid = f"race{k}"
        diamond(store, wid)
        run(store, wid, 0)
        res = store.finish(wid, 0, "complete", {"output": '{"x":0}'}, retention=RET, fail_fast=True, lease_ttl=30)
        assert res.to_start == [1, 2]
        run(store, wid, 1)
        run(store, wid, 2)
        started: list[int] = []
        barrier = threading.Barrier(2)

        def finish(i: int) -> None:
            s = Store.from_url(store.url, store.p)  # its own connection, like another worker
            barrier.wait()
            started.extend(s.finish(wid, i, "complete", {"output": f'{{"x":{i}}}'}, retention=RET,
                                    fail_fast=True, lease_ttl=30).to_start or [])
        ts = [threading.Thread(target=finish, args=(i,)) for i in (1, 2)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert started == [3]
        c = store.claim(wid, 3, "w2", 30)
        assert [o["x"] for o in c.parent_outputs] == [1, 2]  # inputs in upstream order
        store.finish(wid, 3, "complete", {"output": "null"}, retention=RET, fail_fast=True, lease_ttl=30)
        assert store.workflow(wid)["status"] == "complete"
        assert 0 < store.r.ttl(store.wf_key(wid)) <= RET
        assert store.finish(wid, 3, "complete", {}, retention=RET, fail_fast=True, lease_ttl=30).changed is False


def test_claim_respects_live_leases_and_takes_over_expired(store):
    diamond(store)
    assert store.claim("wf1", 0, "w1", 30) is not None
    assert store.claim("wf1", 0, "w2", 30) is None          # held by a live worker
    assert store.claim("wf1", 1, "w2", 30) is None          # not scheduled yet
    assert store.heartbeat("w2", ["wf1|0"], 30) == ["wf1|0"]  # not w2's
    assert store.heartbeat("w2", ["wf1|3"], 30) == []         # no owner: finished, not lost
    store.claim("wf1", 0, "w1", -1)                          # w1's lease lapses
    assert store.expired_leases() == ["wf1|0"]
    assert store.claim("wf1", 0, "w2", 30) is not None
    assert store.heartbeat("w1", ["wf1|0"], 30) == ["wf1|0"]  # w1 learns it lost it


def test_fail_fast_cancels_pending_and_stops_running(store):
    diamond(store)
    run(store, "wf1", 0)
    store.finish("wf1", 0, "complete", {"output": "1"}, retention=RET, fail_fast=True, lease_ttl=30)
    run(store, "wf1", 1)
    run(store, "wf1", 2)
    res = store.finish("wf1", 1, "failed", {"error": "boom"}, retention=RET, fail_fast=True, lease_ttl=30,
                       wf_error="node left failed: boom")
    assert res.workflow_status == "failed" and res.to_stop == [2]
    wf = store.workflow("wf1")
    assert wf["failed_node"] == "1" and wf["error"] == "node left failed: boom"
    assert [n["status"] for n in store.nodes("wf1", 4)] == ["complete", "failed", "stopping", "cancelled"]
    assert store.retry("wf1", 30)[0] == 0  # a node is still stopping
    store.finish("wf1", 2, "cancelled", {}, retention=RET, fail_fast=True, lease_ttl=30)
    code, status, to_start = store.retry("wf1", 30)
    assert (code, status, to_start) == (1, "running", [1, 2])
    nodes = store.nodes("wf1", 4)
    assert [n["status"] for n in nodes] == ["complete", "pending", "pending", "pending"]
    assert [n["attempt"] for n in nodes] == ["1", "2", "2", "2"]
    assert store.r.ttl(store.wf_key("wf1")) == -1 and store.workflow("wf1")["status"] == "running"


def test_cancel_then_finish_stopping_nodes(store):
    diamond(store)
    run(store, "wf1", 0)
    assert store.cancel("wf1", RET) == (1, "stopping", [0])
    assert store.cancel("wf1", RET)[0] == 0
    store.finish("wf1", 0, "cancelled", {}, retention=RET, fail_fast=True, lease_ttl=30)
    assert store.workflow("wf1")["status"] == "cancelled"
    assert store.cancel("nope", RET)[0] == -1


def test_prune_by_age_and_count(store):
    for k in range(5):
        wid = f"p{k}"
        store.create(wid, {}, 1, [[]], [[]], 1e12)
        store.claim(wid, 0, "w", 30)
        store.finish(wid, 0, "complete", {}, retention=RET, fail_fast=True, lease_ttl=30)
    assert store.prune(RET, max_finished=3) == 2
    assert store.workflow("p0") is None and store.workflow("p4") is not None
    assert store.list_ids(None, 0, 10)[1] == 3
    assert store.prune(-1, max_finished=100) == 3
