"""An AI-Effect-style service (no long-poll, `completed`) runs through the same orchestrator."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import PYTHON, Process, free_port, wait_until

from .conftest import EXAMPLES, load

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


def test_orch_aieffect_style_service_polled_with_backoff(orch):
    port = free_port()
    stub = Process([PYTHON, str(Path(__file__).with_name("aieffect_stub.py")), str(port)], name="aieffect-stub")
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, 20)
        orch.start_worker()
        di = {"docker_info_list": [{"container_name": c, "ip_address": "127.0.0.1", "port": port}
                                   for c in ("source", "left", "right", "sink")]}
        sub = orch.submit(DIAMOND, di)
        wf = orch.wait(sub["workflow_id"])
        assert wf["status"] == "complete", wf
        t = orch.tasks(sub["workflow_id"])
        assert t["sink"]["output"]["data"] == {"n_inputs": 2}
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert health["executes"] == 4
        # 4 nodes of 0.3 s polled with backoff from 50 ms: a handful of calls each, not a busy loop
        assert health["status_calls"] < 4 * 12, health
    finally:
        stub.stop()
