"""Issue 9's bad inputs: each a 4xx naming the field or header at fault, the API healthy afterwards."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from .conftest import EXAMPLES, Orchestrator, dockerinfo_for, load

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")
DI = dockerinfo_for(DIAMOND, 9)
LIMIT = 200_000  # ORCHESTRATOR_MAX_BODY_BYTES in this module


@pytest.fixture(scope="module")
def api(redis_server):
    o = Orchestrator(redis_server.url, env={"ORCHESTRATOR_API_KEY": "k", "ORCHESTRATOR_MAX_NODES": "50",
                                            "ORCHESTRATOR_MAX_BODY_BYTES": str(LIMIT)})
    o.http.headers["Authorization"] = "Bearer k"
    yield o
    o.close()


def _raw(api: Orchestrator, body: bytes, path: str = "/workflows"):
    return api.http.post(path, content=body, headers={"Content-Type": "application/json"})


def _with_host(host: str, port: object = 9) -> dict:
    di = json.loads(json.dumps(DI))
    di["docker_info_list"][1].update(ip_address=host, port=port)
    return {"blueprint": DIAMOND, "dockerinfo": di}


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


BODY = json.dumps({"blueprint": DIAMOND, "dockerinfo": DI}).encode()


@pytest.mark.parametrize("raw, culprit", [
    (BODY[:-1] + b', "options": {"node_timeout": NaN}}', "options.node_timeout"),
    (BODY[:-1] + b', "options": {"node_timeout": Infinity}}', "options.node_timeout"),
    (BODY[:-1] + b', "options": {"node_timeout": -1e999}}', "options.node_timeout"),
    (b'\xff\xfe{"blueprint": {}}', "json"),
    (b"[" * 100_000 + b"]" * 100_000, "json"),
])
def test_orch_strict_json_bodies_are_422(api, raw, culprit):
    r = _raw(api, raw)
    assert r.status_code == 422, r.text
    assert culprit in r.text.lower()
    assert api.http.get("/health").status_code == 200


@pytest.mark.parametrize("body, expect, culprit", [
    (_with_host("127.0.0.1", "²"), 422, "docker_info_list[1].port"),
    (_with_host("127.0.0.1", "99999999999999999999999"), 422, "docker_info_list[1].port"),
    (_with_host("http://127.0.0.1:9/some/path"), 422, "docker_info_list[1].ip_address"),
    (_with_host("file:///etc/passwd"), 422, "docker_info_list[1].ip_address"),
    (_with_host("a b"), 422, "docker_info_list[1].ip_address"),
    (_with_host("host\r\nX-Injected: 1"), 422, "docker_info_list[1].ip_address"),
    (_with_host("snow-\u2603"), 422, "docker_info_list[1].ip_address"),
    ({"blueprint": {"nodes": [{"container_name": "a/b", "operation_signature_list": [
        {"operation_signature": {"operation_name": "Op"}}]}]},
      "dockerinfo": {"docker_info_list": [{"container_name": "a/b", "ip_address": "127.0.0.1", "port": 9}]}},
     422, "container_name"),
    ({"blueprint": {"nodes": [{"container_name": "a", "operation_signature_list": [
        {"operation_signature": {"operation_name": "Op/../x"}}]}]},
      "dockerinfo": {"docker_info_list": [{"container_name": "a", "ip_address": "127.0.0.1", "port": 9}]}},
     422, "operation_name"),
    ({"blueprint": DIAMOND, "dockerinfo": DI, "workflow_id": "snow-\u2603"}, 422, "workflow_id"),
    ({"blueprint": DIAMOND, "dockerinfo": DI, "workflow_id": "x\r\ny"}, 422, "workflow_id"),
    ({"blueprint": DIAMOND, "dockerinfo": DI, "workflow_id": ".."}, 422, "workflow_id"),
])
def test_orch_bad_submissions_name_the_culprit(api, body, expect, culprit):
    r = api.http.post("/workflows", json=body)
    assert r.status_code == expect, r.text
    assert culprit in r.text
    assert api.http.get("/health").status_code == 200


def test_orch_too_many_nodes_is_422(api):
    names = [f"n{i}" for i in range(60)]
    bp = {"nodes": [{"container_name": n, "operation_signature_list": [
        {"operation_signature": {"operation_name": "Op"}}]} for n in names]}
    r = api.http.post("/workflows", json={"blueprint": bp, "dockerinfo": dockerinfo_for(bp, 9)})
    assert r.status_code == 422 and "ORCHESTRATOR_MAX_NODES" in r.text, r.text


@pytest.mark.parametrize("path, culprit", [
    ("/workflows?offset=10000000000000000000", "offset"),
    ("/workflows?limit=0", "limit"),
    ("/workflows/snow-%E2%98%83", "workflow_id"),
    ("/workflows/a%0D%0Ab", "workflow_id"),
    ("/workflows/ok-id/tasks?offset=-1", "offset"),
    ("/workflows/ok-id/tasks/a%20b", "task_id"),
])
def test_orch_bad_queries_and_ids_are_422(api, path, culprit):
    r = api.http.get(path)
    assert r.status_code == 422, r.text
    assert culprit in r.text


@pytest.mark.parametrize("header", [b"Bearer snow-\xe2\x98\x83", b"Bearer \xff\xfe", b"Bearer kk",
                                    b"Basic k", b"Bearer"])
def test_orch_odd_bearer_tokens_are_401(api, header):
    r = api.http.get("/workflows", headers={"Authorization": header})
    assert r.status_code == 401 and "Authorization" in r.text, r.text
    assert api.http.get("/health").status_code == 200


def test_orch_big_bodies_are_413_before_being_read(api):
    pid = api.api.pid
    before = _rss_kb(pid)
    # a declared Content-Length over the limit: answered at once, the body is never read
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as s:
        s.sendall(b"POST /workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n" + b"[" * 1000)
        answer = b""
        while chunk := s.recv(65536):  # the server closes after its answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"ORCHESTRATOR_MAX_BODY_BYTES" in answer

    # a streamed (chunked) body is counted as it arrives and refused once past the limit
    def chunks():
        for _ in range(200):
            yield b" " * 100_000
    r = api.http.post("/workflows", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    # under the limit is parsed as usual
    assert _raw(api, b" " * (LIMIT - 10) + b"{}").status_code == 422
    assert api.http.get("/health").status_code == 200
    assert _rss_kb(pid) - before < 20_000, "a refused body must not be held in memory"


def test_orch_docs_are_served_offline(api):
    for path in ("/docs", "/redoc"):
        page = api.http.get(path)
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and not [a for a in assets if "://" in a or a.startswith("//")], assets
        for asset in assets:
            if asset.endswith((".js", ".css")):
                assert api.http.get(asset).status_code == 200, asset
    assert api.http.get("/openapi.json").status_code == 200
