"""Bearer auth on the API (ORCHESTRATOR_API_KEY) and towards services (services_api_key)."""

from __future__ import annotations

from tests.support import ServiceProcess

from .conftest import EXAMPLES, TEMPLATE, Orchestrator, dockerinfo_for, load, long_params

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


def test_orch_api_key_and_services_api_key(redis_server):
    svc = ServiceProcess(TEMPLATE, env={"SERVICE_API_KEY": "svc-secret"}, name="secured-svc")
    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_API_KEY": "api-secret"})
    try:
        orch.start_worker()
        body = {"blueprint": DIAMOND, "dockerinfo": dockerinfo_for(DIAMOND, svc.port),
                "parameters": long_params(DIAMOND, 0.05, 1)}
        assert orch.http.get("/health").status_code == 200  # open, for probes
        assert orch.http.post("/workflows", json=body).status_code == 401
        assert orch.http.get("/workflows", headers={"Authorization": "Bearer wrong"}).status_code == 401
        orch.http.headers["Authorization"] = "Bearer api-secret"
        # without the services' key the first node is refused by its service and the workflow fails
        bad = orch.submit(**body)
        wf = orch.wait(bad["workflow_id"])
        assert wf["status"] == "failed" and "401" in wf["error"]
        good = orch.submit(**body, services_api_key="svc-secret")
        assert orch.wait(good["workflow_id"])["status"] == "complete"
        assert "svc-secret" not in orch.http.get(f"/workflows/{good['workflow_id']}").text
    finally:
        orch.close()
        svc.stop()
