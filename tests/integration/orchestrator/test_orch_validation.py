"""Bad input gets a clear 4xx naming the culprit, never a 500; nothing stored is lost."""

from __future__ import annotations

import pytest

from .conftest import EXAMPLES, FIXTURES, dockerinfo_for, load

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")
DI = dockerinfo_for(DIAMOND, 9)


def post(orch, body, expect):
    r = orch.http.post("/workflows", json=body)
    assert r.status_code == expect, r.text
    return r.json()


def test_orch_real_blueprints_over_the_api(orch, service):
    orch.start_worker()
    for name in ("ai-effect-energy-file", "ai-effect-energy-protobuf", "ai4eu-serial"):
        bp = load(FIXTURES / name / "blueprint.json")
        sub = post(orch, {"blueprint": bp, "dockerinfo": dockerinfo_for(bp, service.port)}, 201)
        # the template has no GetConfiguration method: the root fails cleanly, naming the node
        wf = orch.wait(sub["workflow_id"])
        assert wf["status"] == "failed"
        assert wf["failed_node"]["node"] in wf["error"] and "Unknown method" in wf["failed_node"]["error"]
        assert all(n["status"] in ("failed", "cancelled") for n in wf["nodes"])
    sudoku = load(FIXTURES / "ai4eu-parallel-sudoku" / "blueprint.json")
    d = post(orch, {"blueprint": sudoku, "dockerinfo": load(FIXTURES / "ai4eu-parallel-sudoku" / "dockerinfo.json")},
             422)["detail"]
    assert "cycle" in d["error"] and len(d["cycle"]) >= 3
    broker = load(FIXTURES / "acumos-databroker" / "blueprint.json")
    d = post(orch, {"blueprint": broker, "dockerinfo": {"docker_info_list": []}}, 422)["detail"]
    assert d["containers"] == ["CPM21", "CSVDataBroker"]


def test_orch_rejections_name_the_field(orch):
    keep = post(orch, {"blueprint": DIAMOND, "dockerinfo": DI, "workflow_id": "keep-me"}, 201)
    cyclic = load(EXAMPLES / "diamond" / "blueprint.json")
    cyclic["nodes"][3]["operation_signature_list"][0]["connected_to"] = [
        {"container_name": "source", "operation_signature": {"operation_name": "LongProcess"}}]
    cases = [
        ({"blueprint": cyclic, "dockerinfo": DI}, 422, "cycle"),
        ({"blueprint": {"nodes": []}, "dockerinfo": DI}, 422, "empty graph"),
        ({"blueprint": DIAMOND, "dockerinfo": {"docker_info_list": DI["docker_info_list"][:3]}}, 422, "sink"),
        ({"blueprint": DIAMOND, "dockerinfo": dockerinfo_for(DIAMOND, 99999)}, 422, "bad port"),
        ({"blueprint": DIAMOND, "dockerinfo": DI, "parameters": {"nosuch": {}}}, 422, "nosuch"),
        ({"blueprint": DIAMOND, "dockerinfo": DI, "workflow_id": "bad id/x"}, 422, "workflow_id"),
        ({"blueprint": DIAMOND, "dockerinfo": DI, "inputs": [{"uri": "x"}]}, 422, "protocol"),
        ({"blueprint": DIAMOND, "dockerinfo": DI, "options": {"node_timeout": -1}}, 422, "node_timeout"),
        ({"blueprint": DIAMOND, "dockerinfo": DI, "workflow_id": "keep-me"}, 409, "keep-me"),
        ({"dockerinfo": DI}, 422, "blueprint"),
    ]
    for body, code, word in cases:
        r = orch.http.post("/workflows", json=body)
        assert r.status_code == code, (body, r.text)
        assert word in r.text, r.text
    assert orch.http.post("/workflows", content=b"{not json", headers={"content-type": "application/json"}
                          ).status_code == 422
    assert orch.workflow(keep["workflow_id"])["status"] == "pending"  # nothing stored was lost
    assert orch.http.get("/workflows/nope").status_code == 404
    assert orch.http.get("/workflows/keep-me/tasks/nope").status_code == 404
    assert orch.http.post("/workflows/nope/cancel").status_code == 404
    assert orch.http.post("/workflows/keep-me/retry").status_code == 409
    assert orch.http.get("/workflows", params={"status": "bogus"}).status_code == 422
    assert orch.http.delete("/workflows/keep-me").json()["status"] == "deleted"
    assert orch.http.get("/workflows/keep-me").status_code == 404
