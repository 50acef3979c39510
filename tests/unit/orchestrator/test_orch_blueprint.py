"""Blueprint parsing and validation: both dialects, every rejection names its culprit."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from orchestrator.blueprint import BlueprintError, Graph, parse_blueprint, parse_dockerinfo

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "blueprints"  # real exported blueprints, verbatim
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def fixture(name: str) -> tuple[dict, dict | None]:
    d = FIXTURES / name
    bp = json.loads((d / "blueprint.json").read_text())
    di = json.loads((d / "dockerinfo.json").read_text()) if (d / "dockerinfo.json").exists() else None
    return bp, di


def chain(*names: str, op: str = "Run") -> dict:
    nodes = []
    for a, b in zip(names, list(names[1:]) + [None]):
        nodes.append({"container_name": a, "node_type": "MLModel", "operation_signature_list": [{
            "operation_signature": {"operation_name": op},
            "connected_to": [{"container_name": b, "operation_signature": {"operation_name": op}}] if b else []}]})
    return {"type": "pipeline-topology/v2", "nodes": nodes}


def info(*names: str, port: object = "8080") -> dict:
    return {"docker_info_list": [{"container_name": n, "ip_address": "localhost", "port": port} for n in names]}


def reject(bp, di, *words: str) -> BlueprintError:
    with pytest.raises(BlueprintError) as e:
        parse_blueprint(bp, di)
    for w in words:
        assert w in e.value.message, e.value.message
    return e.value


class TestRealBlueprints:
    @pytest.mark.parametrize("name", ["ai-effect-energy-file", "ai-effect-energy-protobuf"])
    def test_ai_effect_energy_chain(self, name):
        g = parse_blueprint(*fixture(name))
        order = ["input_provider1.GetConfiguration", "data_generator1.GenerateData",
                 "data_analyzer1.AnalyzeData", "report_generator1.GenerateReport"]
        for up, down in zip(order, order[1:]):
            assert g.by_name(up).index in g.by_name(down).parents
        assert [g.vertices[i].name for i in g.roots] == [order[0]]
        assert g.by_name(order[0]).endpoint.port == 8080

    def test_ai4eu_serial_with_input_ports_and_extra_dockerinfo(self):
        g = parse_blueprint(*fixture("ai4eu-serial"))
        assert [v.name for v in g.vertices] == ["csvdatabroker1.get_next_row", "houseprice1.predict_sale_price"]
        assert g.vertices[1].parents == [0]
        assert g.vertices[1].endpoint.port == 50081  # string port

    def test_sudoku_cycle_is_named(self):
        e = reject(*fixture("ai4eu-parallel-sudoku"), "cycle")
        assert len(e.extra["cycle"]) >= 3
        assert all("." in v for v in e.extra["cycle"])
        # integer ports and stream flags themselves are fine
        assert parse_dockerinfo(fixture("ai4eu-parallel-sudoku")[1])["sudoku-aspsolver1"].port == 8003

    def test_databroker_without_dockerinfo(self):
        bp, _ = fixture("acumos-databroker")
        e = reject(bp, None, "no dockerinfo entry", "CSVDataBroker", "CPM21")
        assert e.field == "dockerinfo"
        assert len(parse_blueprint(bp, None, require_endpoints=False).vertices) == 2

    def test_energy_example_is_the_unchanged_fixture(self):
        assert (EXAMPLES / "energy/blueprint.json").read_bytes() == \
            (FIXTURES / "ai-effect-energy-file/blueprint.json").read_bytes()


@pytest.mark.parametrize("example", ["diamond", "fanout20", "energy"])
def test_examples_parse(example):
    d = EXAMPLES / example
    g = parse_blueprint(json.loads((d / "blueprint.json").read_text()), json.loads((d / "dockerinfo.json").read_text()))
    assert g.vertices
    assert Graph.from_dict(json.loads(json.dumps(g.to_dict()))).to_dict() == g.to_dict()


def test_diamond_shape():
    d = EXAMPLES / "diamond"
    g = parse_blueprint(json.loads((d / "blueprint.json").read_text()), json.loads((d / "dockerinfo.json").read_text()))
    assert [v.parents for v in g.vertices] == [[], [0], [0], [1, 2]]


def test_vertex_cycle_lists_its_vertices():
    bp = chain("a", "b", "c")
    bp["nodes"][2]["operation_signature_list"][0]["connected_to"] = [
        {"container_name": "a", "operation_signature": {"operation_name": "Run"}}]
    e = reject(bp, info("a", "b", "c"), "cycle", "a.Run -> b.Run -> c.Run -> a.Run")
    assert e.extra["cycle"] == ["a.Run", "b.Run", "c.Run", "a.Run"]


def test_self_loop():
    bp = chain("a")
    bp["nodes"][0]["operation_signature_list"][0]["connected_to"] = [
        {"container_name": "a", "operation_signature": {"operation_name": "Run"}}]
    reject(bp, info("a"), "cycle", "a.Run -> a.Run")


def test_edge_to_unknown_container_and_operation():
    bp = chain("a", "b")
    bp["nodes"][0]["operation_signature_list"][0]["connected_to"][0]["container_name"] = "ghost"
    reject(bp, info("a", "b"), "a.Run", "unknown container", "ghost")
    bp = chain("a", "b")
    bp["nodes"][0]["operation_signature_list"][0]["connected_to"][0]["operation_signature"]["operation_name"] = "Nope"
    reject(bp, info("a", "b"), "unknown operation", "b.Nope")


def test_missing_dockerinfo_entry_names_the_node():
    e = reject(chain("a", "b"), info("a", "other"), "no dockerinfo entry", "b")
    assert e.extra["containers"] == ["b"]


@pytest.mark.parametrize("port", ["http", 0, 70000, None, "-1", True, 8.5])
def test_bad_port(port):
    e = reject(chain("a"), info("a", port=port), "bad port", "'a'")
    assert e.field.endswith(".port")


def test_ports_int_or_string_and_urls():
    eps = parse_dockerinfo({"docker_info_list": [
        {"container_name": "a", "ip_address": "h", "port": 1},
        {"container_name": "b", "ip_address": "h", "port": " 65535 "},
        {"container_name": "c", "ip_address": "https://svc.example", "port": "443"},
        {"container_name": "d", "ip_address": "http://svc:9000"}]})
    assert eps["a"].port == 1 and eps["b"].port == 65535
    assert eps["c"].base_url == "https://svc.example:443"
    assert eps["d"].base_url == "http://svc:9000"


def test_duplicate_container_names():
    bp = chain("a", "b")
    bp["nodes"].append(copy.deepcopy(bp["nodes"][1]))
    e = reject(bp, info("a", "b"), "duplicate container name", "'b'")
    assert e.field == "blueprint.nodes[2].container_name"


@pytest.mark.parametrize("bp", [{}, {"nodes": []}, {"nodes": None}, [], "x"])
def test_empty_or_malformed_graph(bp):
    with pytest.raises(BlueprintError):
        parse_blueprint(bp, info())


def test_missing_operation_name():
    bp = chain("a")
    del bp["nodes"][0]["operation_signature_list"][0]["operation_signature"]["operation_name"]
    reject(bp, info("a"), "operation_name", "'a'")


def test_unknown_fields_tolerated_and_acumos_extras():
    bp = chain("a", "b")
    bp.update(input_ports=[{"container_name": "a", "operation_signature": {"operation_name": "Run"}}],
              probeIndicator=[{"value": "false"}], training_clients=[], something_new={"x": 1})
    bp["nodes"][0]["data_broker_map"] = {"script": "x"}
    bp["nodes"][0]["operation_signature_list"][0]["operation_signature"]["input_message_stream"] = True
    g = parse_blueprint(bp, info("a", "b", "extra-entry"))
    assert [v.name for v in g.vertices] == ["a.Run", "b.Run"]


def test_input_port_to_unknown_operation():
    bp = chain("a")
    bp["input_ports"] = [{"container_name": "zz", "operation_signature": {"operation_name": "Run"}}]
    reject(bp, info("a"), "input port", "zz.Run")


@pytest.mark.parametrize("kind", ["Shared Folder", "SharedFolder", "shared_folder"])
def test_shared_folder_not_executed_and_bridged(kind):
    bp = chain("a", "folder", "b")
    bp["nodes"][1]["node_type"] = kind
    g = parse_blueprint(bp, info("a", "b"))  # the folder needs no dockerinfo entry
    assert [v.name for v in g.vertices] == ["a.Run", "b.Run"]
    assert g.vertices[1].parents == [0]
    assert g.skipped == ["folder"]


def test_fan_in_parents_in_blueprint_order():
    bp = {"nodes": [
        {"container_name": "z_last", "operation_signature_list": [{"operation_signature": {"operation_name": "R"},
                                                                    "connected_to": []}]},
        {"container_name": "b", "operation_signature_list": [{"operation_signature": {"operation_name": "R"},
                                                               "connected_to": [{"container_name": "z_last"}]}]},
        {"container_name": "a", "operation_signature_list": [{"operation_signature": {"operation_name": "R"},
                                                               "connected_to": [{"container_name": "z_last"}]}]},
    ]}
    g = parse_blueprint(bp, info("z_last", "a", "b"))
    assert g.vertices[0].parents == [1, 2]  # b then a, as in the blueprint
