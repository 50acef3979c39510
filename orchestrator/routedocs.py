"""What the OpenAPI document says about the API and each route: the blueprint format, summaries,
descriptions, response models and the errors each route answers.

`api` spreads `ROUTES[name]` into its route decorators, so the text lives here and the routes stay short.
"""

from __future__ import annotations

from typing import Any

from orchestrator.schemas import (ChangedResponse, ErrorResponse, Health, SubmitResponse, TaskPage, TaskView,
                                  WorkflowList, WorkflowStatus)

APP_DESCRIPTION = """\
Runs blueprint workflows: each node is one operation of a container's service, started when the
nodes feeding it are complete. Workflows are stored in Redis and run by RQ workers
(`python -m worker`); every node runs exactly once even when a worker dies (its lease is taken over).

## Submitting a workflow: `POST /workflows`

```json
{"blueprint": {...}, "dockerinfo": {...}, "inputs": [...], "parameters": {...}, "options": {...}}
```

**blueprint**: the pipeline as exported, in either dialect:

* AI-Effect `pipeline-topology/v2`: `type`, `pipeline_id`, `name`, `nodes`;
* Acumos / AI4EU: `nodes` with `input_ports`, `probeIndicator`, `training_clients`, `data_broker_map`,
  integer or string ports.

Each node is a `container_name` with an `operation_signature_list`; each entry has an
`operation_signature.operation_name` and a `connected_to` list naming the `container_name` and
`operation_signature.operation_name` its output goes to. A node of the graph is one
`container.operation` pair; `connected_to` entries are its edges. The graph must be acyclic and
at most `ORCHESTRATOR_MAX_NODES` nodes. Unknown fields are ignored. A node whose `node_type` is a shared
folder (`Shared Folder`) is not run: edges through it are bridged and it is listed in `skipped_nodes`.
Names are ASCII letters, digits, `_`, `.`, `-` (at most 128).

**dockerinfo**: where each container's service answers:
`{"docker_info_list": [{"container_name": "source", "ip_address": "localhost", "port": "8101"}]}`
(or the bare list). `ip_address` is a host name or an address, optionally `http(s)://host:port`;
hosts must pass `ORCHESTRATOR_ALLOWED_SERVICES` (by default loopback and private ranges only).
Every container of the blueprint needs an entry.

**inputs**: data references (`protocol`, `uri`, `format`, optional inline `data`) given to the root
nodes; every other node receives its parents' outputs.

**parameters**: per node, keyed by container (`"source": {...}`, every operation of it) or by
`container.operation` (`"source.LongProcess": {...}`, which updates the container's).

**options** (all optional):

| option | meaning | default |
|---|---|---|
| `node_timeout` | seconds a node may run before it fails | `ORCHESTRATOR_NODE_TIMEOUT` (none) |
| `node_timeouts` | per container or `container.operation` | - |
| `max_attempts` | attempts of a node its service fails (1-100) | 1 |
| `node_max_attempts` | per container or `container.operation` | - |
| `fail_fast` | a failed node cancels the rest of the workflow | `ORCHESTRATOR_FAIL_FAST` (true) |

A service that is down is not a failure: it is waited for during `ORCHESTRATOR_OUTAGE_TOLERANCE` seconds.
`workflow_id` (optional) names the workflow; `services_api_key` is sent to its services and never returned.

## Following it

`GET /workflows/{id}` (status, progress, nodes), `GET /workflows/{id}/tasks` (node runs, paged),
`GET /workflows/{id}/tasks/{node}` (one run with inputs and output), `GET /workflows/{id}/events`
(Server-Sent Events), the dashboard at `/ui`. Statuses: `pending`, `running`, `stopping`, `complete`,
`failed`, `cancelled`.

## Access and errors

With `ORCHESTRATOR_API_KEY(S)` set, every workflow route needs `Authorization: Bearer <key>`, and a
key's user sees only its own workflows (an admin key sees all). Errors are JSON with a `detail` that
names the field, header or node at fault: 401 bad token, 404 no such workflow (or not yours), 409 state
conflict, 413 body too large, 422 invalid input, 503 Redis unavailable. Never a 500 for bad input.
"""

ERRORS = {401: "missing or wrong bearer token (`ORCHESTRATOR_API_KEY(S)` set)",
          404: "no such workflow (or not yours)",
          409: "the workflow is not in a state that allows this",
          413: "request body larger than `ORCHESTRATOR_MAX_BODY_BYTES`",
          422: "invalid input; `detail` names the field", 503: "Redis unavailable"}


def _route(summary: str, description: str, model: type | None, errors: tuple[int, ...],
           ok: int = 200, ok_description: str = "") -> dict[str, Any]:
    """Decorator arguments: the 2xx model is documented (the route may return prebuilt JSON)."""
    responses: dict[int | str, dict[str, Any]] = {
        c: {"model": ErrorResponse, "description": ERRORS[c]} for c in errors}
    if model is not None:
        responses[ok] = {"model": model, "description": ok_description or "Successful Response"}
    return {"summary": summary, "description": description, "responses": responses}


ROUTES: dict[str, dict[str, Any]] = {
    "health": {
        "summary": "Liveness and Redis",
        "description": "200 when the process answers and Redis does, with what survives a Redis restart "
                       "(`redis_persistence`) and the services egress policy; 503 with `status` "
                       "`unavailable` when Redis does not answer. Needs no key.",
        "responses": {200: {"model": Health, "description": "alive, Redis answers"},
                      503: {"model": Health, "description": "Redis unavailable"}},
    },
    "submit": _route(
        "Submit a workflow",
        "Parses the blueprint and dockerinfo, checks parameters and options against its containers, stores "
        "the workflow and queues its root nodes; answers 201 with the id and `pending`. 422 names the field "
        "at fault (a blueprint error names the node or edge), 409 when `workflow_id` exists, 413 when the "
        "body is too large. The format is explained in the API description and the request model.",
        SubmitResponse, (401, 409, 413, 422, 503), ok=201, ok_description="the workflow is stored and queued"),
    "list": _route(
        "List workflows",
        "Workflows newest first, a page at a time (`offset`, `limit`), optionally by `status`. A user key "
        "sees only its own workflows; an admin sees all, or one user's with `?user=`. 422 names a bad "
        "query parameter.",
        WorkflowList, (401, 422, 503)),
    "status": _route(
        "Workflow status",
        "Status, progress (percent), counts, the running nodes, the failed node and its error, and every "
        "node's status. `?nodes=false` leaves out `nodes` and `running_nodes` and reads no node: cheap "
        "for big workflows. 404 when the workflow does not exist or is not the caller's.",
        WorkflowStatus, (401, 404, 422, 503)),
    "tasks": _route(
        "List node runs",
        "Node runs in blueprint order, a page at a time (`offset`, `limit`, `next_offset`), optionally only "
        "those in `status`. Each payload appears once: a non-root node names its parents in `inputs_from` "
        "instead of repeating their outputs (`GET .../tasks/{task_id}` has its `inputs`). 404 when the "
        "workflow does not exist or is not the caller's.",
        TaskPage, (401, 404, 422, 503)),
    "task": _route(
        "One node run",
        "One node run with its inputs, output, progress details, attempts and error, found by task id, "
        "node name (`container.operation`) or index. 404 when the workflow or the task is not found.",
        TaskView, (401, 404, 422, 503)),
    "cancel": _route(
        "Cancel a workflow",
        "Stops the running nodes (their services are told to stop) and ends the workflow `cancelled`; "
        "nodes not started never start. 409 when the workflow has already ended; 404 when it does not exist "
        "or is not the caller's.",
        ChangedResponse, (401, 404, 409, 422, 503)),
    "retry": _route(
        "Retry a failed or cancelled workflow",
        "Runs again the nodes that did not complete (complete nodes keep their outputs); the workflow "
        "becomes `running`. 409 unless the workflow is `failed` or `cancelled` with no node still "
        "stopping; 404 when it does not exist or is not the caller's.",
        ChangedResponse, (401, 404, 409, 422, 503)),
    "delete": _route(
        "Delete a workflow",
        "Cancels the workflow if it runs (its services are told to stop), then deletes it and its node "
        "records; answers `deleted`. 404 when it does not exist or is not the caller's.",
        ChangedResponse, (401, 404, 422, 503)),
}

EVENTS_DOC: dict[str, Any] = {
    "summary": "Follow a workflow (Server-Sent Events)",
    "description": (
        "A `text/event-stream` of the workflow's changes, each `data` a JSON object, in the order they "
        "happened, each exactly once:\n\n"
        "* `snapshot`: first, `{\"workflow\": <GET /workflows/{id}>, \"graph\": {\"name\", \"vertices\": "
        "[{index, node, container, operation, node_type, service, parents, children}], \"skipped\"}, "
        "\"nodes\": [<task, as in GET .../tasks>], \"seq\"}`;\n"
        "* `node`: a node's status changed (`index, node, status, previous, progress, details, attempt, "
        "task_id, error, started_at, finished_at, updated_at, retries, seq`), never dropped;\n"
        "* `progress`: a running node's progress or details changed (`index, node, status, progress, "
        "details, seq`), the latest at most every 0.25 s per node;\n"
        "* `workflow`: the workflow's status or counts changed (the `GET /workflows` summary);\n"
        "* `end`: the workflow ended (or was deleted: `status` `deleted`); the stream closes;\n"
        "* `error`: Redis went away; the stream closes.\n\n"
        "Auth: the bearer header, or `?api_key=` for browsers' `EventSource` (which cannot send headers). "
        "404 when the workflow does not exist or is not the caller's."),
}
EVENTS_EXAMPLE = ('event: snapshot\ndata: {"workflow": {"workflow_id": "wf-3f2a9c1d0b7e", "status": "running", '
                  '...}, "graph": {...}, "nodes": [...], "seq": 7}\n\n'
                  'event: node\ndata: {"index": 3, "node": "sink.LongProcess", "previous": "pending", '
                  '"status": "running", "progress": 0.0, "attempt": 1, "seq": 8, ...}\n\n'
                  'event: end\ndata: {"workflow_id": "wf-3f2a9c1d0b7e", "status": "complete", '
                  '"progress": 100.0, ...}\n\n')
EVENT_NAMES = ("snapshot", "node", "progress", "workflow", "end", "error")
EVENT_SCHEMA: dict[str, Any] = {  # one event of the stream; its `data` is a JSON object
    "type": "object", "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": list(EVENT_NAMES)},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"type": "object"}},
        "id": {"type": "string"}, "retry": {"type": "integer"},
    },
}
