"""HTTP API (compatible with AI-Effect's orchestrator, extended).

`create_app(settings)` builds the app; the store, settings, job queue, key ring
and control client are attached to `app.state` and reached through
dependencies, so tests build an app per Redis without patching anything.

Safe to expose: bodies are parsed strictly (`strictjson`) and limited in size
(`limits`), ids follow `ids`, dockerinfo hosts the egress policy (`egress`),
and every workflow route shows a caller only its own workflows (`auth`).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any

import orjson
import redis
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from orchestrator.auth import PrincipalDep, current_principal, ensure_visible
from orchestrator.blueprint import BlueprintError, Graph
from orchestrator.connections import ReplicaAck, async_redis_client, persistence, redis_client
from orchestrator.control import ControlClient
from orchestrator.egress import services_policy
from orchestrator.graphs import GraphCache
from orchestrator.ids import TASK_REF_PATTERN, USER_PATTERN, WORKFLOW_ID_PATTERN
from orchestrator.jobs import Jobs
from orchestrator.observe import api_event
from orchestrator.ops import install as install_ops
from orchestrator.readiness import workflow_warnings
from orchestrator.routedocs import APP_DESCRIPTION, ROUTES
from orchestrator.runner import stop_node_task
from orchestrator.schemas import ChangedResponse, SubmitRequest, SubmitResponse
from orchestrator.settings import Settings
from orchestrator.store import Store
from orchestrator.submission import (inline_parts, inline_submission, redis_trouble, submit_threads,
                                     submit_workflow)
from orchestrator.strictjson import StrictJSONRoute, validation_error
from orchestrator.events import events_router, install_ui
from orchestrator.views import summary_view, task_view, workflow_view
from taskservice.apikeys import KeyRing, Principal
from taskservice.limits import BodyLimit
from taskservice.models import TaskStatus

MAX_OFFSET = 10**9
BRIEF_FIELDS = ("status", "progress", "attempt", "task_id", "error")  # what a workflow view shows per node
def _json(content: dict[str, Any]) -> Response:
    """Prebuilt JSON for the read routes: their models (`routedocs`) document it, orjson writes it."""
    return Response(orjson.dumps(content), media_type="application/json")


# The dependencies are `async def`: FastAPI runs a plain `def` dependency in its threadpool, a
# thread hop per dependency per request (six for a submission) for what is an attribute read.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_jobs(request: Request) -> Jobs:
    return request.app.state.jobs


async def get_control(request: Request) -> ControlClient:
    return request.app.state.control


async def get_graphs(request: Request) -> GraphCache:
    return request.app.state.graphs


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
GraphsDep = Annotated[GraphCache, Depends(get_graphs)]
WorkflowId = Annotated[str, Path(pattern=WORKFLOW_ID_PATTERN, description="a workflow id (see `orchestrator.ids`)")]


def _visible(graphs: GraphCache, who: Principal, wid: str) -> tuple[dict[str, Any], Graph]:
    loaded = graphs.load(wid)
    ensure_visible(who, wid, loaded[0].get("user") if loaded else None, loaded is not None)
    assert loaded is not None
    return loaded


def _check_owner(store: Store, who: Principal, wid: str) -> None:
    """404 unless the workflow exists and the caller may see it (before any change is made)."""
    wid_field, owner = store.r.hmget(store.wf_key(wid), "workflow_id", "user")
    ensure_visible(who, wid, owner, wid_field is not None)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    policy = services_policy(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.control = ControlClient.from_settings(settings, timeout=min(settings.http_timeout, 3.0))
        app.state.aredis = async_redis_client(settings)
        yield
        await app.state.control.aclose()
        await app.state.aredis.aclose()

    telemetry = None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False}
    app = FastAPIOffline(title="Orchestrator API", version="1.0.0", lifespan=lifespan,
                         description=APP_DESCRIPTION, telemetry=telemetry)
    app.router.route_class = StrictJSONRoute
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, setting="ORCHESTRATOR_MAX_BODY_BYTES")
    app.state.settings = settings
    app.state.policy = policy
    app.state.keyring = KeyRing.from_settings(settings.api_key, settings.api_keys)
    app.state.store = Store(redis_client(settings), settings.prefix)
    app.state.graphs = GraphCache(app.state.store)
    app.state.jobs = Jobs(app.state.store, redis_client(settings, decode_responses=False), settings)
    app.state.replica_ack = ReplicaAck(settings.replica_ack_timeout)
    app.state.inline = inline_parts(settings)
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.exception_handler(BlueprintError)
    async def blueprint_error(_: Request, exc: BlueprintError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.to_dict(), "field": exc.field})

    @app.exception_handler(redis.RedisError)
    async def redis_down(_: Request, exc: redis.RedisError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": f"Redis unavailable: {type(exc).__name__}"})

    @app.get("/health", **ROUTES["health"])
    def health(store: StoreDep) -> JSONResponse:
        """Liveness and Redis; `egress` says whether the services policy is the default or configured."""
        egress = policy.describe()
        try:
            store.r.ping()
            kept = persistence(store.r)
        except redis.RedisError as exc:
            return JSONResponse(status_code=503, content={"status": "unavailable", "redis": type(exc).__name__,
                                                          "egress": egress})
        return JSONResponse({"status": "ok", "redis": "ok", "redis_persistence": kept, "egress": egress,
                             "allowed_services": "default" if policy.default else "configured"})

    auth = [Depends(current_principal)]

    @app.post("/workflows", status_code=201, response_model=SubmitResponse, dependencies=auth, **ROUTES["submit"])
    async def submit(body: SubmitRequest, request: Request, store: StoreDep,
                     jobs: Annotated[Jobs, Depends(get_jobs)], settings: SettingsDep, graphs: GraphsDep,
                     who: PrincipalDep) -> Response:
        """A small blueprint is stored right here (about a millisecond); a big one on a thread, so its
        parsing never holds the event loop (see `submission.INLINE_NODES`)."""
        replica_ack = request.app.state.replica_ack
        if inline_submission(body, replica_ack):
            inline_store, inline_jobs = request.app.state.inline
            try:
                made = submit_workflow(body, who, store=inline_store, jobs=inline_jobs, settings=settings,
                                       policy=policy, replica_ack=replica_ack, graphs=graphs)
            except redis.RedisError:
                redis_trouble()
                raise
        else:
            made = await asyncio.get_running_loop().run_in_executor(submit_threads, partial(
                submit_workflow, body, who, store=store, jobs=jobs, settings=settings, policy=policy,
                replica_ack=replica_ack, graphs=graphs))
        return Response(orjson.dumps(made.model_dump(mode="json")), status_code=201, media_type="application/json")

    @app.get("/workflows", dependencies=auth, **ROUTES["list"])
    def list_workflows(store: StoreDep, who: PrincipalDep, status: TaskStatus | None = None,
                       user: Annotated[str | None, Query(pattern=USER_PATTERN,
                                                         description="only this user's workflows")] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> Response:
        """Workflows newest first; a `user` sees only its own, an admin all (or one user's with `?user=`)."""
        if not who.is_admin:
            if user is not None and user != who.user:
                return _json({"workflows": [], "total": 0, "offset": offset, "limit": limit})
            user = who.user or ""
        ids, total = store.list_ids(status.value if status else None, offset, limit, user=user)
        names = ("workflow_id", "status", "created_at", "started_at", "finished_at", "updated_at", "error",
                 "done", "total", "name", "user")
        pipe = store.r.pipeline(transaction=False)
        for wid in ids:
            pipe.hmget(store.wf_key(wid), *names)
        out = []
        for wid, row in zip(ids, pipe.execute()):
            if row[0] is None:  # expired; maintenance drops its index entry
                continue
            out.append(summary_view(dict(zip(names, row))))
        return _json({"workflows": out, "total": total, "offset": offset, "limit": limit})

    @app.get("/workflows/{workflow_id}", dependencies=auth, **ROUTES["status"])
    def get_workflow(workflow_id: WorkflowId, store: StoreDep, graphs: GraphsDep, who: PrincipalDep,
                     request: Request, nodes: Annotated[bool, Query(description="include the per-node list")] = True
                     ) -> Response:
        """The workflow; `?nodes=false` leaves out the per-node list (cheap for big workflows)."""
        wf, graph = _visible(graphs, who, workflow_id)
        if not nodes:
            failed = wf.get("failed_node")
            err = store.r.hget(store.node_key(workflow_id, failed), "error") if failed is not None else None
            return _json(workflow_view(wf, graph, None, err))
        pipe = store.r.pipeline(transaction=False)
        for i in range(len(graph.vertices)):  # the small fields only: never the payloads
            pipe.hmget(store.node_key(workflow_id, i), *BRIEF_FIELDS, "scheduled")
        rows = [dict(zip((*BRIEF_FIELDS, "scheduled"), row)) for row in pipe.execute()]
        view = workflow_view(wf, graph, [{k: r[k] for k in BRIEF_FIELDS} for r in rows])
        view["warnings"] = workflow_warnings(store.r, request.app.state.workers, settings, wf, rows,
                                             store.dedicated_key(workflow_id))
        return _json(view)

    @app.get("/workflows/{workflow_id}/tasks", dependencies=auth, **ROUTES["tasks"])
    def list_tasks(workflow_id: WorkflowId, store: StoreDep, graphs: GraphsDep, who: PrincipalDep,
                   status: Annotated[TaskStatus | None, Query(description="only nodes in this status")] = None,
                   offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                   limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Response:
        """Node runs in blueprint order, a page at a time (`offset`, `limit`, `status`). Each payload
        appears once: a node fed by others names them in `inputs_from` instead of repeating their outputs
        (`GET .../tasks/{node}` has its `inputs`)."""
        wf, graph = _visible(graphs, who, workflow_id)
        n = len(graph.vertices)
        if status is None:
            indexes = list(range(min(offset, n), min(offset + limit, n)))
            total = n
        else:
            pipe = store.r.pipeline(transaction=False)
            for i in range(n):
                pipe.hget(store.node_key(workflow_id, i), "status")
            matching = [i for i, s in enumerate(pipe.execute()) if (s or "pending") == status.value]
            total = len(matching)
            indexes = matching[offset:offset + limit]
        pipe = store.r.pipeline(transaction=False)
        for i in indexes:
            pipe.hgetall(store.node_key(workflow_id, i))
        rows = pipe.execute() if indexes else []
        roots = [row for i, row in zip(indexes, rows) if not graph.vertices[i].parents and row.get("task_id")]
        if roots:  # a root's inputs are the workflow's, kept once in its spec
            spec = store.spec(workflow_id)
            inputs = json.dumps([x for x in ((spec[1] if spec else {}).get("inputs") or []) if x is not None])
            for row in roots:
                row.setdefault("inputs", inputs)
        nxt = offset + len(indexes)
        return _json({"workflow_id": workflow_id, "total": total, "offset": offset, "limit": limit,
                "next_offset": nxt if nxt < total else None,
                       "tasks": [task_view(workflow_id, wf, graph, i, row, inputs=False)
                                 for i, row in zip(indexes, rows)]})

    @app.get("/workflows/{workflow_id}/tasks/{task_id}", dependencies=auth, **ROUTES["task"])
    def get_task(workflow_id: WorkflowId, store: StoreDep, graphs: GraphsDep, who: PrincipalDep,
                 task_id: Annotated[str, Path(pattern=TASK_REF_PATTERN,
                                              description="task id, node name (container.operation) or index")]
                 ) -> Response:
        """One node run, with its inputs and output."""
        wf, graph = _visible(graphs, who, workflow_id)
        i: int | None = None
        if task_id.isdigit() and int(task_id) < len(graph.vertices):
            i = int(task_id)
        elif (v := graph.by_name(task_id)) is not None:
            i = v.index
        else:
            pipe = store.r.pipeline(transaction=False)
            for j in range(len(graph.vertices)):
                pipe.hget(store.node_key(workflow_id, j), "task_id")
            for j, tid in enumerate(pipe.execute()):
                if tid == task_id:
                    i = j
                    break
        if i is None:
            for j in range(len(graph.vertices)):  # a task id never recorded yet (pending node)
                if task_view(workflow_id, wf, graph, j, {})["task_id"] == task_id:
                    i = j
                    break
        if i is None:
            raise HTTPException(404, f"task {task_id!r} not found in workflow {workflow_id!r}")
        return _json(task_view(workflow_id, wf, graph, i, store.node(workflow_id, i)))

    async def _stop_all(store: Store, control: ControlClient, wid: str, nodes: list[int]) -> None:
        await asyncio.gather(*(stop_node_task(store, control, settings, wid, i) for i in nodes),
                             return_exceptions=True)

    @app.post("/workflows/{workflow_id}/cancel", dependencies=auth, **ROUTES["cancel"])
    async def cancel(workflow_id: WorkflowId, store: StoreDep, settings: SettingsDep, who: PrincipalDep,
                     control: Annotated[ControlClient, Depends(get_control)]) -> ChangedResponse:
        _check_owner(store, who, workflow_id)
        code, status, to_stop = store.cancel(workflow_id, settings.retention_seconds)
        if code < 0:
            raise HTTPException(404, f"workflow {workflow_id!r} not found")
        if code == 0:
            raise HTTPException(409, f"workflow {workflow_id!r} is already {status}")
        await _stop_all(store, control, workflow_id, to_stop)
        api_event(store.r, settings.prefix, "cancelled", workflow_id, who.user, nodes_stopped=len(to_stop))
        return {"workflow_id": workflow_id, "status": status}

    @app.post("/workflows/{workflow_id}/retry", dependencies=auth, **ROUTES["retry"])
    def retry(workflow_id: WorkflowId, store: StoreDep, settings: SettingsDep, who: PrincipalDep,
              jobs: Annotated[Jobs, Depends(get_jobs)]) -> ChangedResponse:
        _check_owner(store, who, workflow_id)
        code, status, to_start = store.retry(workflow_id, settings.lease_ttl)
        if code < 0:
            raise HTTPException(404, f"workflow {workflow_id!r} not found")
        if code == 0:
            why = ("some nodes are still stopping" if status == "stopping"
                   else f"only failed or cancelled workflows can be retried (this one is {status})")
            raise HTTPException(409, f"workflow {workflow_id!r}: {why}")
        store.forget_spec(workflow_id)
        jobs.enqueue(workflow_id, to_start)
        api_event(store.r, settings.prefix, "retried", workflow_id, who.user, nodes_restarted=len(to_start))
        return {"workflow_id": workflow_id, "status": status}

    @app.delete("/workflows/{workflow_id}", dependencies=auth, **ROUTES["delete"])
    async def delete(workflow_id: WorkflowId, store: StoreDep, settings: SettingsDep, who: PrincipalDep,
                     control: Annotated[ControlClient, Depends(get_control)]) -> ChangedResponse:
        _check_owner(store, who, workflow_id)
        code, _, to_stop = store.cancel(workflow_id, settings.retention_seconds)
        if code < 0:
            raise HTTPException(404, f"workflow {workflow_id!r} not found")
        await _stop_all(store, control, workflow_id, to_stop)
        store.delete(workflow_id)
        api_event(store.r, settings.prefix, "deleted", workflow_id, who.user)
        return {"workflow_id": workflow_id, "status": "deleted"}

    app.include_router(events_router())
    install_ui(app)
    install_ops(app, auth)  # /workers, /ready, /metrics
    return app
