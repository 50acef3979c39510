"""Bad input to a real template service is a 4xx naming the culprit, never a 5xx (issue 9):
bodies that are not UTF-8, JSON nested too deep, NaN/Infinity, task ids outside their character
set, bodies above SERVICE_MAX_BODY_BYTES (413 before they are read: RSS does not grow), and an
OpenAPI document and offline docs that work."""

from __future__ import annotations

import socket
import uuid

import httpx
import psutil
import pytest

from tests.support import ROOT, ServiceProcess

TEMPLATE = ROOT / "templates" / "concurrent"
LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    data = tmp_path_factory.mktemp("bad-input-data")
    proc = ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(data), "SERVICE_MAX_BODY_BYTES": str(LIMIT)},
                          name="bad-input")
    proc.http = httpx.Client(base_url=proc.url, timeout=30)
    yield proc
    proc.http.close()
    proc.stop()


def healthy(svc) -> None:
    assert svc.alive()
    assert svc.http.get("/health").json()["status"] == "ok"


def locs(r: httpx.Response) -> list[list]:
    return [e["loc"] for e in r.json()["detail"]]


@pytest.mark.parametrize("path", ["/control/execute", "/control/tasks/query"])
def test_body_not_utf8_is_422(svc, path):
    r = svc.http.post(path, content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "UTF-8" in r.json()["detail"][0]["msg"]
    r = svc.http.post(path, content=b'{"method": "\xff"}', headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    healthy(svc)


@pytest.mark.parametrize("path", ["/control/execute", "/control/tasks/query"])
@pytest.mark.parametrize("depth", [65, 2000, 100_000])
def test_json_nested_too_deep_is_422(svc, path, depth):
    body = b'{"parameters":' + b"[" * depth + b"]" * depth + b', "method": "QuickTask"}'
    r = svc.http.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "64 levels" in r.json()["detail"][0]["msg"]
    healthy(svc)


def test_json_nested_within_the_limit_is_accepted(svc):
    nested = b"[" * 60 + b"1" + b"]" * 60
    r = svc.http.post("/control/execute", content=b'{"method":"QuickTask","parameters":{"x":' + nested + b"}}",
                      headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_are_422(svc, number):
    body = b'{"method":"LongProcess","parameters":{"duration":' + number + b"}}"
    r = svc.http.post("/control/execute", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "finite" in r.json()["detail"][0]["msg"]
    healthy(svc)


@pytest.mark.parametrize("bad", ["snow-☃", "a\r\nb", "a\nb", "a\x00b", "..", ".", "a/b", "a b", "x" * 201, ""])
def test_task_ids_outside_the_charset_are_422_and_start_nothing(svc, bad):
    r = svc.http.post("/control/execute", json={"method": "QuickTask", "task_id": bad})
    assert r.status_code == 422, r.text
    assert ["body", "task_id"] in locs(r)
    tasks = svc.http.get("/control/tasks", params={"limit": 1000}).json()["tasks"]
    assert bad not in {t["task_id"] for t in tasks}
    healthy(svc)


def test_ids_in_urls_are_checked_and_percent_encoded(svc):
    tid = f"wf-1.node:{uuid.uuid4().hex[:8]}"
    r = svc.http.post("/control/execute", json={"method": "LongProcess", "task_id": tid,
                                                "parameters": {"duration": 0.05, "steps": 1}})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == "/control/status/" + tid.replace(":", "%3A")
    assert svc.http.get(r.headers["location"]).json()["task_id"] == tid
    for path in ("/control/status/%E2%98%83", "/control/output/a%0Db", "/control/status/..%2F..",
                 "/control/status/%2E%2E"):
        r = svc.http.get(path)
        assert r.status_code in (404, 422), (path, r.status_code)  # %2E%2E may be normalised to a path
        if r.status_code == 422:
            assert r.json()["detail"][0]["loc"] == ["path", "task_id"]
    r = svc.http.get("/control/status", params={"task_id": "a\x00b"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "task_id"]
    r = svc.http.post("/control/stop", params={"task_id": "☃"})
    assert r.status_code == 422
    healthy(svc)


def test_workflow_id_and_callback_are_checked(svc):
    r = svc.http.post("/control/execute", json={"method": "QuickTask", "workflow_id": "w\r\nX-Evil: 1"})
    assert r.status_code == 422 and ["body", "workflow_id"] in locs(r)
    for callback, loc in (({"url": "file:///etc/passwd"}, "url"), ({"url": "http://a b/"}, "url"),
                          ({"url": "http://127.0.0.1/", "method": "DELETE"}, "method"),
                          ({"url": "http://127.0.0.1/", "headers": {"X": "a\r\nb"}}, "headers")):
        r = svc.http.post("/control/execute", json={"method": "QuickTask", "callback": callback})
        assert r.status_code == 422, (callback, r.text)
        assert any(loc in map(str, e) for e in locs(r)), (callback, r.text)
    r = svc.http.post("/control/execute", json={"method": "QuickTask",
                                                "callback": {"url": "http://169.254.169.254/latest/"}})
    assert r.status_code == 422 and ["body", "callback", "url"] in locs(r)
    assert "link-local" in r.json()["detail"][0]["msg"]


def test_not_an_object_and_unknown_fields_of_filters(svc):
    for body in (b"[]", b"1", b'"x"', b"null"):
        assert svc.http.post("/control/execute", content=body).status_code == 422
        assert svc.http.post("/control/tasks/query", content=body).status_code == 422
    assert svc.http.post("/control/tasks/query", json={"nope": 1}).status_code == 400


@pytest.mark.parametrize("body", ['{"status": {"in": {"a": 1}}}', '{"method": {"in": [[1], {"a": 2}]}}',
                                  '{"created_at": {"gt": 1.7e308}}', '{"created_at": {"in": [[1]]}}',
                                  '{"status": {"op": 5, "value": 1}}', '{"task_id": {"eq": {"a": 1}}}'])
def test_unusable_filter_values_are_4xx(svc, body):
    r = svc.http.post("/control/tasks/query", content=body)
    assert r.status_code == 400, r.text
    assert "filter" in r.json()["detail"] or "operator" in r.json()["detail"]


def _rss(svc) -> int:
    return psutil.Process(svc.pid).memory_info().rss


def test_bodies_above_the_limit_are_413_before_being_read(svc):
    healthy(svc)
    before = _rss(svc)
    big = b'{"method":"QuickTask","parameters":{"x":"' + b"a" * (20 * 1024 * 1024) + b'"}}'
    for _ in range(3):  # declared length: refused before a byte of the body is read
        r = svc.http.post("/control/execute", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert "SERVICE_MAX_BODY_BYTES" in r.json()["detail"]

    def chunks():
        for _ in range(20):
            yield b"a" * (1024 * 1024)

    for _ in range(3):  # streamed without a length: refused once the limit is passed
        try:
            r = svc.http.post("/control/execute", content=chunks(), headers={"content-type": "application/json"})
            assert r.status_code == 413, r.text
        except httpx.TransportError:
            pass  # the service may close the connection while the client still sends
    healthy(svc)
    grown = _rss(svc) - before
    assert grown < 8 * 1024 * 1024, f"RSS grew by {grown} bytes"
    just_under = b'{"method":"QuickTask","parameters":{"x":"' + b"a" * (LIMIT - 100) + b'"}}'
    assert svc.http.post("/control/execute", content=just_under).status_code == 200


def test_a_lying_content_length_is_not_a_5xx(svc):
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as s:
        s.sendall(b"POST /control/execute HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}")
        assert b" 5" not in s.recv(100)[:12]
    healthy(svc)


def test_openapi_document_declares_parameters_and_errors(svc):
    doc = svc.http.get("/openapi.json").json()
    op = doc["paths"]["/control/status/{task_id}"]["get"]
    assert {"name": "task_id", "in": "path"}.items() <= op["parameters"][0].items() or any(
        p["name"] == "task_id" and p["in"] == "path" and p["required"] for p in op["parameters"])
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "422" in op["responses"], (path, method)
    assert {"404", "409"} <= doc["paths"]["/control/output/{task_id}"]["get"]["responses"].keys()
    assert {"413", "503"} <= doc["paths"]["/control/execute"]["post"]["responses"].keys()


def test_docs_are_served_offline(svc):
    for page in ("/docs", "/redoc"):
        html = svc.http.get(page).text
        assert "cdn" not in html.lower() and "http://" not in html and "https://" not in html.split("<body")[-1]
        assets = [a.split('"')[0] for a in html.split('src="')[1:]] + \
                 [a.split('"')[0] for a in html.split('href="')[1:] if a.startswith("/")]
        assert assets
        for asset in assets:
            assert svc.http.get(asset).status_code == 200, asset
