"""The lab pipeline end to end: orchestrator + worker run FlatAlignment -> FocusAlignment ->
ProfileMeasurement on the motion-stage service, then FitProfile on the beam-analysis service."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support import ROOT, ServiceProcess

EXAMPLE = ROOT / "examples/lab_pipeline"


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_lab_pipeline_end_to_end(redis_server, tmp_path):
    from tests.integration.orchestrator.conftest import Orchestrator

    blueprint = json.loads((EXAMPLE / "blueprint.json").read_text())
    request = json.loads((EXAMPLE / "request.json").read_text())
    common = {"SERVICE_DATA_DIR": str(tmp_path)}
    stage = ServiceProcess(ROOT / "services/motion_stage", name="lab-stage",
                           env={**common, "MOTION_SIM__LINEAR_ACCEL": "20000", "MOTION_SIM__CONNECT_DELAY": "0.01",
                                "MOTION_SIM__SAMPLE_RATE": "5000", "MOTION_POLL_INTERVAL": "0.01"})
    analysis = ServiceProcess(ROOT / "services/beam_analysis", name="lab-analysis", env=common)
    orch = Orchestrator(redis_server.url)
    try:
        orch.start_worker()
        dockerinfo = copy.deepcopy(json.loads((EXAMPLE / "dockerinfo.json").read_text()))
        ports = {"stage": stage.port, "analysis": analysis.port}
        for entry in dockerinfo["docker_info_list"]:
            entry["ip_address"], entry["port"] = "127.0.0.1", str(ports[entry["container_name"]])
        sub = orch.submit(blueprint, dockerinfo, **request)
        wf = orch.wait(sub["workflow_id"], timeout=60)
        assert wf["status"] == "complete", (wf, orch.logs(), stage.log()[-2000:], analysis.log()[-2000:])
        fits = [t for t in orch.http.get(f"/workflows/{sub['workflow_id']}/tasks").json()["tasks"]
                if t["operation"] == "FitProfile"]
        assert fits and fits[0]["status"] == "complete"
        out = analysis_output(analysis, fits[0])
        fit = out["data"]
        # after flat + focus alignment the profile along X1 is centred on the coupling peak (X1 ~ 12.3 um)
        assert fit["centre"] == pytest.approx(12.3, abs=0.5)
        assert fit["radius_1e2"] == pytest.approx(5.0, rel=0.1)
        assert fit["r_squared"] > 0.99
        report = json.loads(Path(urlparse(out["uri"]).path).read_text())
        assert report["fit"]["points"] > 1000
        print(f"\nlab pipeline fit: {fit}")
    finally:
        orch.close()
        stage.stop()
        analysis.stop()


def analysis_output(svc: ServiceProcess, task: dict) -> dict:
    import httpx
    r = httpx.get(f"{svc.url}/control/output/{task['task_id']}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["output"]
