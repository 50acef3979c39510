"""Push for workflows: `GET /workflows/{id}/events` (Server-Sent Events) and the `/ui` dashboard.

How the stream works:

1. The API subscribes (redis.asyncio) to the workflow's channel
   `{prefix}:events:{wid}` and waits for Redis to confirm the subscription.
2. It reads a snapshot of the workflow and all its nodes in one MULTI, with the
   workflow's `seq`.
3. Every script of `store.py` that changes a node or the workflow publishes a
   message, in the order of the changes, numbered by `seq` while someone is
   subscribed; messages numbered at or below the snapshot's `seq` are already
   in the snapshot and are dropped. So a subscriber sees every later change
   exactly once, in order.

Events (each `data` is JSON):

=============  ==============================================================
`snapshot`     `{"workflow": <GET /workflows/{id}>, "graph": {"name", "vertices":
               [{index, node, container, operation, node_type, service, parents,
               children}]}, "nodes": [<GET /workflows/{id}/tasks/{node}>...], "seq"}`
`node`         a node's state changed: `{index, node, status, previous, progress,
               details, attempt, task_id, error, started_at, finished_at, updated_at,
               retries, seq}` - never coalesced or dropped
`progress`     a running node's progress or details (phase, message) changed:
               `{index, node, status, progress, details, seq}` - at most one per node
               every `THROTTLE` seconds (the latest)
`workflow`     the workflow's status or counts changed: the `GET /workflows` summary
`end`          the workflow reached a terminal state (complete/failed/cancelled)
               and none of its nodes is still stopping (or `END_GRACE` passed), or
               it was deleted (`status: "deleted"`); the stream closes after it
`error`        Redis went away; the stream closes after it
=============  ==============================================================

With `ORCHESTRATOR_API_KEY(S)` set, the route takes the bearer header or the
same key as `?api_key=` (browsers' `EventSource` cannot send headers; prefer
the header elsewhere, as query strings end up in access logs). A `user` can
follow only its own workflows (another's answers 404).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import redis
import redis.asyncio as aredis
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sse_starlette.sse import EventSourceResponse

from orchestrator.auth import current_principal_or_query, ensure_visible
from orchestrator.blueprint import Graph
from orchestrator.ids import WORKFLOW_ID_PATTERN
from orchestrator.readiness import stalled_warnings
from orchestrator.routedocs import EVENT_SCHEMA, EVENTS_DOC, EVENTS_EXAMPLE
from orchestrator.store import Store
from orchestrator.strictjson import StrictJSONRoute
from orchestrator.views import num as _num
from orchestrator.views import summary_view as _summary
from orchestrator.views import progress_of, task_view, workflow_view
from taskservice.apikeys import Principal

THROTTLE = 0.25      # seconds between two progress events of one node
WARNING_CHECK = 2.0  # seconds between two no-worker checks of a stalled workflow
END_GRACE = 30.0     # after a terminal workflow state, wait this long at most for stopping nodes
FINAL = ("complete", "failed", "cancelled")
ACTIVE = ("running", "stopping", "paused")
STATIC = Path(__file__).resolve().parent / "static"
NODE_FIELDS = ("status", "progress", "attempt", "task_id", "error", "started_at", "finished_at", "updated_at",
               "retries", "details")
WF_FIELDS = ("status", "done", "total", "error", "started_at", "finished_at", "updated_at")


def _details(raw: str | None) -> dict[str, Any]:
    """A node's details (phase, message, ...) as stored: JSON text, or nothing yet."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _sse(event: str, data: dict[str, Any]) -> dict[str, str]:
    return {"event": event, "data": json.dumps(data, separators=(",", ":"))}


class WorkflowStream:
    """One subscriber's view of one workflow: snapshot, then ordered changes, then the end."""

    def __init__(self, r: aredis.Redis, store: Store, wid: str, who: Principal | None = None) -> None:
        self.who = who
        self.r = r
        self.store = store
        self.wid = wid
        self.pubsub = r.pubsub()
        self.seq = 0
        self.wf: dict[str, Any] = {}
        self.graph: Graph | None = None
        self.nodes: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.check_warnings: Callable[[], Awaitable[list[str]]] | None = None  # set by the route

    async def open(self) -> dict[str, Any]:
        """Subscribe, then read the snapshot; 404 if the workflow does not exist."""
        await self.pubsub.subscribe(self.store.events_channel(self.wid))
        deadline = time.monotonic() + 5
        while True:  # SUBSCRIBE is effective once confirmed: only then is the snapshot safe to read
            msg = await self.pubsub.get_message(timeout=1.0)
            if msg is not None and msg["type"] == "subscribe":
                break
            if time.monotonic() > deadline:
                raise redis.TimeoutError("no subscribe confirmation from Redis")
        spec_raw, owner = await self.r.hmget(self.store.wf_key(self.wid), "spec", "user")
        if spec_raw is None:
            raise HTTPException(404, f"workflow {self.wid!r} not found")
        if self.who is not None:
            ensure_visible(self.who, self.wid, owner)
        self.graph = Graph.from_dict(json.loads(spec_raw)["graph"])
        n = len(self.graph.vertices)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.store.wf_key(self.wid))
            for i in range(n):
                pipe.hgetall(self.store.node_key(self.wid, i))
            res = await pipe.execute()
        wf, nodes = res[0], res[1:]
        if not wf or "spec" not in wf:
            raise HTTPException(404, f"workflow {self.wid!r} not found")
        self.seq = int(wf.get("seq") or 0)
        self.wf = {k: v for k, v in wf.items() if k not in ("spec", "services_api_key")}
        self.nodes = [{k: nd.get(k) for k in NODE_FIELDS} for nd in nodes]
        g = self.graph
        vertices = [{"index": v.index, "node": v.name, "container": v.container, "operation": v.operation,
                     "node_type": v.node_type, "service": v.endpoint.base_url if v.endpoint else None,
                     "parents": v.parents, "children": v.children} for v in g.vertices]
        if self.check_warnings is not None:
            self.warnings = await self.check_warnings()
        return {"workflow": {**workflow_view(wf, g, nodes), "warnings": self.warnings},
                "graph": {"name": g.name, "vertices": vertices, "skipped": g.skipped},
                "nodes": [task_view(self.wid, wf, g, i, nd, inputs=False) for i, nd in enumerate(nodes)],
                "seq": self.seq}

    async def close(self) -> None:
        try:
            await self.pubsub.aclose()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            pass

    # state -----------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        assert self.graph is not None
        view = _summary(self.wf)
        total = len(self.graph.vertices)
        done, progress = progress_of(self.nodes, total)
        view.update(name=self.graph.name, nodes_done=done, nodes_total=total,
                    nodes_complete=int(self.wf.get("done") or 0), progress=progress,
                    warnings=self.warnings)
        return view

    def stalled(self) -> bool:
        """Live, yet no node at work: the moment a missing worker would show."""
        return self.wf.get("status") in ("pending", "running") and not any(
            n.get("status") in ACTIVE for n in self.nodes)

    def ended(self) -> bool:
        return self.wf.get("status") in FINAL and not any(n.get("status") in ACTIVE for n in self.nodes)

    def node_name(self, i: int) -> str:
        assert self.graph is not None
        return self.graph.vertices[i].name

    # the stream ---------------------------------------------------------------
    async def events(self, snapshot: dict[str, Any]) -> AsyncIterator[dict[str, str]]:
        yield _sse("snapshot", snapshot)
        if self.ended():
            yield _sse("end", self.summary())
            return
        pending: dict[int, dict[str, Any]] = {}   # coalesced progress, per node
        flushed: dict[int, float] = {}            # when each node's last progress event went out
        end_by: float | None = None
        warned_at = time.monotonic()
        while True:
            now = time.monotonic()
            if self.check_warnings is not None and now - warned_at >= WARNING_CHECK and self.stalled():
                warned_at = now  # no node at work: is it because no worker runs? (say so once it changes)
                warnings = await self.check_warnings()
                if warnings != self.warnings:
                    self.warnings = warnings
                    yield _sse("workflow", self.summary())
            elif self.warnings and not self.stalled():
                self.warnings = []
                yield _sse("workflow", self.summary())
            timeout = 1.0
            if pending:
                timeout = max(0.0, min(flushed.get(i, 0.0) + THROTTLE for i in pending) - now)
            if end_by is not None:
                timeout = max(0.0, min(timeout, end_by - now))
            try:
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
            except (redis.RedisError, OSError) as exc:
                yield _sse("error", {"error": f"Redis unavailable: {exc}"})
                return
            if msg is not None and msg.get("type") == "message":
                data = json.loads(msg["data"])
                kind = data.get("t")
                if kind == "deleted":
                    yield _sse("end", {**self.summary(), "status": "deleted"})
                    return
                if int(data.get("seq") or 0) <= self.seq:
                    continue  # already in the snapshot
                self.seq = int(data["seq"])
                if kind == "node":
                    i = int(data["i"])
                    prev = self.nodes[i]
                    cur = {k: data.get(k) for k in NODE_FIELDS}
                    self.nodes[i] = cur
                    details = _details(cur["details"])
                    if cur["status"] != prev.get("status"):
                        pending.pop(i, None)
                        yield _sse("node", {"index": i, "node": self.node_name(i), "previous": prev.get("status"),
                                            **cur, "progress": _num(cur["progress"]), "details": details,
                                            "attempt": int(_num(cur["attempt"], 1)),
                                            "retries": int(_num(cur["retries"])), "seq": self.seq})
                    elif cur["progress"] != prev.get("progress") or cur["details"] != prev.get("details"):
                        pending[i] = {"index": i, "node": self.node_name(i), "status": cur["status"],
                                      "progress": _num(cur["progress"]), "details": details, "seq": self.seq}
                elif kind == "wf":
                    for k in WF_FIELDS:
                        self.wf[k] = data.get(k)
                    yield _sse("workflow", self.summary())
            now = time.monotonic()
            for i in sorted(pending):
                if now - flushed.get(i, 0.0) >= THROTTLE:
                    flushed[i] = now
                    yield _sse("progress", pending.pop(i))
            if self.ended():
                for i in sorted(pending):
                    yield _sse("progress", pending.pop(i))
                yield _sse("end", self.summary())
                return
            if self.wf.get("status") in FINAL and end_by is None:
                end_by = now + END_GRACE  # nodes still stopping: give them a moment to end
            if end_by is not None and now >= end_by:
                yield _sse("end", self.summary())
                return


def events_router() -> APIRouter:
    router = APIRouter(tags=["events"], route_class=StrictJSONRoute)
    error = {"content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {}}}}}}

    @router.get("/workflows/{workflow_id}/events", response_class=EventSourceResponse,
                **EVENTS_DOC,
                responses={200: {"content": {"text/event-stream": {"schema": EVENT_SCHEMA,
                                                                   "example": EVENTS_EXAMPLE}},
                                 "description": "the event stream"},
                           401: {**error, "description": "missing or wrong token"},
                           404: {**error, "description": "no such workflow (or not yours)"},
                           422: {**error, "description": "invalid workflow id"},
                           503: {**error, "description": "Redis unavailable"}})
    async def workflow_events(workflow_id: Annotated[str, PathParam(pattern=WORKFLOW_ID_PATTERN)], request: Request,
                              who: Annotated[Principal, Depends(current_principal_or_query)],
                              ) -> EventSourceResponse:
        """Server-Sent Events: `snapshot` first, then `node`, `progress` and `workflow` changes in
        order, then `end` when the workflow has ended. Auth: bearer header or `?api_key=`."""
        stream = WorkflowStream(request.app.state.aredis, request.app.state.store, workflow_id, who)
        state = request.app.state
        stream.check_warnings = lambda: asyncio.to_thread(stalled_warnings, state.store, state.workers, state.settings,
                                                          workflow_id)
        try:
            snapshot = await stream.open()
        except BaseException:
            await stream.close()
            raise

        async def gen() -> AsyncIterator[dict[str, str]]:
            try:
                async for item in stream.events(snapshot):
                    yield item
            finally:
                await stream.close()

        return EventSourceResponse(gen(), ping=15, headers={"Cache-Control": "no-cache",
                                                            "X-Accel-Buffering": "no"})

    return router


def install_ui(app: FastAPI) -> None:
    """`/ui`: the dashboard (plain HTML + JS + SVG from `orchestrator/static/`, no build step)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    @router.get("/ui")
    def ui() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
