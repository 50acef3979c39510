"""Counters, fencing and byte retention of the store's scripts, against a real redis-server.

The scripts keep per-workflow counters (active, done, failed, cancelled) and a
per-node count of parents not yet complete instead of scanning a workflow's
nodes; these tests recount from the nodes after every kind of transition.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from orchestrator.store import LeaseLost, Store

RET = 3600.0


@pytest.fixture
def store(redis_server):
    s = Store.from_url(redis_server.url, prefix=f"c{uuid.uuid4().hex[:8]}")
    s.url = redis_server.url  # type: ignore[attr-defined]
    yield s
    s.r.close()


def fan(store: Store, wid: str, width: int) -> list[int]:
    """1 -> width -> 1: vertex 0 the root, 1..width the branches, width + 1 the fan-in."""
    last = width + 1
    parents = [[]] + [[0]] * width + [list(range(1, width + 1))]
    children = [list(range(1, width + 1))] + [[last]] * width + [[]]
    return store.create(wid, {"graph": {}}, width + 2, parents, children, lease_until=1e12)


def diamond(store: Store, wid: str) -> list[int]:
    return store.create(wid, {"graph": {}, "inputs": [{"protocol": "inline", "uri": "x"}]}, 4,
                        [[], [0], [0], [1, 2]], [[1, 2], [3], [3], []], lease_until=1e12)


def start(store: Store, wid: str, i: int, me: str = "w1") -> int:
    c = store.claim(wid, i, me, 30)
    assert c is not None
    store.patch(wid, i, {"task_id": f"t{i}"}, allowed=("pending", "running"), new_status="running",
                token=c.token)
    return c.token


def finish(store: Store, wid: str, i: int, status: str = "complete", token: int | None = None, **kw):
    fields = {"output": f'{{"i":{i}}}'} if status == "complete" else {"error": "boom"}
    return store.finish(wid, i, status, fields, retention=RET, fail_fast=kw.pop("fail_fast", True),
                        lease_ttl=30, token=token, **kw)


def recount(store: Store, wid: str) -> dict[str, int]:
    """The counters as a full scan of the nodes would give them."""
    nodes = store.nodes(wid, int(store.workflow(wid)["total"]))
    active = sum(1 for n in nodes if n["status"] in ("running", "stopping")
                 or (n["status"] == "pending" and n.get("scheduled") == "1"))
    return {"total": len(nodes), "active": active,
            "done": sum(n["status"] == "complete" for n in nodes),
            "failed": sum(n["status"] == "failed" for n in nodes),
            "cancelled": sum(n["status"] == "cancelled" for n in nodes)}


def test_fan_in_of_5000_parents_scheduled_exactly_once(store):
    width = 5000
    assert fan(store, "big", width) == [0]
    t0 = start(store, "big", 0)
    assert finish(store, "big", 0, token=t0).to_start == list(range(1, width + 1))
    assert store.counters("big")["active"] == width
    started: list[int] = []
    lock = threading.Lock()

    def worker(part: list[int]) -> None:
        # its own connection, like another worker; the finish script pipelined in batches (speed)
        s = Store.from_url(store.url, store.p)
        for b in range(0, len(part), 250):
            pipe = s.r.pipeline(transaction=False)
            for i in part[b:b + 250]:
                s.lua.queue(pipe, "finish", [s.p, "big", i, "complete", "0", "t", repr(RET), "1", "1e12", "", "", "",
                                             "0", "output", f'{{"i":{i}}}'])
            for res in pipe.execute():
                assert int(res[0]) == 1
                with lock:
                    started.extend(int(x) for x in res[6:6 + int(res[2])])
        s.r.close()
    branches = list(range(1, width + 1))
    threads = [threading.Thread(target=worker, args=(branches[k::4],)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert started == [width + 1]
    assert store.counters("big") == recount(store, "big") == {
        "total": width + 2, "active": 1, "done": width + 1, "failed": 0, "cancelled": 0}
    c = store.claim("big", width + 1, "w2", 30)
    assert len(c.parent_outputs) == width and c.parent_outputs[0] == {"i": 1}
    res = finish(store, "big", width + 1, token=c.token)
    assert res.workflow_status == "complete"
    assert store.counters("big")["active"] == 0


def test_counters_after_complete_fail_cancel_and_retry(store):
    diamond(store, "d")
    finish(store, "d", 0, token=start(store, "d", 0))
    assert store.counters("d") == recount(store, "d")
    t1, t2 = start(store, "d", 1), start(store, "d", 2)
    res = finish(store, "d", 1, "failed", token=t1, wf_error="node 1 failed")
    assert res.workflow_status == "failed" and res.to_stop == [2]
    assert store.counters("d") == recount(store, "d") == {
        "total": 4, "active": 1, "done": 1, "failed": 1, "cancelled": 1}
    assert store.retry("d", 30)[0] == 0  # node 2 still stopping
    finish(store, "d", 2, "cancelled", token=t2)
    assert store.counters("d") == recount(store, "d")
    assert store.retry("d", 30) == (1, "running", [1, 2])
    assert store.counters("d") == recount(store, "d") == {
        "total": 4, "active": 2, "done": 1, "failed": 0, "cancelled": 0}
    # the retried fan-in still waits for both parents, and is scheduled once
    assert finish(store, "d", 1, token=start(store, "d", 1)).to_start == []
    assert finish(store, "d", 2, token=start(store, "d", 2)).to_start == [3]
    assert store.cancel("d", RET) == (1, "cancelled", [])
    assert store.counters("d") == recount(store, "d") == {
        "total": 4, "active": 0, "done": 3, "failed": 0, "cancelled": 1}
    assert store.workflow("d")["status"] == "cancelled"
    assert store.retry("d", 30) == (1, "running", [3])
    finish(store, "d", 3, token=start(store, "d", 3))
    assert store.workflow("d")["status"] == "complete"
    assert store.counters("d") == recount(store, "d")


def test_failure_without_fail_fast_ends_when_nothing_is_active(store):
    diamond(store, "nf")
    finish(store, "nf", 0, token=start(store, "nf", 0))
    t1, t2 = start(store, "nf", 1), start(store, "nf", 2)
    assert finish(store, "nf", 1, "failed", token=t1, fail_fast=False).workflow_status == "running"
    assert finish(store, "nf", 2, token=t2, fail_fast=False).workflow_status == "failed"
    assert store.counters("nf") == recount(store, "nf")
    assert store.node_status("nf", 3) == "pending"  # never ready: its parent failed


def test_fail_fast_over_a_wide_workflow(store):
    width = 2000
    fan(store, "ff", width)
    finish(store, "ff", 0, token=start(store, "ff", 0))
    running = {i: start(store, "ff", i) for i in range(1, 11)}  # 10 running, the rest scheduled
    res = finish(store, "ff", 1, "failed", token=running[1], wf_error="branch failed")
    assert res.workflow_status == "failed" and res.to_stop == list(range(2, 11))
    assert store.counters("ff") == recount(store, "ff") == {
        "total": width + 2, "active": 9, "done": 1, "failed": 1, "cancelled": width - 10 + 1}
    assert store.expired_leases(10_000) == [] and store.r.zcard(store.leases_key) == 9
    for i in range(2, 11):
        finish(store, "ff", i, "cancelled", token=running[i])
    assert store.counters("ff")["active"] == 0 and store.workflow("ff")["status"] == "failed"


def test_stale_token_writes_are_refused(store):
    diamond(store, "f")
    c1 = store.claim("f", 0, "w1", 30)
    assert store.claim("f", 0, "w1", 30).token == c1.token  # the same owner again: same token
    store.patch("f", 0, {"task_id": "t"}, allowed=("pending", "running"), new_status="running", token=c1.token)
    store.claim("f", 0, "w1", -1)                               # w1 pauses; its lease lapses
    c2 = store.claim("f", 0, "w2", 30)
    assert c2.token > c1.token
    with pytest.raises(LeaseLost):
        store.patch("f", 0, {"retries": 3, "last_error": "late"}, token=c1.token)
    with pytest.raises(LeaseLost):
        store.patch("f", 0, {"stop_sent": "1"}, token=c1.token)
    with pytest.raises(LeaseLost):
        store.new_attempt("f", 0, c1.token, "service lost the task")
    with pytest.raises(LeaseLost):
        finish(store, "f", 0, token=c1.token)
    n = store.node("f", 0)
    assert n["status"] == "running" and "last_error" not in n and "stop_sent" not in n
    assert n["retries"] == "0" and n["attempt"] == "1"
    assert store.patch("f", 0, {"progress": 50}, allowed=("running",), token=c2.token) == "running"
    assert finish(store, "f", 0, token=c2.token).to_start == [1, 2]
    with pytest.raises(LeaseLost):  # still refused after the node ended
        finish(store, "f", 0, token=c1.token)
    assert store.patch("f", 0, {"note": "api"}) == "complete"  # unfenced writers (the API) go through


def test_new_attempt_restarts_the_node_under_the_same_lease(store):
    diamond(store, "na")
    tok = start(store, "na", 0)
    store.patch("na", 0, {"progress": 40, "stop_sent": "1"}, token=tok)
    assert store.new_attempt("na", 0, tok, "service restarted: task vanished") == 2
    n = store.node("na", 0)
    assert n["attempt"] == "2" and n["status"] == "running" and n["progress"] == "0"
    assert "task_id" not in n and "stop_sent" not in n and n["last_error"].startswith("service restarted")
    assert store.counters("na")["active"] == 1
    finish(store, "na", 0, token=tok)
    assert store.new_attempt("na", 0, tok, "late") == 0  # no longer live


def test_outputs_stored_once_and_inputs_derived(store):
    diamond(store, "io")
    finish(store, "io", 0, token=start(store, "io", 0))
    for i in (1, 2):
        finish(store, "io", i, token=start(store, "io", i))
    start(store, "io", 3)
    assert not any(store.r.hexists(store.node_key("io", i), "inputs") for i in range(4))
    nodes = store.nodes("io", 4)
    assert nodes[0]["inputs"] == '[{"protocol":"inline","uri":"x"}]'  # a root: the workflow's inputs
    assert nodes[3]["inputs"] == '[{"i":1},{"i":2}]'
    assert store.node("io", 3)["inputs"] == nodes[3]["inputs"]
    assert store.node("io", 0)["inputs"] == nodes[0]["inputs"]


def test_retention_by_bytes_drops_the_oldest_first(store):
    big = "x" * 100_000
    for k in range(6):
        wid = f"r{k}"
        store.create(wid, {}, 1, [[]], [[]], 1e12)
        c = store.claim(wid, 0, "w", 30)
        store.finish(wid, 0, "complete", {"output": f'"{big}"'}, retention=RET, fail_fast=True,
                     lease_ttl=30, token=c.token)
    sizes = [int(store.workflow(f"r{k}")["bytes"]) for k in range(6)]
    assert all(s > 100_000 for s in sizes)
    assert store.finished_bytes() == sum(sizes)
    assert store.prune(RET, max_finished=100, max_bytes=sum(sizes[3:])) == 3
    assert [store.workflow(f"r{k}") is None for k in range(6)] == [True] * 3 + [False] * 3
    assert store.finished_bytes() == sum(sizes[3:])
    assert store.delete("r3") and store.finished_bytes() == sum(sizes[4:])
    # a retried workflow leaves the finished history (and its bytes) until it ends again
    store.r.hset(store.node_key("r4", 0), "status", "failed")
    store.r.hset(store.wf_key("r4"), "status", "failed")
    assert store.retry("r4", 30)[0] == 1
    assert store.finished_bytes() == sizes[5]
    assert store.prune(RET, max_finished=100, max_bytes=sizes[5]) == 0


def test_finish_claims_the_first_ready_child_for_the_caller(store):
    diamond(store, "cl")
    res = finish(store, "cl", 0, token=start(store, "cl", 0), claim_as="w9")
    assert res.to_start == [1, 2] and res.claim is not None and res.claim.index == 1
    assert res.claim.token == 1 and res.claim.parent_outputs == [{"i": 0}]
    assert store.lease_owner("cl", 1) == "w9" and store.lease_owner("cl", 2) == "queued"
    assert store.claim("cl", 1, "w8", 30) is None  # held by w9 now
    assert finish(store, "cl", 1, token=res.claim.token, claim_as="w9").claim is None  # 3 not ready yet
