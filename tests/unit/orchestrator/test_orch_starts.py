"""Node starts: few starts on the shared queue share one RQ job (`start_ready`), claimed in one script
call; a wide fan-out goes through RQ in chunks of at least CHUNK_MIN nodes; a small submission is
stored on the API's event loop only while Redis cannot block it. Against the session's real redis-server."""

from __future__ import annotations

import uuid

import pytest
import redis
from rq import Queue

from orchestrator import fastjson, jobs, submission
from orchestrator.connections import ReplicaAck
from orchestrator.jobs import Jobs
from orchestrator.schemas import SubmitRequest
from orchestrator.settings import Settings
from orchestrator.store import Store
from orchestrator.workers import WorkerRegistry


@pytest.fixture
def parts(redis_server):
    prefix = f"u{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=redis_server.url, prefix=prefix, queue=prefix)
    store = Store.from_url(redis_server.url, prefix=prefix)
    rq = redis.Redis.from_url(redis_server.url)
    yield store, Jobs(store, rq, settings), Queue(prefix, connection=rq)
    store.r.close()
    rq.close()


def chain(store: Store, wid: str, n: int = 3) -> list[int]:
    parents = [[i - 1] if i else [] for i in range(n)]
    children = [[i + 1] if i < n - 1 else [] for i in range(n)]
    return store.create(wid, {"graph": {}}, n, parents, children, lease_until=1e12)


def test_a_wide_fan_out_goes_through_rq_in_chunks(parts):
    _, js, q = parts
    js.enqueue("f", list(range(100)))
    assert q.count == 7  # at least CHUNK_MIN (16) nodes each


def test_roots_of_many_workflows_share_one_job_and_one_claim(parts):
    store, js, q = parts
    wids = [f"w{k}" for k in range(5)]
    for w in wids:
        js.enqueue(w, chain(store, w))
    assert q.count == 1  # one start_ready job for the five workflows
    groups = js.take_ready(js.settings.queue)
    assert groups == [(w, [0]) for w in wids]
    claims = store.claim_batch(groups, "me", 30)
    assert [(c.workflow_id, c.index) for c in claims] == [(w, 0) for w in wids]
    assert all(store.lease_owner(w, 0) == "me" for w in wids)
    assert store.claim_batch(groups, "other", 30) == [None] * 5  # claimed once
    js.enqueue("w0", [1])  # the job was taken: a new entry gets a new job
    assert q.count == 2


def test_a_burst_beyond_one_jobs_share_gets_another_job(parts):
    store, js, q = parts
    for k in range(jobs.READY_MAX + 3):
        js.enqueue(f"b{k}", chain(store, f"b{k}", 1))
    assert q.count == 1
    assert len(js.take_ready(js.settings.queue)) == jobs.READY_MAX
    assert q.count == 2  # the other 3 get a job of their own (another worker may take it)
    assert len(js.take_ready(js.settings.queue)) == 3
    assert js.take_ready(js.settings.queue) == []


def test_a_burst_is_shared_by_the_registered_workers(parts):
    store, js, q = parts
    registry = WorkerRegistry(store.r, js.settings.prefix, 10)
    for w in ("w1", "w2", "w3"):
        registry.register(w, [js.settings.queue])
    for k in range(7):
        js.enqueue(f"s{k}", chain(store, f"s{k}", 1))
    # each job takes its share (waiting / workers, rounded up) and leaves a job for the rest
    assert [len(js.take_ready(js.settings.queue)) for _ in range(4)] == [3, 2, 1, 1]
    assert q.count == 4


def test_a_wide_fan_out_goes_through_rq_in_chunks(parts):
    store, js, q = parts
    js.enqueue("f", list(range(100)))
    assert store.r.llen(js.ready_key(js.settings.queue)) == 0
    assert q.count == 7  # at least CHUNK_MIN (16) nodes each


def test_fastjson_takes_what_the_standard_library_takes():
    assert fastjson.loads(b'{"a": [1, 2.5, "\\u00e9"]}') == {"a": [1, 2.5, "é"]}
    assert fastjson.loads("[NaN]")[0] != fastjson.loads("[NaN]")[0]
    assert fastjson.loads(str(2 ** 70)) == 2 ** 70
    assert fastjson.dumps({"x": 2 ** 70, "y": [1]}) == '{"x":1180591620717411303424,"y":[1]}'
    assert fastjson.dumps({1: "a"}) == '{"1":"a"}'
    with pytest.raises(ValueError):
        fastjson.loads(b"not json")


def _body(nodes: int) -> SubmitRequest:
    return SubmitRequest(blueprint={"nodes": [{"container_name": f"n{k}"} for k in range(nodes)]})


def test_small_submissions_stay_on_the_event_loop_only_while_redis_cannot_block(redis_server, monkeypatch):
    r = redis.Redis.from_url(redis_server.url)
    ack = ReplicaAck(timeout=1.0)
    assert not submission.inline_submission(_body(3), ack)  # replicas not looked for yet
    ack.replicas(r)
    assert submission.inline_submission(_body(3), ack)
    assert not submission.inline_submission(_body(submission.INLINE_NODES + 1), ack)  # parsed on a thread
    monkeypatch.setattr(submission, "_trouble_until", 0.0)
    submission.redis_trouble()  # a Redis error: threads for a while
    assert not submission.inline_submission(_body(3), ack)
    monkeypatch.setattr(submission, "_trouble_until", 0.0)
    ack._replicas = 1  # a replica to WAIT for
    assert not submission.inline_submission(_body(3), ack)
    assert submission.inline_submission(_body(3), ReplicaAck(timeout=0))  # acks off: nothing to wait for
    r.close()
