"""Egress policy for workers (ORCHESTRATOR_ALLOWED_SERVICES), response limits and invalid answers.

The "service" here records every request it receives (method, path, Authorization
header) and answers what each test asks for, so a test can prove a key never
reached a host the policy refuses.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import Orchestrator

ONE = {"nodes": [{"container_name": "only", "operation_signature_list": [
    {"operation_signature": {"operation_name": "Op"}}]}]}


class Recorder:
    """A loopback HTTP server answering /control/* with `self.answer` (status, body bytes)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.answer: tuple[int, bytes] = (200, b'{"status": "complete", "output": {"protocol": "inline", '
                                                b'"uri": "", "data": 1}}')
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.seen.append((self.command, self.path, self.headers.get("Authorization")))
                code, body = recorder.answer
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def _di(host: str, port: int) -> dict:
    return {"docker_info_list": [{"container_name": "only", "ip_address": host, "port": port}]}


def test_orch_egress_refused_at_submission_naming_the_entry(redis_server):
    port = int(redis_server.url.rsplit(":", 1)[1].split("/")[0])
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_ALLOWED_SERVICES": "127.0.0.0/8, *.lab.example"})
    try:
        health = orch.http.get("/health").json()
        assert health["egress"] == health["allowed_services"] == "configured"
        for host, p in (("169.254.169.254", 80), ("10.1.2.3", 8080), ("127.0.0.1", port), ("localhost", port),
                        ("fe80::1", 80)):
            r = orch.http.post("/workflows", json={"blueprint": ONE, "dockerinfo": _di(host, p)})
            assert r.status_code == 422, (host, r.text)
            d = r.json()["detail"]
            assert d["field"] == "dockerinfo.docker_info_list[0]" and "ORCHESTRATOR_ALLOWED_SERVICES" in d["error"]
        # allowed: a listed range, a listed wildcard name (checked again after resolution)
        assert orch.http.post("/workflows", json={"blueprint": ONE, "dockerinfo": _di("127.0.0.1", 9)}
                              ).status_code == 201
        assert orch.http.post("/workflows", json={"blueprint": ONE, "dockerinfo": _di("svc.lab.example", 9)}
                              ).status_code == 201
    finally:
        orch.close()
    default = Orchestrator(redis_server.url)
    try:
        assert default.http.get("/health").json()["allowed_services"] == "default"
    finally:
        default.close()


def test_orch_egress_refused_at_connect_time_and_no_key_sent(redis_server, recorder):
    """`127.1` is a name to the policy (not an address literal): it passes submission and resolves to
    127.0.0.1 at connect time, where a policy of 10.0.0.0/8 refuses it; nothing is sent, no key leaks."""
    env = {"ORCHESTRATOR_SERVICES_API_KEY": "default-secret"}
    refusing = Orchestrator(redis_server.url, env={**env, "ORCHESTRATOR_ALLOWED_SERVICES": "10.0.0.0/8"})
    try:
        refusing.start_worker()
        sub = refusing.submit(ONE, _di("127.1", recorder.port), services_api_key="per-workflow-secret")
        wf = refusing.wait(sub["workflow_id"])
        assert wf["status"] == "failed", wf
        assert "ORCHESTRATOR_ALLOWED_SERVICES" in wf["error"] and "127.1" in wf["error"]
        assert recorder.seen == []
        logs = refusing.logs()
        assert "default-secret" not in logs and "per-workflow-secret" not in logs
    finally:
        refusing.close()
    # the same workflow under the default policy reaches the recorder, key and all (the check above is real)
    allowing = Orchestrator(redis_server.url, env=env)
    try:
        allowing.start_worker()
        sub = allowing.submit(ONE, _di("127.1", recorder.port))
        assert allowing.wait(sub["workflow_id"])["status"] == "complete"
        assert ("POST", "/control/execute", "Bearer default-secret") in recorder.seen
        for path in (f"/workflows/{sub['workflow_id']}", f"/workflows/{sub['workflow_id']}/tasks",
                     f"/workflows/{sub['workflow_id']}/tasks/0", "/workflows"):
            assert "default-secret" not in allowing.http.get(path).text
    finally:
        allowing.close()


def test_orch_invalid_or_huge_answers_fail_the_node_naming_the_service(redis_server, recorder):
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_MAX_RESPONSE_BYTES": "100000"})
    try:
        orch.start_worker()
        for answer, words in (
            ((200, b"this is not json"), "not a JSON object"),
            ((200, b"[1, 2, 3]"), "not a JSON object"),
            ((200, b'{"task_id": "x"}'), "no status word"),  # execute accepted, then status says nothing
            ((200, b'{"status": "running", "pad": "' + b"x" * 300_000 + b'"}'), "ORCHESTRATOR_MAX_RESPONSE_BYTES"),
        ):
            recorder.answer = answer
            sub = orch.submit(ONE, _di("127.0.0.1", recorder.port))
            wf = orch.wait(sub["workflow_id"])
            assert wf["status"] == "failed", wf
            err = wf["failed_node"]["error"]
            assert words in err and f"127.0.0.1:{recorder.port}" in err, err
        assert orch.http.get("/health").status_code == 200
    finally:
        orch.close()
