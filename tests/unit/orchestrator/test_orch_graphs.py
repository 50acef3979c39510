"""The API's parsed-graph cache: a submitted workflow's graph is kept, so its first reads parse nothing."""

from __future__ import annotations

import uuid

import orjson
import pytest

from orchestrator.blueprint import Graph, parse_blueprint
from orchestrator.graphs import GraphCache
from orchestrator.store import Store


@pytest.fixture
def store(redis_server):
    s = Store.from_url(redis_server.url, prefix=f"g{uuid.uuid4().hex[:8]}")
    yield s
    s.r.close()


def _graph(n: int) -> Graph:
    names = [f"c{i}" for i in range(n)]
    bp = {"nodes": [{"container_name": c, "operation_signature_list": [{
        "operation_signature": {"operation_name": "Op"},
        "connected_to": [{"container_name": names[i + 1]}] if i + 1 < n else []}]} for i, c in enumerate(names)]}
    return parse_blueprint(bp, {"docker_info_list": [{"container_name": c, "ip_address": "127.0.0.1", "port": 9}
                                                      for c in names]})


def _submit(store: Store, wid: str, graph: Graph, run: str) -> None:
    vs = graph.vertices
    assert store.create(wid, {"graph": graph.to_dict()}, len(vs), [v.parents for v in vs],
                        [v.children for v in vs], 1e12, run=run) == [0]


def test_a_put_graph_is_served_without_reading_the_spec(store):
    graph = _graph(3)
    _submit(store, "wf", graph, "r1")
    assert store.r.hget(store.wf_key("wf"), "run") == "r1"
    cache = GraphCache(store, size=2)
    cache.put("wf", "r1", graph)
    stored = orjson.loads(store.r.hget(store.wf_key("wf"), "spec"))["graph"]
    assert Graph.from_dict(stored).to_dict() == graph.to_dict()
    store.r.hdel(store.wf_key("wf"), "spec")
    wf, got = cache.load("wf")
    assert got is graph and wf["run"] == "r1"


def test_the_cache_stays_bounded_and_a_new_run_is_parsed_again(store):
    cache = GraphCache(store, size=2)
    for k in range(3):
        _submit(store, f"wf{k}", _graph(2), "r1")
        cache.put(f"wf{k}", "r1", _graph(2))
    assert len(cache._graphs) == 2 and ("wf0", "r1") not in cache._graphs
    assert cache.load("wf0")[1].to_dict() == _graph(2).to_dict()  # parsed from its spec
    store.delete("wf2")
    _submit(store, "wf2", _graph(3), "r2")
    assert len(cache.load("wf2")[1].vertices) == 3
