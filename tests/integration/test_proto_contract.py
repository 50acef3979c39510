"""service.proto and the JSON the service really sends cannot drift apart.

The proto is compiled with grpc_tools' protoc, every kind of answer of a real
service process is parsed into its message with json_format (unknown fields
are errors), and every field of the Pydantic wire models must exist in the
matching message.
"""

from __future__ import annotations

import importlib
import json
import sys
from importlib import resources
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format

from taskservice import models
from tests.support import ROOT, ServiceProcess, free_port, wait_until


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("proto")
    include = resources.files("grpc_tools") / "_proto"
    code = protoc.main(["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out}", str(ROOT / "service.proto")])
    assert code == 0, "protoc failed on service.proto"
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("service_pb2")
    finally:
        sys.path.remove(str(out))
        sys.modules.pop("service_pb2", None)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    proc = ServiceProcess(ROOT / "templates" / "concurrent",
                          env={"SERVICE_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    yield proc
    proc.stop()


def parse(pb, message: str, body: dict) -> None:
    json_format.Parse(json.dumps(body), getattr(pb, message)(), ignore_unknown_fields=False)


def test_every_answer_parses_into_its_message(pb, service):
    with httpx.Client(base_url=service.url, timeout=10) as http:
        request = {"method": "LongProcess", "task_id": "proto-1", "workflow_id": "wf",
                   "inputs": [{"protocol": "inline", "uri": "inline://x", "format": "json", "data": {"a": [1, 2]}}],
                   "parameters": {"duration": 0.2, "steps": 2},
                   "callback": {"url": f"http://127.0.0.1:{free_port()}/hook", "method": "POST",
                                "headers": {"x": "y"}}}  # not the service itself: callbacks may not reach it
        parse(pb, "ExecuteRequest", request)
        started = http.post("/control/execute", json=request)
        assert started.status_code == 202
        parse(pb, "ExecuteResponse", started.json())
        parse(pb, "TaskRecord", http.get("/control/status/proto-1").json())
        done = http.get("/control/status/proto-1", params={"wait": 5}).json()
        wait_until(lambda: http.get("/control/status/proto-1").json()["status"] == "complete", what="complete")
        parse(pb, "TaskRecord", done)
        parse(pb, "OutputResponse", http.get("/control/output/proto-1").json())

        quick = http.post("/control/execute", json={"method": "QuickTask", "parameters": {"x": 1}})
        parse(pb, "ExecuteResponse", quick.json())

        long = http.post("/control/execute", json={"method": "LongProcess", "parameters": {"duration": 30}}).json()
        parse(pb, "TaskRecord", http.post(f"/control/stop/{long['task_id']}").json())
        parse(pb, "TaskList", http.get("/control/tasks", params={"limit": 5}).json())
        parse(pb, "MethodList", http.get("/control/methods").json())
        parse(pb, "HealthStatus", http.get("/health").json())
        # /health refuses POST, so the delivery ends 'failed': either way its record must parse
        wait_until(lambda: http.get("/control/status/proto-1").json().get("callback_info", {}).get("status")
                   in ("delivered", "failed"), what="callback outcome")
        parse(pb, "TaskRecord", http.get("/control/status/proto-1").json())
        for bad in (http.post("/control/execute", json={"method": "Nope"}),
                    http.post("/control/execute", json={"method": "LongProcess", "parameters": {"steps": 0}}),
                    http.get("/control/output/unknown"),
                    http.post("/control/stop/proto-1")):
            assert bad.status_code >= 400
            parse(pb, "ErrorResponse", bad.json())


@pytest.mark.parametrize("model, message", [
    (models.DataReference, "DataReference"), (models.Callback, "Callback"),
    (models.ExecuteRequest, "ExecuteRequest"), (models.ExecuteResponse, "ExecuteResponse"),
    (models.TaskRecord, "TaskRecord"), (models.OutputResponse, "OutputResponse"),
])
def test_pydantic_models_match_messages(pb, model, message):
    fields = set(getattr(pb, message).DESCRIPTOR.fields_by_name)
    assert set(model.model_fields) <= fields, f"{model.__name__} has fields missing from {message}"


def test_status_enum_matches(pb):
    names = set(pb.TaskStatus.keys())
    assert names == {s.value for s in models.TaskStatus}
