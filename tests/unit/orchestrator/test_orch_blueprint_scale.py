"""Blueprint parsing at 10,000 vertices: wide fans and long chains parse right; cycles are still named."""

from __future__ import annotations

import pytest

from orchestrator.blueprint import BlueprintError, parse_blueprint


def _node(name: str, targets: list[str]) -> dict:
    return {"container_name": name, "operation_signature_list": [
        {"operation_signature": {"operation_name": "Op"},
         "connected_to": [{"container_name": t, "operation_signature": {"operation_name": "Op"}} for t in targets]}]}


def _di(bp: dict) -> dict:
    return {"docker_info_list": [{"container_name": n["container_name"], "ip_address": "127.0.0.1", "port": 9}
                                 for n in bp["nodes"]]}


def test_orch_wide_fan_of_10000():
    mids = [f"m{i}" for i in range(9998)]
    bp = {"nodes": [_node("src", mids), *(_node(m, ["sink"]) for m in mids), _node("sink", [])]}
    g = parse_blueprint(bp, _di(bp), max_nodes=10_000)
    assert len(g.vertices) == 10_000 and g.roots == [0]
    assert g.vertices[-1].parents == list(range(1, 9999)) and g.vertices[0].children == list(range(1, 9999))
    with pytest.raises(BlueprintError, match="ORCHESTRATOR_MAX_NODES"):
        parse_blueprint(bp, _di(bp), max_nodes=9_999)


def test_orch_long_chain_and_its_cycle_named():
    names = [f"c{i}" for i in range(10_000)]
    bp = {"nodes": [_node(n, [names[i + 1]] if i + 1 < len(names) else []) for i, n in enumerate(names)]}
    g = parse_blueprint(bp, _di(bp))
    assert [v.parents for v in g.vertices[1:4]] == [[0], [1], [2]]
    bp["nodes"][-1] = _node(names[-1], [names[5000]])
    with pytest.raises(BlueprintError) as err:
        parse_blueprint(bp, _di(bp))
    cycle = err.value.to_dict()["cycle"]
    assert cycle[0] == cycle[-1] == "c5000.Op" and len(cycle) == 5001


def test_orch_duplicate_edges_and_shared_folders_bridged_once():
    folder = {"container_name": "shared", "node_type": "Shared Folder", "operation_signature_list": []}
    bp = {"nodes": [_node("a", ["b", "b", "shared"]), _node("b", []), folder]}
    bp["nodes"][2]["operation_signature_list"] = []
    g = parse_blueprint(bp, {"docker_info_list": [{"container_name": c, "ip_address": "127.0.0.1", "port": 9}
                                                  for c in ("a", "b")]})
    assert [v.name for v in g.vertices] == ["a.Op", "b.Op"] and g.vertices[1].parents == [0]
