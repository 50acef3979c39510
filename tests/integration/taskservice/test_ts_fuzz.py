"""Schemathesis against a real template service (issue 9): the OpenAPI document must load and be
valid, and no generated request may get a 5xx, an undocumented status, or a body that does not
match its documented schema. Bounded examples per operation; the request and 5xx counts are
printed (run with -s to see them)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.support import ROOT, ServiceProcess

TEMPLATE = ROOT / "templates" / "concurrent"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = 20


def _st() -> str:
    exe = Path(sys.executable).with_name("st")
    return str(exe) if exe.exists() else (shutil.which("st") or "st")


@pytest.mark.timeout(300)
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(tmp_path):
    svc = ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(tmp_path / "data"), "SERVICE_MAX_WAIT": "0.2",
                                        "SERVICE_MAX_WORKERS": "2"}, name="fuzz")
    har = tmp_path / "run.har"
    try:
        run = subprocess.run(
            [_st(), "run", f"{svc.url}/openapi.json", "--checks", CHECKS, "-n", str(EXAMPLES), "--seed", "9",
             "--workers", "1", "--generation-database", "none", "--phases", "examples,coverage,fuzzing",
             "--exclude-path", "/control/events",  # an endless SSE stream; covered by its own tests
             "--report", "har", "--report-har-path", str(har), "--no-color", "--request-timeout", "30"],
            cwd=tmp_path, capture_output=True, text=True, timeout=280)
        alive = svc.alive()
    finally:
        svc.stop()
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    statuses = Counter(e["response"]["status"] for e in entries)
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    print(f"\nschemathesis (template service): {len(entries)} requests, {server_errors} 5xx, "
          f"statuses {dict(sorted(statuses.items()))}")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert entries and server_errors == 0
    assert alive, "the service died during the run"
