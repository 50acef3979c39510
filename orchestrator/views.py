"""JSON views of workflows and node runs, shared by the HTTP routes and the event stream.

They take what was read from Redis (the workflow hash, node hashes, the parsed
graph) and never read anything themselves, so `api` and `events` both use them
without importing each other. Secrets (`services_api_key`) never enter a view.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.blueprint import Graph
from orchestrator.store import task_id_for

ACTIVE = ("running", "stopping", "paused")


def parse_json(raw: str | None, default: Any = None) -> Any:
    """A stored JSON field; the raw text when it is not JSON."""
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def num(raw: Any, default: float = 0) -> float:
    """A stored number; `default` when missing or not a number."""
    try:
        return float(raw) if raw is not None else default
    except (TypeError, ValueError):
        return default


def task_view(wid: str, wf: dict[str, Any], graph: Graph, i: int, n: dict[str, Any], *,
              inputs: bool = True) -> dict[str, Any]:
    """One node run. With `inputs=False` a non-root node names the parents its inputs come from
    (`inputs_from`) instead of repeating their outputs, so a list carries each payload once."""
    v = graph.vertices[i]
    attempt = int(num(n.get("attempt"), 1))
    tid = n.get("task_id") or task_id_for(wid, wf["run"], i, v.container, v.operation, attempt)
    upstream = [graph.vertices[p].name for p in v.parents]
    view: dict[str, Any] = {
        "task_id": tid, "workflow_id": wid, "node": v.name, "node_key": v.name, "index": i,
        "container": v.container, "operation": v.operation, "node_type": v.node_type,
        "service": v.endpoint.base_url if v.endpoint else None,
        "status": n.get("status", "pending"), "progress": num(n.get("progress")),
        "details": parse_json(n.get("details"), {}), "attempt": attempt, "attempts": attempt,
        "retries": int(num(n.get("retries"))), "last_error": n.get("last_error"),
        "upstream": upstream, "user": wf.get("user"),
        "output": parse_json(n.get("output")),
        "error": n.get("error"),
        "created_at": n.get("created_at"), "started_at": n.get("started_at"),
        "finished_at": n.get("finished_at"), "updated_at": n.get("updated_at"),
    }
    if inputs or not v.parents:
        view["inputs"] = parse_json(n.get("inputs"), [])
    else:
        view["inputs_from"] = upstream
    return view


def progress_of(nodes: list[dict[str, Any]], total: int) -> tuple[int, float]:
    """(complete nodes, percent): what every view calls progress. Complete nodes count whole, running ones
    by their own progress; failed, cancelled and never-started nodes count nothing, so a failed or
    cancelled workflow is never 100%."""
    complete = sum(1 for n in nodes if n.get("status") == "complete")
    running = sum(num(n.get("progress")) for n in nodes if n.get("status") in ACTIVE)
    return complete, round(100.0 * (complete + running / 100.0) / (total or 1), 2)


def summary_view(wf: dict[str, Any]) -> dict[str, Any]:
    """A workflow as listed (`GET /workflows`): counters from its hash, no node reads."""
    total = int(num(wf.get("total")))
    done = int(num(wf.get("done")))
    return {"workflow_id": wf["workflow_id"], "status": wf.get("status"), "name": wf.get("name"),
            "user": wf.get("user"),
            "created_at": wf.get("created_at"), "started_at": wf.get("started_at"),
            "finished_at": wf.get("finished_at"), "updated_at": wf.get("updated_at"),
            "error": wf.get("error"), "nodes_done": done, "nodes_total": total,
            "progress": round(100.0 * done / (total or 1), 2)}


def workflow_view(wf: dict[str, Any], graph: Graph, nodes: list[dict[str, Any]] | None,
                  failed_error: str | None = None) -> dict[str, Any]:
    """`GET /workflows/{id}`; with `nodes` None the per-node list is left out (`?nodes=false`) and
    the counts come from the workflow hash."""
    view = summary_view(wf)
    total = len(graph.vertices)
    failed = wf.get("failed_node")
    if nodes is None:
        view.update({"name": graph.name, "nodes_total": total, "nodes_complete": int(num(wf.get("done"))),
                     "failed_node": ({"node": graph.vertices[int(failed)].name, "error": failed_error}
                                     if failed is not None else None),
                     "skipped_nodes": graph.skipped})
        return view
    running = [{"node": graph.vertices[i].name, "task_id": n.get("task_id"), "progress": num(n.get("progress"))}
               for i, n in enumerate(nodes) if n.get("status") in ACTIVE]
    done, percent = progress_of(nodes, total)
    view.update({
        "name": graph.name, "progress": round(percent, 2), "nodes_done": done, "nodes_total": total,
        "nodes_complete": int(num(wf.get("done"))), "running_nodes": running,
        "failed_node": ({"node": graph.vertices[int(failed)].name,
                         "error": nodes[int(failed)].get("error")} if failed is not None else None),
        "nodes": [{"node": graph.vertices[i].name, "status": n.get("status"),
                   "progress": num(n.get("progress")), "attempt": int(num(n.get("attempt"), 1))}
                  for i, n in enumerate(nodes)],
        "skipped_nodes": graph.skipped,
    })
    return view
