"""Cheap reads of big workflows: `?nodes=false`, paginated `/tasks` (offset, limit, status), complete."""

from __future__ import annotations

from .conftest import dockerinfo_for

N = 300


def _fan(n: int) -> dict:
    def node(name: str, targets: list[str]) -> dict:
        return {"container_name": name, "operation_signature_list": [
            {"operation_signature": {"operation_name": "Op"},
             "connected_to": [{"container_name": t, "operation_signature": {"operation_name": "Op"}}
                              for t in targets]}]}
    mids = [f"m{i}" for i in range(n - 2)]
    return {"name": "fan", "nodes": [node("src", mids), *(node(m, ["sink"]) for m in mids), node("sink", [])]}


def _pages(orch, wid: str, limit: int, **params) -> tuple[list[dict], list[int]]:
    tasks: list[dict] = []
    totals: list[int] = []
    offset: int | None = 0
    while offset is not None:
        r = orch.http.get(f"/workflows/{wid}/tasks", params={"offset": offset, "limit": limit, **params})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["offset"] == offset and len(body["tasks"]) <= limit
        tasks += body["tasks"]
        totals.append(body["total"])
        offset = body["next_offset"]
    return tasks, totals


def test_orch_big_workflow_reads_are_paginated_and_complete(orch):
    bp = _fan(N)
    wid = orch.submit(bp, dockerinfo_for(bp, 9), workflow_id="big-fan")["workflow_id"]

    brief = orch.http.get(f"/workflows/{wid}", params={"nodes": "false"}).json()
    assert "nodes" not in brief and brief["nodes_total"] == N and brief["status"] == "pending"
    full = orch.http.get(f"/workflows/{wid}").json()
    assert len(full["nodes"]) == N and {k: full[k] for k in brief} == brief | {"progress": full["progress"]}

    tasks, totals = _pages(orch, wid, 7)
    assert [t["index"] for t in tasks] == list(range(N)) and set(totals) == {N}
    assert tasks[0]["node"] == "src.Op" and "inputs" in tasks[0]
    # a fed node names its parents instead of repeating their outputs
    assert tasks[-1]["inputs_from"] == [f"m{i}.Op" for i in range(N - 2)] and "inputs" not in tasks[-1]
    assert [t["index"] for t in _pages(orch, wid, 1000)[0]] == list(range(N))
    pending, totals = _pages(orch, wid, 50, status="pending")
    assert len(pending) == N and set(totals) == {N}
    assert _pages(orch, wid, 50, status="complete")[0] == []

    assert orch.http.post(f"/workflows/{wid}/cancel").status_code == 200
    cancelled, totals = _pages(orch, wid, 64, status="cancelled")
    assert [t["index"] for t in cancelled] == list(range(N)) and set(totals) == {N}
    assert _pages(orch, wid, 64, status="pending")[0] == []
    beyond = orch.http.get(f"/workflows/{wid}/tasks", params={"offset": N + 5}).json()
    assert beyond["tasks"] == [] and beyond["next_offset"] is None and beyond["total"] == N
