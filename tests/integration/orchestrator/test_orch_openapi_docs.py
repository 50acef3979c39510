"""The orchestrator's OpenAPI teaches its use: read from the real API process (uvicorn, real Redis).

Every route is described, every 2xx answer has a real schema, errors are documented, the
submit example is a runnable blueprint with its dockerinfo, and the blueprint format and the
options are explained. Real answers are checked against the documented models.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.blueprint import parse_blueprint
from orchestrator.schemas import SubmitRequest, TaskPage, TaskView, WorkflowList, WorkflowStatus

from .conftest import Orchestrator

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def orch(redis_server):
    o = Orchestrator(redis_server.url)
    yield o
    o.close()


@pytest.fixture(scope="module")
def doc(orch) -> dict[str, Any]:
    r = orch.http.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations(doc: dict[str, Any]):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_route_has_a_summary_and_a_description(doc):
    ops = list(_operations(doc))
    assert len(ops) >= 10
    undescribed = [f"{m.upper()} {p}" for p, m, op in ops
                   if len(op.get("description", "")) < 40 or not op.get("summary")]
    assert not undescribed, undescribed


def test_every_2xx_answer_has_a_schema_that_says_something(doc):
    for path, method, op in _operations(doc):
        ok = {code: resp for code, resp in op["responses"].items() if code.startswith("2")}
        assert ok, f"{method} {path}: no 2xx documented"
        for code, resp in ok.items():
            content = resp.get("content") or {}
            assert content, f"{method} {path} {code}: no content"
            for media, body in content.items():
                schema = _resolve(doc, body.get("schema") or {})
                if media == "application/json":
                    assert schema.get("properties"), f"{method} {path} {code}: an object with no fields"
                else:  # a text format (event stream, metrics) is described in words
                    assert resp.get("description"), f"{method} {path} {code} {media}: undescribed"


def test_errors_are_documented_with_their_meaning(doc):
    for path, method, op in _operations(doc):
        if not path.startswith("/workflows"):
            continue
        codes = set(op["responses"])
        assert {"401", "422", "503"} <= codes, f"{method} {path}: {sorted(codes)}"
        if "{workflow_id}" in path:
            assert "404" in codes, f"{method} {path}"
        for code in codes - {"200", "201"}:
            assert op["responses"][code]["description"] not in ("", "Successful Response")
    submit = doc["paths"]["/workflows"]["post"]["responses"]
    assert {"409", "413"} <= set(submit)
    err = _resolve(doc, submit["422"]["content"]["application/json"]["schema"])
    assert "detail" in err["properties"]


def test_the_submit_example_is_a_real_blueprint_with_its_dockerinfo_and_runs(doc, orch):
    body = doc["paths"]["/workflows"]["post"]["requestBody"]["content"]["application/json"]
    example = _resolve(doc, body["schema"]).get("example") or body.get("example")
    assert example, "no submit example"
    req = SubmitRequest.model_validate(example)
    graph = parse_blueprint(req.blueprint, req.dockerinfo)
    assert len(graph.vertices) == 4 and all(v.endpoint for v in graph.vertices)
    assert req.blueprint["type"] == "pipeline-topology/v2" and req.dockerinfo["docker_info_list"]
    answer = orch.submit(example["blueprint"], example["dockerinfo"], inputs=example["inputs"],
                         parameters=example["parameters"], options=example["options"])
    assert answer["status"] == "pending"


def test_status_and_task_examples_match_their_models(doc):
    schemas = doc["components"]["schemas"]
    WorkflowStatus.model_validate(schemas["WorkflowStatus"]["example"])
    TaskView.model_validate(schemas["TaskView"]["example"])


def test_the_blueprint_format_and_the_options_are_explained(doc):
    text = doc["info"]["description"]
    for word in ("pipeline-topology/v2", "Acumos", "container_name", "operation_signature_list", "connected_to",
                 "docker_info_list", "ip_address", "inputs", "parameters", "container.operation",
                 "node_timeout", "node_timeouts", "max_attempts", "node_max_attempts", "fail_fast",
                 "ORCHESTRATOR_ALLOWED_SERVICES", "Shared Folder"):
        assert word in text, word
    schemas = doc["components"]["schemas"]
    for model in ("SubmitRequest", "WorkflowOptions"):
        props = schemas[model]["properties"]
        undescribed = [k for k, v in props.items() if k != "options" and not v.get("description")]
        assert not undescribed, (model, undescribed)
    assert "Acumos" in schemas["SubmitRequest"]["properties"]["blueprint"]["description"]
    assert "docker_info_list" in schemas["SubmitRequest"]["properties"]["dockerinfo"]["description"]


def test_real_answers_match_the_documented_models(orch):
    example = SubmitRequest.model_json_schema()["example"]
    wid = orch.submit(example["blueprint"], example["dockerinfo"], parameters=example["parameters"])["workflow_id"]
    WorkflowStatus.model_validate(orch.http.get(f"/workflows/{wid}").json())
    brief = orch.http.get(f"/workflows/{wid}", params={"nodes": "false"}).json()
    assert "nodes" not in brief
    WorkflowStatus.model_validate(brief)
    page = TaskPage.model_validate(orch.http.get(f"/workflows/{wid}/tasks").json())
    assert len(page.tasks) == 4
    TaskView.model_validate(orch.http.get(f"/workflows/{wid}/tasks/sink.LongProcess").json())
    listed = WorkflowList.model_validate(orch.http.get("/workflows").json())
    assert wid in [w.workflow_id for w in listed.workflows]
    assert orch.http.post(f"/workflows/{wid}/cancel").json() == {"workflow_id": wid, "status": "cancelled"}
