"""Schemathesis against the orchestrator's OpenAPI document (real API process, real Redis).

Fails on any 5xx, on a response that does not match its documented schema or
status codes, and on an OpenAPI document Schemathesis cannot load. Bounded
examples per operation and a fixed seed keep it to seconds and reproducible.
The request and 5xx counts are read from the API's own access log.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import Orchestrator

ST = Path(sys.executable).with_name("st")
ACCESS = re.compile(r'"[A-Z]+ [^"]*HTTP/1\.1" (\d{3})')


def test_orch_openapi_fuzzed_without_server_errors(redis_server, tmp_path):
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_API_KEY": "fuzz-key",
                                               "ORCHESTRATOR_MAX_BODY_BYTES": "1000000"})
    try:
        orch.start_worker()  # so /ready answers 200: its documented 503 means "no worker", not a fault
        doc = orch.http.get("/openapi.json")
        assert doc.status_code == 200
        documented = doc.json()["paths"]["/workflows"]["post"]["responses"]
        assert {"201", "401", "409", "413", "422", "503"} <= set(documented)
        # an event stream lasts as long as its workflow: judge its first event, then hang up
        (tmp_path / "schemathesis.toml").write_text("max-stream-events = 1\n")
        r = subprocess.run(
            [str(ST), "run", f"{orch.base}/openapi.json", "--checks",
             "not_a_server_error,response_schema_conformance,status_code_conformance",
             "--max-examples", "15", "--phases", "examples,coverage,fuzzing", "--workers", "1",
             "--seed", "20261130", "--generation-database", "none", "--no-color", "--request-timeout", "20",
             "-H", "Authorization: Bearer fuzz-key"],
            cwd=tmp_path, capture_output=True, text=True, timeout=240)
        codes = [int(c) for c in ACCESS.findall(orch.api.log())]
        server_errors = sum(1 for c in codes if c >= 500)
        print(f"schemathesis: {len(codes)} requests to the orchestrator API, {server_errors} answered 5xx")
        assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
        assert server_errors == 0 and len(codes) > 100
        assert orch.http.get("/health").status_code == 200
    finally:
        orch.close()
