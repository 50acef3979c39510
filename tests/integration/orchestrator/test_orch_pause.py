"""A node whose task its service pauses: the orchestrator shows it `paused`, keeps its lease
(no takeover, no new attempt), and the pause does not count against the node's timeout."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support import ROOT, ServiceProcess

from .conftest import EXAMPLES, dockerinfo_for, load, long_params

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


@pytest.fixture(scope="module")
def pausable_service(tmp_path_factory):
    s = ServiceProcess(ROOT / "tests" / "fixtures" / "seed_service", name="pausable-svc",
                       env={"SERVICE_DATA_DIR": str(tmp_path_factory.mktemp("pausable"))})
    yield s
    s.stop()


def test_orch_paused_node_is_shown_paused_keeps_its_lease_and_its_timeout_clock_stops(orch, pausable_service):
    orch.start_worker()
    timeout = 3.0  # for `left`, which works 2 s in all, and is paused longer than this and than the lease (3 s)
    params = long_params(DIAMOND, 0.05, 1, left={"duration": 2.0, "steps": 40})
    sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, pausable_service.port), parameters=params,
                      options={"node_timeouts": {"left": timeout}, "fail_fast": True})
    wid = sub["workflow_id"]
    left = orch.wait_node(wid, "left", ("running",), timeout=20)
    with httpx.Client(base_url=pausable_service.url, timeout=10) as svc:
        assert svc.post(f"/control/pause/{left['task_id']}").json()["status"] == "paused"
        paused = orch.wait_node(wid, "left", ("paused",), timeout=10)
        assert paused["attempt"] == 1
        assert orch.workflow(wid)["status"] == "running"
        # nothing to await here: the point is that time passes (beyond the node's timeout and
        # the lease TTL) without the node failing or being taken over
        time.sleep(timeout + 0.5)
        still = orch.tasks(wid)["left"]
        assert still["status"] == "paused" and still["attempt"] == 1 and not still.get("error"), still
        assert svc.post(f"/control/resume/{left['task_id']}").json()["status"] == "running"
    orch.wait_node(wid, "left", ("running", "complete"), timeout=10)
    wf = orch.wait(wid, timeout=30)
    assert wf["status"] == "complete", wf
    done = orch.tasks(wid)["left"]
    assert done["status"] == "complete" and done["attempt"] == 1 and not done.get("retries")
