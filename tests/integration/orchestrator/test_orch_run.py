"""End to end: real redis-server, API, RQ workers and template services."""

from __future__ import annotations

from .conftest import EXAMPLES, dockerinfo_for, load, long_params, service_tasks

DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")
SEED = [{"protocol": "inline", "uri": "inline://seed", "format": "json", "data": {"seed": 42}}]


def test_orch_diamond_runs_once_and_hands_outputs_along(orch, service):
    orch.start_worker()
    orch.start_worker()
    params = long_params(DIAMOND, 0.2, 2)
    params["left"] = {"duration": 0.2, "steps": 2, "side": "L"}
    sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), inputs=SEED, parameters=params)
    assert sub["status"] == "pending"
    wf = orch.wait(sub["workflow_id"])
    assert wf["status"] == "complete", wf
    assert wf["progress"] == 100 and wf["nodes_done"] == wf["nodes_total"] == 4

    t = orch.tasks(sub["workflow_id"])
    assert {x["status"] for x in t.values()} == {"complete"}
    src = t["source"]["output"]["data"]
    assert src["inputs"] == [{"seed": 42}]
    assert t["left"]["output"]["data"] == {"inputs": [src], "parameters": params["left"]}
    # fan-in: upstream outputs in blueprint order (left before right)
    # the list carries each payload once: the sink names its upstream nodes; its own record has the inputs
    assert t["sink"]["inputs_from"] == [t["left"]["node"], t["right"]["node"]] and "inputs" not in t["sink"]
    sink = orch.http.get(f"/workflows/{sub['workflow_id']}/tasks/{t['sink']['node']}").json()
    assert sink["inputs"] == [t["left"]["output"], t["right"]["output"]]
    assert t["sink"]["upstream"] == ["left.LongProcess", "right.LongProcess"]
    assert all(x["attempt"] == 1 and x["service"] == service.url for x in t.values())
    # branches ran side by side
    assert t["left"]["started_at"] < t["right"]["finished_at"] and t["right"]["started_at"] < t["left"]["finished_at"]

    # exactly once, counted on the service side; task ids are unique per run
    executed = service_tasks(service.url, sub["workflow_id"])
    assert sorted(x["task_id"] for x in executed) == sorted(x["task_id"] for x in t.values())

    again = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 0.05, 1))
    assert orch.wait(again["workflow_id"])["status"] == "complete"
    ids2 = {x["task_id"] for x in orch.tasks(again["workflow_id"]).values()}
    assert not ids2 & {x["task_id"] for x in t.values()}

    # single-task lookups by task id and by node name, and the list newest first
    one = orch.http.get(f"/workflows/{sub['workflow_id']}/tasks/{t['sink']['task_id']}").json()
    assert one["node"] == "sink.LongProcess" and one["status"] == "complete"
    assert orch.http.get(f"/workflows/{sub['workflow_id']}/tasks/sink.LongProcess").json()["index"] == 3
    listed = orch.http.get("/workflows", params={"status": "complete"}).json()
    assert [w["workflow_id"] for w in listed["workflows"]] == [again["workflow_id"], sub["workflow_id"]]


def test_orch_fanout20_and_client_chosen_id(orch, service):
    bp = load(EXAMPLES / "fanout20" / "blueprint.json")
    orch.start_worker()
    sub = orch.submit(bp, dockerinfo_for(bp, service.port), parameters=long_params(bp, 0.5, 2),
                      workflow_id="fan-out-20")
    assert sub["workflow_id"] == "fan-out-20"
    orch.submit(bp, dockerinfo_for(bp, service.port), expect=409, workflow_id="fan-out-20")
    wf = orch.wait("fan-out-20", timeout=30)
    assert wf["status"] == "complete", wf
    t = orch.tasks("fan-out-20")
    assert len(orch.http.get(f"/workflows/fan-out-20/tasks/{t['sink']['node']}").json()["inputs"]) == 20
    # the branches ran in parallel on one worker: many of them were running at the same moment
    # (counted from the recorded times, so a loaded machine cannot make this flaky)
    edges = sorted([(x["started_at"], 1) for c, x in t.items() if c.startswith("branch")]
                   + [(x["finished_at"], -1) for c, x in t.items() if c.startswith("branch")])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak >= 10, f"at most {peak} of 20 branches ran at once"


def test_orch_dedicated_worker_started_before_submit_exits_at_end(orch, service):
    w = orch.start_worker("--workflow-id", "only-me")
    sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 0.1, 1),
                      workflow_id="only-me")
    assert orch.wait(sub["workflow_id"])["status"] == "complete"
    w.popen.wait(15)
    assert w.popen.returncode == 0, w.log()


def test_orch_dedicated_worker_started_after_submit_picks_it_up(orch, service):
    sub = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), parameters=long_params(DIAMOND, 0.05, 1),
                      workflow_id="late-worker")
    assert orch.workflow("late-worker")["status"] == "pending"  # no worker yet: nothing lost, nothing run
    w = orch.start_worker("--workflow-id", "late-worker")
    assert orch.wait(sub["workflow_id"], timeout=10)["status"] == "complete"
    w.popen.wait(15)
    assert w.popen.returncode == 0, w.log()
