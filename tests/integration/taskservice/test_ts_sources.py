"""Inputs, callbacks and outputs of a real template service under its rules (issue 9):
`file` inputs only from the data directory or SERVICE_FILE_ROOTS (no `..`, no symlink escape),
`http(s)` inputs and callbacks only to hosts SERVICE_ALLOWED_HOSTS allows (after resolution),
refusals that name the rule and never echo a file, outputs inside the task's folder, and
callback headers that no route, event or log line shows."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.support import ROOT, ServiceProcess, wait_until

TEMPLATE = ROOT / "templates" / "concurrent"
FINISHED = {"complete", "failed", "cancelled"}
SECRET = "Bearer callback-secret-0451"


class Receiver:
    """A tiny HTTP server in a thread that counts requests and serves `body` to GET."""

    def __init__(self, body: bytes = b"x0,x1,label\n0,1,1\n1,0,0\n1,1,1\n0,0,0\n") -> None:
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append(("GET", dict(self.headers)))
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests.append(("POST", dict(self.headers)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server.server_port}/data.csv"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


def make_service(tmp_path_factory, name: str, **env: str) -> ServiceProcess:
    base = tmp_path_factory.mktemp(name)
    data, extra, outside = base / "data", base / "extra", base / "outside"
    for d in (data, extra, outside):
        d.mkdir()
    csv = "x0,x1,label\n0,1,1\n1,0,0\n1,1,1\n0,0,0\n"
    (data / "in.csv").write_text(csv)
    (extra / "in.csv").write_text(csv)
    (outside / "secret.csv").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (data / "escape.csv").symlink_to(outside / "secret.csv")
    (data / "escape-dir").symlink_to(outside)
    proc = ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(data), "SERVICE_FILE_ROOTS": str(extra), **env},
                          name=name)
    proc.dirs = {"data": data, "extra": extra, "outside": outside}
    proc.http = httpx.Client(base_url=proc.url, timeout=15)
    return proc


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    proc = make_service(tmp_path_factory, "sources")
    yield proc
    proc.http.close()
    proc.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """Only 10.0.0.0/8 allowed: loopback names resolve to refused addresses."""
    proc = make_service(tmp_path_factory, "sources-strict", SERVICE_ALLOWED_HOSTS="10.0.0.0/8")
    yield proc
    proc.http.close()
    proc.stop()


def train(svc, ref: dict, **extra):
    tid = f"src-{uuid.uuid4().hex[:10]}"
    r = svc.http.post("/control/execute", json={"method": "TrainModel", "task_id": tid, "inputs": [ref],
                                                "parameters": {"epochs": 2}, **extra})
    return tid, r


def done(svc, tid: str) -> dict:
    return wait_until(lambda: (r := svc.http.get(f"/control/status/{tid}").json())["status"] in FINISHED and r,
                      timeout=15, what=f"{tid} to finish")


def file_ref(uri: str) -> dict:
    return {"protocol": "file", "uri": uri, "format": "csv"}


def test_file_inputs_inside_the_roots_are_read(svc):
    for uri in (str(svc.dirs["data"] / "in.csv"), (svc.dirs["extra"] / "in.csv").as_uri(), "in.csv"):
        tid, r = train(svc, file_ref(uri))
        assert r.status_code == 202, r.text
        rec = done(svc, tid)
        assert rec["status"] == "complete", rec


@pytest.mark.parametrize("uri", ["/etc/passwd", "file:///etc/shadow", "/proc/self/environ", "../outside/secret.csv",
                                 "escape.csv", "escape-dir/secret.csv", "file:///etc/os-release",
                                 "{data}/../outside/secret.csv", "{extra}/../outside/secret.csv"])
def test_file_inputs_outside_the_roots_are_refused_naming_the_rule(svc, uri):
    uri = uri.format(data=svc.dirs["data"], extra=svc.dirs["extra"])
    tid, r = train(svc, file_ref(uri))
    assert r.status_code == 422, r.text
    err = r.json()["detail"][0]
    assert err["loc"] == ["body", "inputs", 0, "uri"]
    assert "SERVICE_FILE_ROOTS" in err["msg"] or "'..'" in err["msg"]
    assert "root:x" not in r.text and "bash" not in r.text
    assert svc.http.get(f"/control/status/{tid}").status_code == 404


def test_a_symlink_swapped_in_after_submission_is_still_refused(svc):
    link = svc.dirs["data"] / "late.csv"
    link.write_text("x0,label\n1,1\n0,0\n")
    tid, r = train(svc, file_ref(str(link)), parameters={"epochs": 100_000, "samples": 10})
    assert r.status_code == 202
    svc.http.post(f"/control/stop/{tid}")
    link.unlink()
    link.symlink_to(svc.dirs["outside"] / "secret.csv")
    tid, r = train(svc, file_ref(str(link)))
    assert r.status_code == 422 and "root:x" not in r.text


def test_unreadable_csv_content_is_not_echoed(svc):
    (svc.dirs["data"] / "words.csv").write_text("alpha,beta\nsecret-word-1,secret-word-2\n")
    tid, r = train(svc, file_ref("words.csv"))
    assert r.status_code == 202
    rec = done(svc, tid)
    assert rec["status"] == "failed" and "secret-word" not in json.dumps(rec)


def test_http_inputs_from_allowed_hosts_are_read(svc, receiver):
    tid, r = train(svc, {"protocol": "http", "uri": receiver.url(), "format": "csv"})
    assert r.status_code == 202, r.text
    assert done(svc, tid)["status"] == "complete"


def test_http_inputs_and_callbacks_refused_by_address_at_the_door(strict, receiver):
    before = len(receiver.requests)
    tid, r = train(strict, {"protocol": "http", "uri": receiver.url(), "format": "csv"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "inputs", 0, "uri"]
    assert "SERVICE_ALLOWED_HOSTS" in r.json()["detail"][0]["msg"]
    for url in ("http://169.254.169.254/latest/meta-data", "gopher://127.0.0.1/", f"{strict.url}/control/stop/x"):
        r = strict.http.post("/control/execute", json={"method": "QuickTask", "callback": {"url": url}})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "callback", "url"], url
    assert len(receiver.requests) == before


def test_http_inputs_and_callbacks_checked_again_after_resolution(strict, receiver):
    before = len(receiver.requests)
    # `localhost` passes the name check (no rule names it); it resolves to loopback, which is refused
    tid, r = train(strict, {"protocol": "http", "uri": receiver.url("localhost"), "format": "csv"})
    assert r.status_code == 202, r.text
    rec = done(strict, tid)
    assert rec["status"] == "failed" and "SERVICE_ALLOWED_HOSTS" in rec["error"], rec
    tid = f"cb-{uuid.uuid4().hex[:8]}"
    r = strict.http.post("/control/execute", json={"method": "QuickTask", "task_id": tid, "callback": {
        "url": receiver.url("localhost"), "headers": {"Authorization": SECRET}}})
    assert r.status_code == 200, r.text
    info = wait_until(lambda: (strict.http.get(f"/control/status/{tid}").json().get("callback_info") or {})
                      .get("status") == "failed" and strict.http.get(f"/control/status/{tid}").json()["callback_info"],
                      timeout=10, what="callback refused")
    assert "SERVICE_ALLOWED_HOSTS" in info["error"] and info["attempts"] == 1
    assert len(receiver.requests) == before  # nothing reached the receiver


def test_callback_to_the_service_itself_is_refused(svc):
    for host in ("127.0.0.1", "localhost"):
        r = svc.http.post("/control/execute", json={"method": "QuickTask", "callback": {
            "url": f"http://{host}:{svc.port}/control/stop/x"}})
        assert r.status_code == 422, (host, r.text)


def test_callback_headers_are_sent_but_never_shown(svc, receiver):
    tid = f"sec-{uuid.uuid4().hex[:8]}"
    hook = receiver.url().replace("/data.csv", "/hook?token=abc")
    with svc.http.stream("GET", "/control/events", timeout=15) as events:
        r = svc.http.post("/control/execute", json={
            "method": "LongProcess", "task_id": tid, "parameters": {"duration": 0.1, "steps": 1},
            "callback": {"url": hook.replace("http://", "http://user:pw@"), "headers": {"Authorization": SECRET}}})
        assert r.status_code == 202
        seen = []
        for line in events.iter_lines():
            seen.append(line)
            if tid in line and '"complete"' in line:
                break
    wait_until(lambda: any(h.get("Authorization") == SECRET for m, h in receiver.requests if m == "POST"),
               timeout=10, what="callback delivered with its header")
    rec = wait_until(lambda: (r := svc.http.get(f"/control/status/{tid}").json()).get("callback_info", {})
                     .get("status") == "delivered" and r, timeout=10, what="delivered")
    texts = [r.text, json.dumps(rec), "\n".join(seen), svc.http.get("/control/tasks").text,
             svc.http.get(f"/control/output/{tid}").text, svc.http.post("/control/tasks/query", json={}).text,
             svc.log()]
    for text in texts:
        assert "callback-secret" not in text and "pw@" not in text and "token=abc" not in text


def test_no_task_id_writes_outside_its_folder(svc):
    data = svc.dirs["data"]
    for tid in ("..", ".", "a:b", "a_b", "x" * 200):
        r = svc.http.post("/control/execute", json={"method": "MakeDataset", "task_id": tid,
                                                    "parameters": {"samples": 10, "features": 1}})
        if tid in ("..", "."):
            assert r.status_code == 422
            continue
        assert r.status_code == 200, r.text
        path = r.json()["output"]["uri"]
        assert path.startswith(data.as_uri() + "/")
    assert not (data.parent / "dataset.csv").exists()
    outs = {p.parent.name for p in data.glob("*/dataset.csv")}
    assert {"a%3Ab", "a_b"} <= outs  # distinct ids, distinct folders


def test_methods_bound_their_sizes(svc):
    for method, params in (("MakeDataset", {"samples": 1_000_000, "features": 1_000}),
                           ("TrainModel", {"samples": 1_000_000, "features": 1_000}),
                           ("TrainModel", {"samples": 100_000, "features": 10, "epochs": 100_000})):
        r = svc.http.post("/control/execute", json={"method": method, "parameters": params})
        assert r.status_code == 422, (method, r.text)
        assert r.json()["detail"][0]["loc"][:2] == ["body", "parameters"]
