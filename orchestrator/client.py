"""A typed client for the orchestrator API: submit, watch, steer.

    from orchestrator.client import OrchestratorClient

    with OrchestratorClient("http://127.0.0.1:8000", api_key=None) as client:
        wid = client.submit(blueprint, dockerinfo, parameters={"left": {"duration": 5}}).workflow_id
        final = client.wait(wid, on_progress=lambda live: print(live.progress, live.status))
        for task in client.tasks(wid):
            print(task.node, task.status, task.output)

`wait` and `events` follow `GET /workflows/{id}/events` (Server-Sent Events):
a snapshot first, then every node change as it happens, then `end` - no polling.
`LiveWorkflow` folds that stream into the current state (used by `wait`, the CLI
`--watch` and the tests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from taskservice.client import parse_sse

FINAL = frozenset({"complete", "failed", "cancelled"})


class OrchestratorError(Exception):
    """An error answer from the orchestrator API, with its HTTP status and body."""

    def __init__(self, status_code: int, body: Any) -> None:
        detail = body.get("detail", body) if isinstance(body, dict) else body
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.body = body


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class SubmitResult(_Model):
    workflow_id: str
    status: str


class WorkflowSummary(_Model):
    """One row of `GET /workflows`."""

    workflow_id: str
    status: str | None = None
    name: str | None = None
    user: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    error: str | None = None
    nodes_done: int = 0
    nodes_total: int = 0
    progress: float = 0.0


class NodeBrief(_Model):
    node: str
    status: str | None = None
    progress: float = 0.0
    attempt: int = 1


class Workflow(WorkflowSummary):
    """`GET /workflows/{id}`: the summary plus per-node states."""

    nodes_complete: int = 0
    running_nodes: list[dict[str, Any]] = []
    failed_node: dict[str, Any] | None = None
    nodes: list[NodeBrief] = []
    skipped_nodes: list[str] = []
    warnings: list[str] = []


class Task(_Model):
    """One node run, `GET /workflows/{id}/tasks/{task_id or node}`."""

    task_id: str
    workflow_id: str
    node: str
    index: int
    container: str
    operation: str
    service: str | None = None
    status: str = "pending"
    progress: float = 0.0
    details: dict[str, Any] = {}
    attempt: int = 1
    retries: int = 0
    last_error: str | None = None
    upstream: list[str] = []
    inputs: list[Any] = []       # in a list of tasks, non-root nodes name their parents instead:
    inputs_from: list[str] = []  # each payload appears once per answer
    user: str | None = None
    output: Any = None
    error: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None


@dataclass
class Event:
    """One Server-Sent Event of `GET /workflows/{id}/events`."""

    event: str  # snapshot | node | progress | workflow | end | error
    data: dict[str, Any]


@dataclass
class NodeState:
    index: int
    node: str
    status: str = "pending"
    progress: float = 0.0
    attempt: int = 1
    task_id: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def note(self) -> str:
        """What the node says it is doing: its message, else its phase."""
        d = self.details or {}
        return str(d.get("message") or d.get("phase_description") or d.get("phase") or "")


@dataclass
class LiveWorkflow:
    """The current state of a workflow, folded from its event stream (`apply` each event)."""

    workflow_id: str
    status: str = "pending"
    name: str | None = None
    error: str | None = None
    nodes: list[NodeState] = field(default_factory=list)
    ended: bool = False
    last: Event | None = None
    warnings: list[str] = field(default_factory=list)  # e.g. no live worker to take the ready nodes

    @property
    def progress(self) -> float:
        """Percent of the workflow done, as the API says it: complete nodes plus running nodes' progress."""
        if not self.nodes:
            return 100.0 if self.status == "complete" else 0.0
        done = sum(1 for n in self.nodes if n.status == "complete")
        running = sum(n.progress for n in self.nodes if n.status in ("running", "stopping", "paused"))
        return round(100.0 * (done + running / 100.0) / len(self.nodes), 2)

    def apply(self, ev: Event) -> None:
        self.last = ev
        d = ev.data
        if ev.event == "snapshot":
            wf = d["workflow"]
            self.status, self.name, self.error = wf.get("status") or "pending", wf.get("name"), wf.get("error")
            self.warnings = list(wf.get("warnings") or [])
            self.nodes = [NodeState(index=t["index"], node=t["node"], status=t.get("status") or "pending",
                                    progress=float(t.get("progress") or 0), attempt=int(t.get("attempt") or 1),
                                    task_id=t.get("task_id"), error=t.get("error"),
                                    details=t.get("details") or {}, started_at=t.get("started_at"),
                                    finished_at=t.get("finished_at")) for t in d["nodes"]]
        elif ev.event in ("node", "progress"):
            n = self.nodes[int(d["index"])]
            n.status = d.get("status") or n.status
            n.progress = float(d.get("progress") or 0)
            if isinstance(d.get("details"), dict):
                n.details = d["details"]
            if ev.event == "node":
                n.attempt = int(d.get("attempt") or n.attempt)
                n.task_id, n.error = d.get("task_id"), d.get("error")
                n.started_at, n.finished_at = d.get("started_at"), d.get("finished_at")
        elif ev.event in ("workflow", "end"):
            self.status = d.get("status") or self.status
            self.error = d.get("error")
            if "warnings" in d:
                self.warnings = list(d.get("warnings") or [])
            if ev.event == "end":
                self.ended = True


class OrchestratorClient:
    """Synchronous client of the orchestrator API (`api_key`: its bearer token, if any)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OrchestratorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise OrchestratorError(response.status_code, body)
        return body

    # submitting ------------------------------------------------------------------
    def submit(self, blueprint: dict[str, Any] | str | Path, dockerinfo: dict[str, Any] | list[Any] | str | Path,
               inputs: list[dict[str, Any]] | None = None, parameters: dict[str, dict[str, Any]] | None = None,
               workflow_id: str | None = None, *, options: dict[str, Any] | None = None,
               services_api_key: str | None = None) -> SubmitResult:
        """Submit a workflow. `blueprint`/`dockerinfo` may be dicts or paths of JSON files."""
        body: dict[str, Any] = {"blueprint": _load_json(blueprint), "dockerinfo": _load_json(dockerinfo),
                                "inputs": inputs or [], "parameters": parameters or {}}
        if workflow_id:
            body["workflow_id"] = workflow_id
        if options:
            body["options"] = options
        if services_api_key:
            body["services_api_key"] = services_api_key
        return SubmitResult.model_validate(self._call("POST", "/workflows", json=body))

    # reading ---------------------------------------------------------------------
    def status(self, workflow_id: str) -> Workflow:
        return Workflow.model_validate(self._call("GET", f"/workflows/{_seg(workflow_id)}"))

    def tasks(self, workflow_id: str) -> list[Task]:
        """Every node run, read a page at a time."""
        out: list[Task] = []
        offset: int | None = 0
        while offset is not None:
            body = self._call("GET", f"/workflows/{_seg(workflow_id)}/tasks", params={"offset": offset})
            out += [Task.model_validate(t) for t in body["tasks"]]
            offset = body.get("next_offset")
        return out

    def task(self, workflow_id: str, task_id: str) -> Task:
        """One node run, by task id, node name (`container.operation`) or index."""
        return Task.model_validate(self._call("GET", f"/workflows/{_seg(workflow_id)}/tasks/{_seg(task_id)}"))

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[WorkflowSummary]:
        """Workflows, newest first (optionally only those in `status`)."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        body = self._call("GET", "/workflows", params=params)
        return [WorkflowSummary.model_validate(w) for w in body["workflows"]]

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def workers(self) -> list[dict[str, Any]]:
        """Live workers: id, host, pid, queues, started_at, last_heartbeat, nodes (driven now), nodes_done."""
        return self._call("GET", "/workers")["workers"]

    # steering --------------------------------------------------------------------
    def cancel(self, workflow_id: str) -> dict[str, Any]:
        """Cancel: pending nodes are cancelled, running ones stopped on their services."""
        return self._call("POST", f"/workflows/{_seg(workflow_id)}/cancel")

    def retry(self, workflow_id: str) -> dict[str, Any]:
        """Run the failed and cancelled nodes of a failed or cancelled workflow again."""
        return self._call("POST", f"/workflows/{_seg(workflow_id)}/retry")

    def delete(self, workflow_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/workflows/{_seg(workflow_id)}")

    # watching --------------------------------------------------------------------
    def events(self, workflow_id: str) -> Iterator[Event]:
        """The workflow's Server-Sent Events: `snapshot`, then changes, then `end` (the iterator stops)."""
        with self._http.stream("GET", f"/workflows/{_seg(workflow_id)}/events",
                               timeout=httpx.Timeout(self._http.timeout.connect or 10, read=None)) as response:
            if response.status_code >= 400:
                response.read()
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                raise OrchestratorError(response.status_code, body)
            for name, data in parse_sse(response.iter_lines()):
                yield Event(name, data)
                if name in ("end", "error"):
                    return

    def watch(self, workflow_id: str) -> Iterator[LiveWorkflow]:
        """The workflow's state after each event, until it ends."""
        live = LiveWorkflow(workflow_id)
        for ev in self.events(workflow_id):
            live.apply(ev)
            yield live

    def wait(self, workflow_id: str, *, timeout: float | None = None,
             on_progress: Callable[[LiveWorkflow], None] | None = None) -> Workflow:
        """Block until the workflow ends, calling `on_progress` after every event; the final status.

        Reconnects if the stream drops; TimeoutError after `timeout` seconds (checked between events,
        which arrive at least every few seconds while something runs)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                for live in self.watch(workflow_id):
                    if on_progress is not None:
                        on_progress(live)
                    if live.ended:
                        return self.status(workflow_id)
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"workflow {workflow_id} still {live.status} after {timeout} s")
            except (httpx.TransportError, httpx.StreamError):
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"workflow {workflow_id} did not end within {timeout} s") from None
                time.sleep(0.5)
            wf = self.status(workflow_id)
            if wf.status in FINAL:
                return wf


def _seg(value: str) -> str:
    """An id as one URL path segment (percent-encoded, `/` included)."""
    return quote(str(value), safe="")


def _load_json(value: Any) -> Any:
    if isinstance(value, (str, Path)):
        return json.loads(Path(value).read_text())
    return value
