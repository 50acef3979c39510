"""Node starts: a wide fan-out through RQ in chunks of at least CHUNK_MIN nodes, claims of several
workflows' nodes in one script call; and the per-node JSON codec. Against the session's real redis-server."""

from __future__ import annotations

import uuid

import pytest
import redis
from rq import Queue

from orchestrator import fastjson
from orchestrator.jobs import Jobs
from orchestrator.settings import Settings
from orchestrator.store import Store


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


def test_nodes_of_several_workflows_claimed_once_in_one_call(parts):
    store, _, _ = parts
    wids = [f"w{k}" for k in range(5)]
    for w in wids:
        assert chain(store, w) == [0]
    groups = [(w, [0]) for w in wids]
    claims = store.claim_batch(groups, "me", 30)
    assert [(c.workflow_id, c.index) for c in claims] == [(w, 0) for w in wids]
    assert all(store.lease_owner(w, 0) == "me" for w in wids)
    assert store.claim_batch(groups, "other", 30) == [None] * 5


def test_fastjson_takes_what_the_standard_library_takes():
    assert fastjson.loads(b'{"a": [1, 2.5, "\\u00e9"]}') == {"a": [1, 2.5, "é"]}
    assert fastjson.loads("[NaN]")[0] != fastjson.loads("[NaN]")[0]
    assert fastjson.loads(str(2 ** 70)) == 2 ** 70
    assert fastjson.dumps({"x": 2 ** 70, "y": [1]}) == '{"x":1180591620717411303424,"y":[1]}'
    assert fastjson.dumps({1: "a"}) == '{"1":"a"}'
    with pytest.raises(ValueError):
        fastjson.loads(b"not json")
