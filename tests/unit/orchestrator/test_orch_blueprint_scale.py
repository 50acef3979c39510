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


def _fan(n: int) -> dict:
    mids = [f"m{i}" for i in range(n - 2)]
    return {"nodes": [_node("src", mids), *(_node(m, ["sink"]) for m in mids), _node("sink", [])]}


def test_orch_cycle_in_a_10000_node_fan_is_named():
    bp = _fan(10_000)
    bp["nodes"][-1] = _node("sink", ["src"])
    with pytest.raises(BlueprintError) as err:
        parse_blueprint(bp, _di(bp), max_nodes=10_000)
    assert err.value.field == "blueprint.nodes"
    assert err.value.to_dict()["cycle"] == ["src.Op", "m0.Op", "sink.Op", "src.Op"]
    assert "cycle: src.Op -> m0.Op -> sink.Op -> src.Op" in err.value.message


def test_orch_duplicate_names_in_a_10000_node_fan_name_the_second():
    bp = _fan(10_000)
    bp["nodes"][7000]["container_name"] = "m12"
    with pytest.raises(BlueprintError) as err:
        parse_blueprint(bp, _di(bp), max_nodes=10_000)
    assert err.value.field == "blueprint.nodes[7000].container_name" and "'m12'" in err.value.message
    bp = _fan(10)
    sig = bp["nodes"][3]["operation_signature_list"]
    sig.append(dict(sig[0]))
    with pytest.raises(BlueprintError, match="duplicate operation 'Op' in container 'm2'") as err:
        parse_blueprint(bp, _di(bp))
    assert err.value.field == "blueprint.nodes[3].operation_signature_list[1]"


def test_orch_container_cycle_among_10000_operations_is_named():
    """Two operations per container: no vertex cycle, but a loop between two containers."""
    names = [f"c{i}" for i in range(5_000)]
    nodes = []
    for i, n in enumerate(names):
        nxt = names[i + 1] if i + 1 < len(names) else None
        nodes.append({"container_name": n, "operation_signature_list": [
            {"operation_signature": {"operation_name": "A"},
             "connected_to": [{"container_name": nxt, "operation_signature": {"operation_name": "A"}}] if nxt else []},
            {"operation_signature": {"operation_name": "B"}, "connected_to": []}]})
    bp = {"nodes": nodes}
    assert len(parse_blueprint(bp, _di(bp), max_nodes=10_000).vertices) == 10_000
    nodes[4000]["operation_signature_list"][1]["connected_to"] = [
        {"container_name": "c3999", "operation_signature": {"operation_name": "B"}}]
    with pytest.raises(BlueprintError) as err:
        parse_blueprint(bp, _di(bp), max_nodes=10_000)
    assert err.value.extra["containers"] == ["c3999", "c4000", "c3999"]
    assert err.value.extra["cycle"] == ["c3999.A", "c4000.A", "c4000.B", "c3999.B"]


def test_orch_bad_dockerinfo_entry_among_10000_is_named_despite_shared_hosts():
    """Entries that share a host are parsed once; a later bad one still gets its own error."""
    bp = _fan(10_000)
    di = _di(bp)
    di["docker_info_list"][9000]["port"] = True  # equal to 1 in Python, but not a port
    di["docker_info_list"][1]["port"] = 1
    with pytest.raises(BlueprintError, match="bad port 'True' for container 'm8999'") as err:
        parse_blueprint(bp, di, max_nodes=10_000)
    assert err.value.field == "dockerinfo.docker_info_list[9000].port"
    di = _di(bp)
    di["docker_info_list"].append({"container_name": "m5", "ip_address": "127.0.0.1", "port": 10})
    with pytest.raises(BlueprintError, match="duplicate dockerinfo entries for container 'm5'") as err:
        parse_blueprint(bp, di, max_nodes=10_000)
    assert err.value.field == "dockerinfo.docker_info_list[10000]"


def test_orch_refused_host_among_10000_is_named():
    from taskservice.netpolicy import HostPolicy

    bp = _fan(10_000)
    di = _di(bp)
    di["docker_info_list"][9999]["ip_address"] = "8.8.8.8"
    with pytest.raises(BlueprintError, match="container 'sink'") as err:
        parse_blueprint(bp, di, max_nodes=10_000, policy=HostPolicy.parse("127.0.0.1"))
    assert err.value.field == "dockerinfo.docker_info_list[9999]"
